package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// TestNATSAuthOptions connects with each kind of credentials the settings
// offer to a server that knows them (an nkey user and a password user), and
// checks that bad combinations and missing files are refused naming the
// setting.
func TestNATSAuthOptions(t *testing.T) {
	t.Parallel()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		Nkeys: []*server.NkeyUser{{Nkey: pub}},
		Users: []*server.User{{Username: "worker", Password: "s3cret"}}})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	connect := func(a NATSAuth) error {
		opts, err := a.options()
		if err != nil {
			return err
		}
		nc, err := nats.Connect(ns.ClientURL(), opts...)
		if err == nil {
			nc.Close()
		}
		return err
	}
	if err := connect(NATSAuth{NKeyFile: seedFile}); err != nil {
		t.Errorf("nkey: %v", err)
	}
	if err := connect(NATSAuth{User: "worker", Password: "s3cret"}); err != nil {
		t.Errorf("user and password: %v", err)
	}
	if err := connect(NATSAuth{}); err == nil {
		t.Error("no credentials: connected")
	}
	if err := connect(NATSAuth{User: "worker", Password: "wrong"}); err == nil {
		t.Error("wrong password: connected")
	}

	for name, tc := range map[string]struct {
		a    NATSAuth
		want string
	}{
		"user without password": {NATSAuth{User: "worker"}, "CONSULTA_NATS_PASSWORD"},
		"two kinds":             {NATSAuth{User: "worker", Password: "x", NKeyFile: seedFile}, "set one of"},
		"missing nkey file":     {NATSAuth{NKeyFile: filepath.Join(dir, "none.nk")}, "CONSULTA_NATS_NKEY_FILE"},
		"missing creds file":    {NATSAuth{CredsFile: filepath.Join(dir, "none.creds")}, "CONSULTA_NATS_CREDS_FILE"},
		"missing CA file":       {NATSAuth{CAFile: filepath.Join(dir, "none.pem")}, "CONSULTA_NATS_CA_FILE"},
		"cert without key":      {NATSAuth{CertFile: seedFile}, "CONSULTA_NATS_KEY_FILE"},
	} {
		if _, err := tc.a.options(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
}
