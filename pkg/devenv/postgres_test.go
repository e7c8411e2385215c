package devenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestPostgresThrowaway starts a real cluster from the machine's binaries (as
// the postgres user when we are root), uses it, stops it and checks that
// nothing is left.
func TestPostgresThrowaway(t *testing.T) {
	t.Parallel()
	if _, err := findPostgresBinaries(""); err != nil {
		t.Skipf("skipping: cannot start a throwaway Postgres here: %v", err)
	}
	ctx := t.Context()
	url, stop, err := Postgres(ctx, testLogger(t), PostgresOptions{Database: "devenv_test", ForceThrowaway: true})
	if err != nil {
		t.Fatalf("Postgres: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:") || strings.Contains(url, ":5432/") {
		t.Errorf("url = %q, want a throwaway server on a free port of 127.0.0.1", url)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	var db, dataDir string
	var pid int
	if err := conn.QueryRow(ctx, "SELECT current_database(), current_setting('data_directory'), pg_backend_pid()").Scan(&db, &dataDir, &pid); err != nil {
		t.Fatalf("query: %v", err)
	}
	if db != "devenv_test" {
		t.Errorf("current_database() = %q, want devenv_test", db)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)"); err != nil {
		t.Fatalf("write: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	if os.Geteuid() == 0 && runtime.GOOS == "linux" {
		if uid := processUID(t, pid); uid != postgresUID(t) {
			t.Errorf("backend runs as uid %s, want the postgres user's", uid)
		}
	}
	conn.Close(ctx)

	dir := filepath.Dir(dataDir)
	if !strings.HasPrefix(filepath.Base(dir), "consulta-pg-") {
		t.Fatalf("data directory %q is not in a throwaway directory", dataDir)
	}
	if _, err := os.Stat(filepath.Join(dir, ownerFile)); err != nil {
		t.Errorf("owner file: %v", err)
	}

	stop()
	stopped = true
	stop() // a second call does nothing
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after stop, %s: %v; want it removed", dir, err)
	}
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Errorf("after stop, the server still accepts connections")
	}
}

func processUID(t *testing.T, pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}

func postgresUID(t *testing.T) string {
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	return u.Uid
}

func TestPostgresFromEnv(t *testing.T) {
	t.Setenv("CONSULTA_PG_THROWAWAY", "")
	t.Setenv("DATABASE_URL", "postgres://app:secret@db.example:5432/consulta")
	url, stop, err := Postgres(t.Context(), testLogger(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if url != "postgres://app:secret@db.example:5432/consulta" {
		t.Errorf("url = %q, want DATABASE_URL", url)
	}
}

func TestPostgresLocal(t *testing.T) {
	t.Setenv("CONSULTA_PG_THROWAWAY", "")
	t.Setenv("DATABASE_URL", "")
	ctx := t.Context()
	admin, err := connectPostgres(ctx, postgresURL(LocalPostgresAddr, "postgres"), time.Second)
	if err != nil {
		t.Skipf("skipping: no local Postgres at %s: %v", LocalPostgresAddr, err)
	}
	name := "devenv_test_" + randomHex(t)
	t.Cleanup(func() {
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	url, stop, err := Postgres(ctx, testLogger(t), PostgresOptions{Database: name})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if want := "postgres://postgres@" + LocalPostgresAddr + "/" + name + "?sslmode=disable"; url != want {
		t.Errorf("url = %q, want %q", url, want)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to the created database: %v", err)
	}
	conn.Close(ctx)

	// A second call finds the database there.
	if _, _, err := Postgres(ctx, testLogger(t), PostgresOptions{Database: name}); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresMissingBinaries(t *testing.T) {
	t.Parallel()
	_, _, err := Postgres(t.Context(), testLogger(t), PostgresOptions{ForceThrowaway: true, BinDir: t.TempDir()})
	var missing *MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("err = %v, want a *MissingError", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("error %q does not say what to install", err)
	}
}

func TestNewestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "10", "16"} {
		if err := os.MkdirAll(filepath.Join(root, v, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := newestFirst(filepath.Join(root, "*", "bin"))
	var versions []string
	for _, p := range got {
		versions = append(versions, filepath.Base(filepath.Dir(p)))
	}
	if want := []string{"16", "15", "10", "9.6"}; !slices.Equal(versions, want) {
		t.Errorf("order = %v, want %v", versions, want)
	}
}

func TestSweepRunDirs(t *testing.T) {
	t.Parallel()
	prefix := "consulta-sweeptest-" + randomHex(t) + "-"
	mk := func(owner string) string {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	// A pid far above any pid_max is never alive.
	abandoned := mk("2147483000")
	mine := mk(strconv.Itoa(os.Getpid()))
	unknown := mk("")

	sweepRunDirs(prefix)
	if _, err := os.Stat(abandoned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned directory kept: %v", err)
	}
	for _, dir := range []string{mine, unknown} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("directory in use removed: %v", err)
		}
	}
}

func TestMissingErrorMessage(t *testing.T) {
	err := error(&MissingError{What: "redis-server", Install: "install it with `apt-get install redis-server`"})
	if got, want := err.Error(), "redis-server not found: install it with `apt-get install redis-server`"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestPostgresAsRootWithoutUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("skipping: only root runs the cluster as another user")
	}
	if _, err := findPostgresBinaries(""); err != nil {
		t.Skipf("skipping: %v", err)
	}
	_, _, err := Postgres(t.Context(), testLogger(t), PostgresOptions{ForceThrowaway: true, RunAs: "consulta-no-such-user"})
	var missing *MissingError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "useradd") {
		t.Fatalf("err = %v, want a *MissingError saying how to create the user", err)
	}
}
