// Package postgres opens connection pools and runs work in transactions.
// Services share one pool per process; each uses only its own schema.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns is the pool size Open uses when PoolConfig.MaxConns is 0.
// A process in monolithic mode holds a connection for each request in
// flight and each consumer handling an event, plus the relays, the
// scheduler and the mailer; 20 leaves room for that and stays well under
// Postgres's default limit of 100 connections.
const DefaultMaxConns = 20

// PoolConfig sizes a pool.
type PoolConfig struct {
	// MaxConns is the largest number of connections the pool opens; 0 means
	// DefaultMaxConns. It overrides pool_max_conns in the URL. Nothing
	// deadlocks on a small pool (no transaction takes a second connection);
	// it only queues callers.
	MaxConns int32
}

// Open connects a pool to databaseURL and checks that the server answers.
func Open(ctx context.Context, databaseURL string, pc PoolConfig) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	switch {
	case pc.MaxConns < 0:
		return nil, fmt.Errorf("postgres: pool size %d: want a positive number", pc.MaxConns)
	case pc.MaxConns == 0:
		cfg.MaxConns = DefaultMaxConns
	default:
		cfg.MaxConns = pc.MaxConns
	}
	if cfg.MinConns > cfg.MaxConns {
		cfg.MinConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return pool, nil
}

// Beginner starts transactions: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx
// (which gives a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction that commits when fn returns nil and rolls
// back otherwise (also when fn panics). fn does its I/O through tx and
// nothing else: no query on another connection of the pool (with every
// connection held by a transaction waiting for another, none would come),
// and no network call (it would hold the connection and the locks for as
// long as the remote side takes).
func InTx(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
