package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestOpenSizesThePool: the pool has the size asked for, the documented
// default when none is, and the setting wins over pool_max_conns in the URL.
func TestOpenSizesThePool(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	for _, tc := range []struct {
		url  string
		size int32
		want int32
	}{
		{dbURL, 0, postgres.DefaultMaxConns},
		{dbURL, 2, 2},
		{withSetting(dbURL, "pool_max_conns", "7"), 3, 3},
	} {
		pool, err := postgres.Open(context.Background(), tc.url, postgres.PoolConfig{MaxConns: tc.size})
		if err != nil {
			t.Fatal(err)
		}
		if got := pool.Config().MaxConns; got != tc.want {
			t.Errorf("MaxConns %d with %s: pool of %d, want %d", tc.size, tc.url, got, tc.want)
		}
		pool.Close()
	}
	if _, err := postgres.Open(context.Background(), dbURL, postgres.PoolConfig{MaxConns: -1}); err == nil {
		t.Error("a negative pool size was taken")
	}
}

// withSetting adds a setting to a connection string in URL or keyword form.
func withSetting(conn, key, value string) string {
	if u, err := url.Parse(conn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return conn + " " + key + "=" + value
}
