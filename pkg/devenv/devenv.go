// Package devenv finds or starts the infrastructure Consulta needs on a
// developer's machine: Postgres, Redis and NATS JetStream.
//
// It exists so that `consulta dev` (the embedded default) and the tests
// (through pkg/testenv) run against real servers with no setup beyond having
// the usual binaries installed. Each function follows the same order: a URL
// from the environment (DATABASE_URL, REDIS_URL, NATS_URL) wins; else a server
// already running on its standard local port; else a throwaway server started
// from the binaries on the machine in a temporary directory, removed again by
// the returned stop function. When nothing works the error is a *MissingError
// that says what to install.
//
// Throwaway servers are child processes of the calling process, in their own
// process group (so a Ctrl-C in the terminal reaches only the caller, which
// then shuts down in order) and, on Linux, killed by the kernel if the caller
// dies without stopping them. Directories left behind by a crashed caller are
// removed by the next throwaway start.
package devenv

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MissingError reports that a server is not available and cannot be started
// because something is not installed.
type MissingError struct {
	// What is missing, e.g. "PostgreSQL server binaries (initdb, postgres)".
	What string
	// Install says how to get it, e.g. "install them with `apt-get install postgresql`".
	Install string
}

func (e *MissingError) Error() string {
	return e.What + " not found: " + e.Install
}

// ownerFile, in every directory of a throwaway server, holds the pid of the
// process that started it, so that a later start can tell an abandoned
// directory from one in use.
const ownerFile = "consulta-owner.pid"

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// envTrue reports whether the environment variable is set to a true value
// (1, true, yes, on).
func envTrue(name string) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(name))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before we do; callers retry on "address in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeRunDir creates a fresh directory for a throwaway server under the
// system temporary directory, after removing the directories of servers whose
// owner process is gone.
func makeRunDir(prefix string) (string, error) {
	sweepRunDirs(prefix)
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("create temporary directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create temporary directory: %w", err)
	}
	return dir, nil
}

// sweepRunDirs removes directories left by throwaway servers whose owner
// process died without stopping them. Directories whose owner is alive, or
// whose owner is unknown, are left alone.
func sweepRunDirs(prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, dir := range dirs {
		pid, err := readPid(filepath.Join(dir, ownerFile))
		if err != nil || processAlive(pid) {
			continue
		}
		// A Postgres server that outlived its owner (no parent-death signal
		// outside Linux) still uses the directory: leave it.
		if pid, err := readPid(filepath.Join(dir, "data", "postmaster.pid")); err == nil && processAlive(pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// readPid reads a pid from the first line of a file.
func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, errors.New("no pid")
	}
	return pid, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
