// Package dbmigrate applies the embedded SQL migrations of each service to its
// own Postgres schema. Every service keeps its migration history in its schema
// (<service>.goose_db_version), so services can be migrated independently in
// microservices mode. Concurrent migrators are serialised by a Postgres
// advisory lock.
package dbmigrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/consulta-platform/consulta/migrations"
)

// Services lists the services that own a schema, in the order they are migrated.
func Services() []string {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		panic(fmt.Sprintf("embedded migrations unreadable: %v", err))
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// Up applies every pending migration of the given services (all of them when
// services is empty) to the database at databaseURL.
func Up(ctx context.Context, databaseURL string, log *slog.Logger, services ...string) error {
	if len(services) == 0 {
		services = Services()
	}
	known := Services()
	for _, s := range services {
		if !slices.Contains(known, s) {
			return fmt.Errorf("migrate: unknown service %q (known: %v)", s, known)
		}
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("migrate: parse database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	for _, s := range services {
		if err := upService(ctx, db, s, log); err != nil {
			return err
		}
	}
	return nil
}

func upService(ctx context.Context, db *sql.DB, service string, log *slog.Logger) error {
	// The version table lives in the schema, so the schema must exist first.
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{service}.Sanitize()); err != nil {
		return fmt.Errorf("migrate %s: create schema: %w", service, err)
	}
	sub, err := fs.Sub(migrations.FS, service)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(advisoryLockID(service)))
	if err != nil {
		return fmt.Errorf("migrate %s: locker: %w", service, err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithTableName(service+".goose_db_version"),
		goose.WithSessionLocker(locker),
	)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", service, err)
	}
	for _, r := range results {
		log.Info("migration applied", "service", service, "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// advisoryLockID gives each schema its own lock so that services migrate in
// parallel but never twice at once.
func advisoryLockID(service string) int64 {
	var h int64 = 0x636f6e73756c7461 // "consulta"
	for _, c := range service {
		h = h*31 + int64(c)
	}
	return h
}
