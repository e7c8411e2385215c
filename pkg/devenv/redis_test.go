package devenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisThrowaway starts a real redis-server, uses it, stops it and checks
// that nothing is left.
func TestRedisThrowaway(t *testing.T) {
	t.Parallel()
	if _, err := findRedisServer(); err != nil {
		t.Skipf("skipping: cannot start a throwaway Redis here: %v", err)
	}
	ctx := t.Context()
	url, stop, err := StartRedis(ctx, testLogger(t))
	if err != nil {
		t.Fatalf("StartRedis: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	if !strings.HasPrefix(url, "redis://127.0.0.1:") || strings.Contains(url, ":6379/") {
		t.Errorf("url = %q, want a throwaway server on a free port of 127.0.0.1", url)
	}

	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v; want v", v, err)
	}
	cfg, err := rdb.ConfigGet(ctx, "dir").Result()
	if err != nil {
		t.Fatal(err)
	}
	dir := cfg["dir"]
	if !strings.HasPrefix(filepath.Base(dir), "consulta-redis-") {
		t.Fatalf("redis dir = %q, want a throwaway directory", dir)
	}
	if save, _ := rdb.ConfigGet(ctx, "save").Result(); save["save"] != "" {
		t.Errorf("save = %q, want persistence off", save["save"])
	}

	rdb.Close()

	stop()
	stopped = true
	stop() // a second call does nothing
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after stop, %s: %v; want it removed", dir, err)
	}
	if err := pingRedis(ctx, opts.Addr, time.Second); err == nil {
		t.Errorf("after stop, the server still answers PING")
	}
}

func TestRedisFromEnv(t *testing.T) {
	t.Setenv("CONSULTA_REDIS_THROWAWAY", "")
	t.Setenv("REDIS_URL", "redis://cache.example:6379/3")
	url, stop, err := Redis(t.Context(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if url != "redis://cache.example:6379/3" {
		t.Errorf("url = %q, want REDIS_URL", url)
	}
}

func TestRedisLocal(t *testing.T) {
	t.Setenv("CONSULTA_REDIS_THROWAWAY", "")
	t.Setenv("REDIS_URL", "")
	if err := pingRedis(t.Context(), LocalRedisAddr, time.Second); err != nil {
		t.Skipf("skipping: no local Redis at %s: %v", LocalRedisAddr, err)
	}
	url, stop, err := Redis(t.Context(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if url != "redis://127.0.0.1:6379/0" {
		t.Errorf("url = %q, want the local server", url)
	}
}
