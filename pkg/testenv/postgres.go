package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/migrations"
	"github.com/consulta-platform/consulta/pkg/dbmigrate"
	"github.com/consulta-platform/consulta/pkg/devenv"
)

// DatabaseURL returns the URL of a database of this test's own, with every
// service schema migrated, dropped when the test ends.
//
// The database is cloned from a template database whose name carries a hash
// of the embedded migrations, so a changed migration makes a new template.
// The first test binary that needs a template creates it; others wait for it.
// The server's user must be allowed to create databases, and the server's
// maintenance database "postgres" must accept connections (with DATABASE_URL
// too: the database that URL names is not used).
func DatabaseURL(t testing.TB) string {
	t.Helper()
	s, err := postgresServer()
	if err != nil {
		t.Fatalf("testenv: Postgres: %v", err)
	}
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+pgx.Identifier{s.template}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s from %s: %v", name, s.template, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return withDatabase(s.url, name)
}

// Pool returns a connection pool on a database of this test's own (see
// DatabaseURL), closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("testenv: pool: %v", err)
	}
	// Registered after the drop in DatabaseURL, so it runs before it.
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("testenv: pool: %v", err)
	}
	return pool
}

// pgServer is the Postgres server of this test binary.
type pgServer struct {
	url      string        // any database on the server
	admin    *pgxpool.Pool // on the maintenance database "postgres"
	template string
}

// postgresServer finds or starts the server and makes sure the template
// exists, once per test binary.
var postgresServer = sync.OnceValues(func() (*pgServer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	serverURL, stop, err := devenv.Postgres(ctx, logger, devenv.PostgresOptions{Database: "postgres"})
	if err != nil {
		return nil, err
	}
	onShutdown(stop)
	cfg, err := pgxpool.ParseConfig(withDatabase(serverURL, "postgres"))
	if err != nil {
		return nil, fmt.Errorf("parse the server's URL: %w", err)
	}
	cfg.MaxConns = 4
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the maintenance database: %w", err)
	}
	onShutdown(admin.Close) // before stop: shutdown runs in reverse order
	template, err := ensureTemplate(ctx, admin, serverURL)
	if err != nil {
		return nil, err
	}
	return &pgServer{url: serverURL, admin: admin, template: template}, nil
})

// templateLockKey is the advisory lock, on the maintenance database, that
// serialises template creation across test binaries.
const templateLockKey = 0x74657374656e76 // "testenv"

// ensureTemplate creates and migrates the template database unless another
// test binary did. It builds under a temporary name and renames at the end,
// so a binary that dies half way never leaves a half-migrated template.
func ensureTemplate(ctx context.Context, admin *pgxpool.Pool, serverURL string) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	conn, err := admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("connect to the maintenance database: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("lock for template %s: %w", name, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLockKey)

	if ok, err := databaseExists(ctx, conn, name); err != nil || ok {
		return name, err
	}
	build := name + "_build"
	if err := dropTemplate(ctx, conn, build); err != nil {
		return "", err
	}
	began := time.Now()
	quoted := pgx.Identifier{build}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+quoted); err != nil {
		return "", fmt.Errorf("create template %s: %w", build, err)
	}
	// dbmigrate closes its connections before it returns; the server may
	// take a moment to notice, and ALTER DATABASE ... RENAME waits for that.
	if err := dbmigrate.Up(ctx, withDatabase(serverURL, build), logger); err != nil {
		return "", fmt.Errorf("migrate template %s: %w", build, err)
	}
	// No connections: a connection to a template makes CREATE DATABASE
	// ... TEMPLATE fail. IS_TEMPLATE lets any user with CREATEDB clone it.
	for _, stmt := range []string{
		"ALTER DATABASE " + quoted + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
		"ALTER DATABASE " + quoted + " RENAME TO " + pgx.Identifier{name}.Sanitize(),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return "", fmt.Errorf("finish template %s: %w", name, err)
		}
	}
	logger.Info("testenv: template database created", "name", name, "took", time.Since(began).Round(time.Millisecond))
	return name, nil
}

func databaseExists(ctx context.Context, conn *pgxpool.Conn, name string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	return ok, nil
}

// dropTemplate drops a template database left by a test binary that died
// while building it.
func dropTemplate(ctx context.Context, conn *pgxpool.Conn, name string) error {
	if ok, err := databaseExists(ctx, conn, name); err != nil || !ok {
		return err
	}
	quoted := pgx.Identifier{name}.Sanitize()
	for _, stmt := range []string{
		"ALTER DATABASE " + quoted + " WITH IS_TEMPLATE false",
		"DROP DATABASE " + quoted + " WITH (FORCE)",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("drop abandoned template %s: %w", name, err)
		}
	}
	return nil
}

// templateName is "consulta_tmpl_" and a hash of the embedded migrations.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return "consulta_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// withDatabase returns the connection string naming another database, in URL
// or keyword/value form.
func withDatabase(connString, database string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err == nil {
			u.Path = "/" + database
			u.RawPath = ""
			return u.String()
		}
	}
	// In keyword/value form the last setting wins.
	return connString + " dbname=" + database
}
