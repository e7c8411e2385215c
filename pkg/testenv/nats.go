package testenv

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/consulta-platform/consulta/pkg/devenv"
	"github.com/consulta-platform/consulta/pkg/natsacl"
)

// NATS starts an in-process NATS server with JetStream for this test, on a
// free port with its store in a temporary directory, shut down when the test
// ends, and returns its client URL. NATS_URL is not consulted: every test gets
// its own server, so streams and consumers never clash.
func NATS(t testing.TB) (url string) {
	t.Helper()
	ns, err := devenv.NATS(devenv.NATSOptions{Port: -1, StoreDir: t.TempDir(), ServerName: "testenv"})
	if err != nil {
		t.Fatalf("testenv: NATS: %v", err)
	}
	// Registered after t.TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}

// SecureNATS is an in-process NATS server that accepts only its users, each
// with the permissions of the services it is named after (pkg/natsacl).
type SecureNATS struct {
	// URL is the client URL, without credentials.
	URL string
	// Passwords holds the password of every user: one per service
	// (natsacl.Services), "consulta" with the permissions of every service
	// (monolithic mode), and "admin", who may do anything (for tests that
	// watch or forge traffic).
	Passwords map[string]string
}

// MonolithUser is the user of SecureNATS with every service's permissions.
const MonolithUser = "consulta"

// AdminUser is the user of SecureNATS without restrictions.
const AdminUser = "admin"

// UserURL is the client URL with user's name and password in it.
func (s SecureNATS) UserURL(user string) string {
	u, err := url.Parse(s.URL)
	if err != nil {
		panic(err) // the server's own URL
	}
	u.User = url.UserPassword(user, s.Passwords[user])
	return u.String()
}

// NATSWithUsers starts an in-process NATS server with JetStream for this
// test that requires credentials (see SecureNATS), shut down when the test
// ends.
func NATSWithUsers(t testing.TB) SecureNATS {
	t.Helper()
	s := SecureNATS{Passwords: map[string]string{}}
	var users []devenv.NATSUser
	add := func(name string, perms *server.Permissions) {
		s.Passwords[name] = randomHex(16)
		users = append(users, devenv.NATSUser{Name: name, Password: s.Passwords[name], Permissions: perms})
	}
	for _, svc := range natsacl.Services {
		add(svc, natsacl.For(svc).Server())
	}
	add(MonolithUser, natsacl.All().Server())
	add(AdminUser, nil)
	ns, err := devenv.NATS(devenv.NATSOptions{Port: -1, StoreDir: t.TempDir(), ServerName: "testenv", Users: users})
	if err != nil {
		t.Fatalf("testenv: NATS: %v", err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	s.URL = ns.ClientURL()
	return s
}

// NATSFromConfig starts an in-process NATS server from a nats-server
// configuration file, as the nats-server binary would read it, but on a
// free port, without its monitoring port, and with its store in a temporary
// directory; shut down when the test ends. vars are defined ahead of the
// file, for the variables it takes from the environment (passwords), so
// that tests set none. It returns the client URL.
func NATSFromConfig(t testing.TB, path string, vars map[string]string) string {
	t.Helper()
	opts := ParseNATSConfig(t, path, vars)
	opts.Port = -1
	opts.HTTPPort = 0
	opts.StoreDir = t.TempDir()
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("testenv: NATS from %s: %v", path, err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatalf("testenv: NATS from %s: not ready after 10s", path)
	}
	return ns.ClientURL()
}

// ParseNATSConfig reads a nats-server configuration file with vars defined
// ahead of it (see NATSFromConfig).
func ParseNATSConfig(t testing.TB, path string, vars map[string]string) *server.Options {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var b strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&b, "%s: %q\n", k, v)
	}
	b.Write(body)
	file := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", path, err)
	}
	return opts
}
