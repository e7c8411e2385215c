package devenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LocalPostgresAddr is where Postgres looks for a server already running on
// this machine (user postgres, trust authentication).
const LocalPostgresAddr = "127.0.0.1:5432"

// DefaultDatabase is the database Postgres returns when PostgresOptions.Database
// is empty.
const DefaultDatabase = "consulta"

// PostgresOptions configures Postgres. The zero value is ready to use.
type PostgresOptions struct {
	// Database is the database the returned URL names. On a local or
	// throwaway server it is created when missing. Default "consulta".
	// It is ignored when DATABASE_URL is set.
	Database string

	// ForceThrowaway skips DATABASE_URL and the local server and always
	// starts a throwaway cluster. The environment variable
	// CONSULTA_PG_THROWAWAY=1 does the same.
	ForceThrowaway bool

	// BinDir is the directory holding initdb and postgres. Empty means
	// searching PATH, `pg_config --bindir` and the usual install locations.
	BinDir string

	// RunAs is the OS user a throwaway cluster runs as when this process runs
	// as root, since initdb refuses to run as root. Default "postgres".
	RunAs string
}

// Postgres returns a connection URL for a Postgres server, in this order:
//
//  1. the environment variable DATABASE_URL, when set;
//  2. the local server at 127.0.0.1:5432 (user postgres, trust auth) when it
//     accepts a connection within a second; opts.Database is created on it
//     when missing;
//  3. a throwaway cluster started from the machine's PostgreSQL binaries in a
//     temporary directory, listening on a free port of 127.0.0.1. When this
//     process runs as root, the cluster runs as opts.RunAs.
//
// Steps 1 and 2 are skipped when opts.ForceThrowaway is set or the
// environment has CONSULTA_PG_THROWAWAY=1. When no server can be found or
// started for lack of binaries, the error is a *MissingError.
//
// stop stops a throwaway cluster and removes its directory; otherwise it does
// nothing. It may be called more than once.
func Postgres(ctx context.Context, log *slog.Logger, opts PostgresOptions) (url string, stop func(), err error) {
	srv, err := StartPostgres(ctx, log, opts)
	if err != nil {
		return "", nil, err
	}
	return srv.URL, srv.Stop, nil
}

// PostgresServer is the server Postgres found or started.
type PostgresServer struct {
	URL string
	// Throwaway is true for a cluster started in a temporary directory:
	// its data is gone once Stop is called.
	Throwaway bool
	// Stop stops a throwaway cluster and removes its directory; otherwise
	// it does nothing. It may be called more than once.
	Stop func()
}

// StartPostgres is Postgres, also saying whether the server is a throwaway
// one (`consulta dev` keeps its NATS files only as long as the data).
func StartPostgres(ctx context.Context, log *slog.Logger, opts PostgresOptions) (PostgresServer, error) {
	log = orDiscard(log)
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if !opts.ForceThrowaway && !envTrue("CONSULTA_PG_THROWAWAY") {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			log.Info("postgres: using DATABASE_URL")
			return PostgresServer{URL: u, Stop: func() {}}, nil
		}
		u, err := localPostgres(ctx, opts.Database)
		if err == nil {
			log.Info("postgres: using the local server", "addr", LocalPostgresAddr, "database", opts.Database)
			return PostgresServer{URL: u, Stop: func() {}}, nil
		}
		log.Info("postgres: no usable local server, starting a throwaway cluster", "addr", LocalPostgresAddr, "err", err)
	}
	c, err := startPostgres(ctx, log, opts)
	if err != nil {
		return PostgresServer{}, err
	}
	return PostgresServer{URL: c.url, Throwaway: true, Stop: sync.OnceFunc(c.stop)}, nil
}

