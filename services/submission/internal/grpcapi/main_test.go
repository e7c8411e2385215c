package grpcapi

import (
	"testing"

	"github.com/consulta-platform/consulta/pkg/testenv"
)

// TestMain stops the throwaway servers testenv may have started.
func TestMain(m *testing.M) { testenv.Main(m) }
