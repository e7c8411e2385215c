package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/devenv"
)

// RedisURL returns the URL of a Redis server for this test: REDIS_URL, the
// local server, or a throwaway one started once per test binary. Tests share
// it: keep out of each other's way with names from UniqueName (queues, keys),
// not by flushing or by database number.
func RedisURL(t testing.TB) string {
	t.Helper()
	u, err := redisServer()
	if err != nil {
		t.Fatalf("testenv: Redis: %v", err)
	}
	return u
}

var redisServer = sync.OnceValues(func() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, stop, err := devenv.Redis(ctx, logger)
	if err != nil {
		return "", err
	}
	onShutdown(stop)
	return u, nil
})