// localPostgres returns the URL of database on the local server, creating the
// database when missing.
func localPostgres(ctx context.Context, database string) (string, error) {
	conn, err := connectPostgres(ctx, postgresURL(LocalPostgresAddr, "postgres"), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := ensureDatabase(ctx, conn, database); err != nil {
		return "", err
	}
	return postgresURL(LocalPostgresAddr, database), nil
}

func postgresURL(hostport, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     hostport,
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// connectPostgres connects with a bound on the time to get a connection.
func connectPostgres(ctx context.Context, connURL string, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connURL)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// ensureDatabase creates the database unless it exists. Several processes may
// race to create it; losing the race is fine.
func ensureDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") { // duplicate_database, unique_violation
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// pgCluster is a throwaway Postgres cluster.
type pgCluster struct {
	log  *slog.Logger
	dir  string // everything of the cluster lives here
	url  string
	proc *child
}

func (c *pgCluster) stop() {
	// SIGINT is Postgres's "fast" shutdown, what `pg_ctl stop -m fast` sends.
	c.proc.stop(os.Interrupt, 30*time.Second)
	if err := os.RemoveAll(c.dir); err != nil {
		c.log.Warn("postgres: remove throwaway cluster", "dir", c.dir, "err", err)
		return
	}
	c.log.Info("postgres: throwaway cluster stopped", "dir", c.dir)
}

// startPostgres creates a cluster with initdb and runs postgres on it as a
// child process. Running postgres directly rather than through `pg_ctl start`
// keeps it our child: it gets a parent-death signal and cannot outlive us.
func startPostgres(ctx context.Context, log *slog.Logger, opts PostgresOptions) (_ *pgCluster, err error) {
	began := time.Now()
	bin, err := findPostgresBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	var cred *credential
	if os.Geteuid() == 0 {
		cred, err = lookupCredential(cmp.Or(opts.RunAs, "postgres"))
		if err != nil {
			return nil, err
		}
	}

	dir, err := makeRunDir("consulta-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	dataDir := filepath.Join(dir, "data")
	sockDir := filepath.Join(dir, "sock")
	logPath := filepath.Join(dir, "postgres.log")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if cred != nil {
		for _, p := range []string{dir, sockDir} {
			if err := os.Chown(p, int(cred.uid), int(cred.gid)); err != nil {
				return nil, fmt.Errorf("postgres: give %s to the server's user: %w", p, err)
			}
		}
	}

	initdb := exec.CommandContext(ctx, bin.initdb,
		"-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = serverEnv()
	if err := setSysProcAttr(initdb, 0, cred); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		hint := ""
		if cred != nil {
			hint = fmt.Sprintf(" (initdb ran as user %s, who needs access to %s)", cmp.Or(opts.RunAs, "postgres"), dir)
		}
		return nil, fmt.Errorf("postgres: initdb%s: %w\n%s", hint, err, strings.TrimSpace(string(out)))
	}

	args := []string{"-D", dataDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
	}
	// A Unix socket path is limited to about 100 bytes; without a socket the
	// server still listens on TCP, which is all we use.
	if len(sockDir) < 80 {
		args = append(args, "-k", sockDir)
	} else {
		args = append(args, "-c", "unix_socket_directories=")
	}

	// The free port may be taken by someone else before postgres binds it:
	// try again with another one.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		proc, err := runPostgres(bin.postgres, dir, logPath, append([]string{"-p", strconv.Itoa(port)}, args...), cred)
		if err != nil {
			return nil, fmt.Errorf("postgres: start: %w", err)
		}
		hostport := "127.0.0.1:" + strconv.Itoa(port)
		err = waitPostgres(ctx, proc, hostport)
		if err == nil {
			c := &pgCluster{log: log, dir: dir, url: postgresURL(hostport, opts.Database), proc: proc}
			if err := createDatabase(ctx, hostport, opts.Database); err != nil {
				c.stop()
				return nil, fmt.Errorf("postgres: %w", err)
			}
			log.Info("postgres: throwaway cluster started", "bindir", bin.dir, "addr", hostport,
				"dir", dir, "database", opts.Database, "took", time.Since(began).Round(time.Millisecond))
			return c, nil
		}
		proc.stop(syscall.SIGQUIT, 5*time.Second)
		logText := tail(logPath, 20)
		lastErr = fmt.Errorf("postgres: start: %w\n%s", err, logText)
		if !strings.Contains(logText, "could not bind") && !strings.Contains(logText, "already in use") {
			break
		}
	}
	return nil, lastErr
}

func runPostgres(binary, dir, logPath string, args []string, cred *credential) (*child, error) {
	// Truncated at each attempt, so that the log speaks of this one only.
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// SIGQUIT is Postgres's immediate shutdown: if we die, so does the server.
	return startChild(cmd, syscall.SIGQUIT, cred)
}

// waitPostgres waits until the server accepts connections, exits, or 30
// seconds pass.
func waitPostgres(ctx context.Context, proc *child, hostport string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if proc.exited() {
			return fmt.Errorf("postgres exited: %v", proc.err)
		}
		conn, err := connectPostgres(ctx, postgresURL(hostport, "postgres"), time.Second)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func createDatabase(ctx context.Context, hostport, database string) error {
	conn, err := connectPostgres(ctx, postgresURL(hostport, "postgres"), 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return ensureDatabase(ctx, conn, database)
}

// serverEnv is our environment without the PG* variables, which would change
// what initdb and postgres do, and with messages in English.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func lookupCredential(name string) (*credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, &MissingError{
			What: fmt.Sprintf("OS user %q to run PostgreSQL as (initdb refuses to run as root)", name),
			Install: fmt.Sprintf("create it with `useradd --system --user-group %s` (the postgresql package does), "+
				"run as a non-root user, or set DATABASE_URL", name),
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres: uid of %q: %w", name, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres: gid of %q: %w", name, err)
	}
	return &credential{uid: uint32(uid), gid: uint32(gid)}, nil
}

// pgBinaries are the programs of one PostgreSQL installation.
type pgBinaries struct {
	dir, initdb, postgres string
}

var errNoPostgresBinaries = &MissingError{
	What: "PostgreSQL server binaries (initdb, postgres)",
	Install: "install them with `apt-get install postgresql` (Debian/Ubuntu), `dnf install postgresql-server` (Fedora) " +
		"or `brew install postgresql` (macOS), or set DATABASE_URL to a server you have",
}

// findPostgresBinaries looks in binDir when set, else in the directory of
// initdb on PATH, in `pg_config --bindir`, and in the usual install locations,
// newest version first.
func findPostgresBinaries(binDir string) (pgBinaries, error) {
	if binDir != "" {
		if b, ok := postgresBinariesIn(binDir); ok {
			return b, nil
		}
		return pgBinaries{}, &MissingError{
			What:    "initdb and postgres in " + binDir,
			Install: errNoPostgresBinaries.Install,
		}
	}
	for _, dir := range postgresBinDirs() {
		if b, ok := postgresBinariesIn(dir); ok {
			return b, nil
		}
	}
	return pgBinaries{}, errNoPostgresBinaries
}

func postgresBinDirs() []string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		// Debian links /usr/local/bin/initdb and the like to the versioned
		// directory, which is where postgres lives too.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	return append(dirs, newestFirst(
		"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
		"/usr/pgsql-*/bin",                   // PGDG packages for Fedora, RHEL
		"/opt/homebrew/opt/postgresql@*/bin", // Homebrew, Apple silicon
		"/usr/local/opt/postgresql@*/bin",    // Homebrew, Intel
		"/Applications/Postgres.app/Contents/Versions/*/bin",
	)...)
}

// newestFirst expands glob patterns with one "*" standing for a version and
// sorts the matches by version, newest first.
func newestFirst(patterns ...string) []string {
	type match struct {
		path    string
		version []int
	}
	var ms []match
	for _, pattern := range patterns {
		prefix := pattern[:strings.Index(pattern, "*")]
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			ms = append(ms, match{p, parseVersion(strings.TrimPrefix(p, prefix))})
		}
	}
	slices.SortStableFunc(ms, func(a, b match) int { return slices.Compare(b.version, a.version) })
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.path
	}
	return out
}

// parseVersion reads the leading dotted number of s ("15/bin" is [15],
// "9.6/bin" is [9 6]).
func parseVersion(s string) []int {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		end := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		if end == -1 {
			end = len(part)
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		v = append(v, n)
		if end < len(part) {
			break
		}
	}
	return v
}

func postgresBinariesIn(dir string) (pgBinaries, bool) {
	b := pgBinaries{dir: dir, initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
	return b, isExecutable(b.initdb) && isExecutable(b.postgres)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
