package testenv

import (
	"testing"

	"github.com/consulta-platform/consulta/pkg/devenv"
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
