package infraerr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/consulta-platform/consulta/pkg/infraerr"
)

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Real failures to reach Postgres and Redis are Unavailable; answers about
// the request itself, and bugs, are not.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, pgErr := pgx.Connect(ctx, "postgres://consulta@"+closedAddr(t)+"/consulta?connect_timeout=2")
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1})
	defer rdb.Close()
	redisErr := rdb.Ping(ctx).Err()
	if pgErr == nil || redisErr == nil {
		t.Fatalf("connections to closed ports succeeded: %v, %v", pgErr, redisErr)
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"postgres connection refused", fmt.Errorf("store: %w", pgErr), true},
		{"redis connection refused", fmt.Errorf("limit: %w", redisErr), true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"no rows", pgx.ErrNoRows, false},
		{"caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"caller cancelled", context.Canceled, false},
		{"plain bug", errors.New("nil map"), false},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		if got := infraerr.Unavailable(tc.err); got != tc.want {
			t.Errorf("%s (%v): %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
