package devenv

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDevNATSStoreDir(t *testing.T) {
	t.Parallel()
	home := "/home/ana/.config/consulta"
	cases := []struct {
		name, dataDir, dbURL string
		throwaway            bool
		want                 string
	}{
		{"explicit data dir", "/srv/consulta", "postgres://localhost/consulta", false, "/srv/consulta/nats"},
		{"explicit data dir wins over a throwaway Postgres", "/srv/consulta", "postgres://127.0.0.1:41234/consulta", true, "/srv/consulta/nats"},
		{"throwaway Postgres: temporary", "", "postgres://127.0.0.1:41234/consulta", true, ""},
		{"local Postgres: persistent, per database", "", "postgres://postgres@127.0.0.1:5432/consulta?sslmode=disable", false,
			filepath.Join(home, "nats", "127.0.0.1-5432-consulta")},
		{"DATABASE_URL without port, credentials left out", "", "postgres://u:secret@db.example.org/consulta_dev", false,
			filepath.Join(home, "nats", "db.example.org-5432-consulta_dev")},
	}
	for _, tc := range cases {
		if got := DevNATSStoreDir(tc.dataDir, home, tc.dbURL, tc.throwaway); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// An event published but not yet consumed is still there after the server
// stops and a new one starts on the same store directory: what `consulta
// dev` relies on to lose nothing across a restart.
func TestNATSStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := DevNATSStoreDir("", t.TempDir(), "postgres://127.0.0.1:5432/consulta", false)
	start := func() (*nats.Conn, jetstream.JetStream, func()) {
		t.Helper()
		ns, err := NATS(NATSOptions{Port: -1, StoreDir: dir, Log: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return nc, js, func() {
			nc.Close()
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}
	ctx := t.Context()
	_, js, stop := start()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"ev.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "ev.a", []byte("unconsumed")); err != nil {
		t.Fatal(err)
	}
	stop()

	_, js, stop = start()
	defer stop()
	cons, err := js.Consumer(ctx, "EVENTS", "c")
	if err != nil {
		t.Fatalf("the durable consumer did not survive: %v", err)
	}
	msgs, err := cons.FetchNoWait(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range msgs.Messages() {
		got = append(got, string(m.Data()))
		_ = m.Ack()
	}
	if len(got) != 1 || got[0] != "unconsumed" {
		t.Fatalf("after a restart the consumer gets %q, want the unconsumed event", got)
	}
}
