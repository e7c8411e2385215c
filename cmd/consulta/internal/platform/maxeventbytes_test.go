package platform

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/consulta-platform/consulta/pkg/outbox"
)

// The event limit is the configured one (or the default), lowered to leave
// 4 KiB of headers under the NATS server's max_payload, with a warning; a
// server that reports no max_payload changes nothing.
func TestMaxEventBytes(t *testing.T) {
	const headroom = 4 << 10
	tests := []struct {
		name       string
		configured int
		serverMax  int64
		want       int
		lowered    bool
	}{
		{"unset: the default, below the server's 1 MiB", 0, 1 << 20, outbox.DefaultMaxEventBytes, false},
		{"negative: the default", -1, 1 << 20, outbox.DefaultMaxEventBytes, false},
		{"configured below the server's max", 64 << 10, 1 << 20, 64 << 10, false},
		{"configured at the server's max less the headroom", 1<<20 - headroom, 1 << 20, 1<<20 - headroom, false},
		{"configured above the server's max: lowered", 2 << 20, 1 << 20, 1<<20 - headroom, true},
		{"configured just over the headroom: lowered", 1<<20 - headroom + 1, 1 << 20, 1<<20 - headroom, true},
		{"unset, a server smaller than the default: lowered", 0, 512 << 10, 512<<10 - headroom, true},
		{"server max unknown: unchanged", 5 << 20, 0, 5 << 20, false},
		{"server max unknown, unset: the default", 0, 0, outbox.DefaultMaxEventBytes, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			if got := maxEventBytes(tt.configured, tt.serverMax, log); got != tt.want {
				t.Errorf("maxEventBytes(%d, %d) = %d, want %d", tt.configured, tt.serverMax, got, tt.want)
			}
			warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "max_payload")
			if warned != tt.lowered {
				t.Errorf("warning logged: %v, want %v (log: %q)", warned, tt.lowered, logs.String())
			}
		})
	}
}
