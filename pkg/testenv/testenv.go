// Package testenv gives tests the real components Consulta runs on, Postgres,
// Redis and NATS JetStream, isolated from each other so that tests (and the
// test binaries of different packages) run in parallel.
//
// The design forbids mocked databases: a test that needs storage asks for a
// database of its own (DatabaseURL, Pool), cloned in milliseconds from a
// template database on which every service schema is migrated, and dropped
// when the test ends. Redis is shared; tests keep out of each other's way by
// naming their queues with UniqueName. NATS is an in-process JetStream
// server per test.
//
// Servers come from pkg/devenv: DATABASE_URL and REDIS_URL when set, else
// the servers on their standard local ports, else throwaway servers started
// from the machine's binaries once per test binary. A package that may start
// throwaway servers should stop them after its tests:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Without it a throwaway server still dies with the test binary (on Linux),
// and its directory is removed by the next throwaway start.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// Main runs the tests, stops the servers this test binary started, and exits
// with the tests' result. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shutdown()
	os.Exit(code)
}

var (
	stopsMu sync.Mutex
	stops   []func()
)

// onShutdown registers f to run in Main after the tests, in reverse order of
// registration.
func onShutdown(f func()) {
	stopsMu.Lock()
	defer stopsMu.Unlock()
	stops = append(stops, f)
}

func shutdown() {
	stopsMu.Lock()
	fs := stops
	stops = nil
	stopsMu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// logger reports what testenv and devenv do. Tests stay quiet: only warnings,
// unless CONSULTA_TEST_LOG names another level (debug, info).
var logger = func() *slog.Logger {
	level := slog.LevelWarn
	if s := os.Getenv("CONSULTA_TEST_LOG"); s != "" {
		_ = level.UnmarshalText([]byte(s)) // an unknown level keeps warn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}()

// UniqueName returns a short name for this test that no other test uses:
// lowercase letters, digits and underscores, starting with a letter, such as
// "submit_accepted_3f9a0c1e". Use it for queue, consumer and stream names.
func UniqueName(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(t.Name())
	if rest, ok := strings.CutPrefix(name, "test"); ok && rest != "" {
		name = rest
	}
	var b strings.Builder
	underscore := true // no leading underscore
	for _, r := range name {
		if r < unicode.MaxASCII && (unicode.IsLower(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
		if b.Len() >= 24 {
			break
		}
	}
	base := strings.TrimRight(b.String(), "_")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "t" + base
	}
	return base + "_" + randomHex(4)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
