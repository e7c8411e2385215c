package consumer_test

import (
	"testing"

	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
