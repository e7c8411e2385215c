package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// With Redis unreachable every request is allowed, counted, and one warning
// is logged (not one per request), without the key.
func TestFailOpenWhenRedisIsUnreachable(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: closedPort(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer client.Close()
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	lim := NewFailOpen(New(client, "unreachable"), slog.New(slog.NewTextHandler(&logs, nil)), reg)
	l := Limit{Name: "submissions per email", Rate: 1, Per: time.Hour}
	const key = "ana@example.org"
	for range 5 {
		if err := lim.Allow(t.Context(), l, key); err != nil {
			t.Fatalf("Allow with Redis down = %v, want nil (fail open)", err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted float64
	for _, f := range families {
		if f.GetName() == "consulta_ratelimit_failopen_total" {
			counted = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if counted != 5 {
		t.Errorf("consulta_ratelimit_failopen_total = %v, want 5", counted)
	}
	if n := strings.Count(logs.String(), "rate limits not enforced"); n != 1 {
		t.Errorf("%d warnings logged, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), "example.org") {
		t.Errorf("the log names the key: %s", logs.String())
	}

	// The caller's own cancellation is not Redis failing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := lim.Allow(ctx, l, key); err == nil {
		t.Error("a cancelled request was allowed")
	}
}

// With Redis up, FailOpen refuses exactly as the Limiter does.
func TestFailOpenStillRefuses(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	f := NewFailOpen(lim, nil, nil)
	l := Limit{Name: "one", Rate: 1, Per: time.Hour}
	if err := f.Allow(t.Context(), l, "k"); err != nil {
		t.Fatal(err)
	}
	var ex *Exceeded
	if err := f.Allow(t.Context(), l, "k"); !errors.As(err, &ex) {
		t.Fatalf("second request = %v, want *Exceeded", err)
	}
}
