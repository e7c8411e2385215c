package devenv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestNATS(t *testing.T) {
	t.Parallel()
	ns, err := NATS(NATSOptions{Port: -1, StoreDir: t.TempDir(), Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})

	ctx := t.Context()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TEST", Subjects: []string{"test.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	for range 2 {
		if _, err := js.Publish(ctx, "test.a", []byte("hello"), jetstream.WithMsgID("id-1")); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for msg := range batch.Messages() {
		got = append(got, string(msg.Data()))
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0] != "hello" {
		t.Errorf("read %q, want one message (the duplicate dropped)", got)
	}
}

func TestNATSRequiresStoreDir(t *testing.T) {
	t.Parallel()
	if _, err := NATS(NATSOptions{Port: -1}); err == nil {
		t.Fatal("NATS without StoreDir: no error")
	}
}

func TestNATSURL(t *testing.T) {
	t.Setenv("NATS_URL", "")
	url, stop, err := NATSURL(NATSOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()

	t.Setenv("NATS_URL", "nats://bus.example:4222")
	url, stop2, err := NATSURL(NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop2()
	if url != "nats://bus.example:4222" {
		t.Errorf("url = %q, want NATS_URL", url)
	}
}

// TestNATSWithUsers: a server started with users refuses a client without
// credentials, enforces each user's permissions, and JetStream works for a
// user allowed its API.
func TestNATSWithUsers(t *testing.T) {
	t.Parallel()
	perms := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"test.a", "$JS.API.>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
	ns, err := NATS(NATSOptions{Port: -1, StoreDir: t.TempDir(), Log: testLogger(t),
		Users: []NATSUser{{Name: "svc", Password: "pw-1", Permissions: perms}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if nc, err := nats.Connect(ns.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("connected without credentials")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("svc", "pw-1"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := t.Context()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TEST", Subjects: []string{"test.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "test.a", []byte("allowed")); err != nil {
		t.Errorf("publish on an allowed subject: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := js.Publish(short, "test.b", []byte("refused")); err == nil {
		t.Error("publish on a subject outside the permissions was stored")
	}
	if _, err := NATS(NATSOptions{Port: -1, StoreDir: t.TempDir(), Users: []NATSUser{{Name: "svc"}}}); err == nil {
		t.Error("a user without a password: no error")
	}
}
