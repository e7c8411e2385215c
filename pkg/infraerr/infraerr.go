// Package infraerr recognises failures of the infrastructure a request
// depends on (Postgres or Redis unreachable, a connection refused, reset or
// timed out, a server shutting down), as opposed to bugs. The gRPC edge
// answers them with codes.Unavailable and a retry hint instead of
// codes.Internal, so that clients retry (safely, with their idempotency
// key) rather than give up.
package infraerr

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Unavailable reports whether err says that a dependency could not be
// reached or dropped the connection, so that the same request may succeed
// when retried later.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true // no connection could be made: nothing was done
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's own clock ran out (context.DeadlineExceeded even
		// passes for a net.Error); the edge gives these their own codes.
		// pgx reports a deadline that passed while waiting for a connection
		// the same way, so that case answers DeadlineExceeded, retryable too.
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutting down, starting up
			pgErr.Code == "53300": // too many connections
			return true
		}
		return false // any other answer from the server is about the request
	}
	if pgconn.SafeToRetry(err) {
		return true // failed before anything was sent
	}
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true // dial failures and network timeouts
	}
	return false
}
