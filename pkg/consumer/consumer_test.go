package consumer_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func setup(t *testing.T) jetstream.JetStream {
	t.Helper()
	t.Parallel()
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.EnsureStream(t.Context(), js, 1); err != nil {
		t.Fatal(err)
	}
	return js
}

func publish(t *testing.T, js jetstream.JetStream) *eventsv1.Envelope {
	t.Helper()
	env, err := events.New(events.SubmissionReceived,
		events.Aggregate{Type: "submission", ID: uuid.NewString(), Version: 1},
		wrapperspb.String("test"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), env.GetType(), data, jetstream.WithMsgID(env.GetId())); err != nil {
		t.Fatal(err)
	}
	return env
}

// running is a consumer.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned, once done is closed
}

func start(t *testing.T, js jetstream.JetStream, h consumer.Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{cancel: cancel, done: make(chan struct{})}
	cfg := consumer.Config{
		JetStream: js, Durable: "test", Subjects: []string{events.SubmissionReceived},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	go func() {
		defer close(r.done)
		r.err = consumer.Run(ctx, cfg, h)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks that it returned nil.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("Run returned %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// recorder is a handler that records the events it saw.
type recorder struct {
	mu   sync.Mutex
	seen []string
	fn   func(env *eventsv1.Envelope, call int) error
}

func (r *recorder) handle(_ context.Context, env *eventsv1.Envelope) error {
	r.mu.Lock()
	r.seen = append(r.seen, env.GetId())
	calls := 0
	for _, id := range r.seen {
		if id == env.GetId() {
			calls++
		}
	}
	r.mu.Unlock()
	if r.fn == nil {
		return nil
	}
	return r.fn(env, calls)
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *recorder) count(id string) int {
	n := 0
	for _, s := range r.ids() {
		if s == id {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled reports whether the durable consumer has nothing pending and
// nothing waiting for an ack.
func settled(t *testing.T, js jetstream.JetStream) bool {
	t.Helper()
	c, err := js.Consumer(t.Context(), events.StreamName, "test")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

func TestHandlesEachEventInOrder(t *testing.T) {
	js := setup(t)
	var want []string
	for range 5 {
		want = append(want, publish(t, js).GetId())
	}
	rec := &recorder{}
	r := start(t, js, rec.handle)
	want = append(want, publish(t, js).GetId()) // one while running

	waitFor(t, 5*time.Second, "every event handled and acked", func() bool {
		return len(rec.ids()) == len(want) && settled(t, js)
	})
	r.stop(t)
	got := rec.ids()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("handled %v, want %v in order", got, want)
		}
	}
}

func TestFailedHandlerGetsTheEventAgain(t *testing.T) {
	js := setup(t)
	rec := &recorder{fn: func(_ *eventsv1.Envelope, call int) error {
		if call == 1 {
			return errors.New("database unavailable")
		}
		return nil
	}}
	start(t, js, rec.handle)
	env := publish(t, js)
	waitFor(t, 5*time.Second, "the event handled twice and acked", func() bool {
		return rec.count(env.GetId()) == 2 && settled(t, js)
	})
}

func TestPermanentErrorIsNotRedelivered(t *testing.T) {
	js := setup(t)
	bad := publish(t, js)
	rec := &recorder{fn: func(env *eventsv1.Envelope, _ int) error {
		if env.GetId() == bad.GetId() {
			return consumer.Permanent(errors.New("unknown consultation"))
		}
		return nil
	}}
	start(t, js, rec.handle)
	good := publish(t, js)
	waitFor(t, 5*time.Second, "the good event handled", func() bool {
		return rec.count(good.GetId()) == 1 && settled(t, js)
	})
	// A nak would have come back after 0.5s.
	time.Sleep(time.Second)
	if n := rec.count(bad.GetId()); n != 1 {
		t.Fatalf("permanently failed event handled %d times, want 1", n)
	}
}

func TestUndecodableMessageIsTerminated(t *testing.T) {
	js := setup(t)
	if _, err := js.Publish(t.Context(), events.SubmissionReceived, []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	start(t, js, rec.handle)
	good := publish(t, js)
	waitFor(t, 5*time.Second, "the good event handled and the bad one terminated", func() bool {
		return rec.count(good.GetId()) == 1 && settled(t, js)
	})
	if got := rec.ids(); len(got) != 1 {
		t.Fatalf("handler saw %v, want only the good event", got)
	}
}

func TestShutdownWaitsForInFlightHandler(t *testing.T) {
	js := setup(t)
	started := make(chan struct{})
	release := make(chan struct{})
	handlerCtxErr := make(chan error, 1)
	h := func(ctx context.Context, _ *eventsv1.Envelope) error {
		close(started)
		<-release
		handlerCtxErr <- ctx.Err()
		return nil
	}
	r := start(t, js, h)
	publish(t, js)
	<-started

	r.cancel()
	select {
	case <-r.done:
		t.Fatal("Run returned while the handler was still running")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("Run returned %v", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the handler finished")
	}
	if err := <-handlerCtxErr; err != nil {
		t.Fatalf("the handler's context was cancelled by shutdown: %v", err)
	}
	if !settled(t, js) {
		t.Fatal("the in-flight event was not acknowledged before Run returned")
	}
}

func TestRunRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	err := consumer.Run(t.Context(), consumer.Config{}, func(context.Context, *eventsv1.Envelope) error { return nil })
	if err == nil {
		t.Fatal("Run accepted a config without JetStream, Durable and Subjects")
	}
}

func TestPermanentNil(t *testing.T) {
	t.Parallel()
	if consumer.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
	base := errors.New("x")
	if !errors.Is(consumer.Permanent(base), base) {
		t.Fatal("Permanent does not wrap its error")
	}
}

// TestResubscribesWhenTheConsumerIsDeleted deletes the durable consumer under
// a running Run: Run must not give up but create it again and go on.
func TestResubscribesWhenTheConsumerIsDeleted(t *testing.T) {
	js := setup(t)
	rec := &recorder{}
	start(t, js, rec.handle)
	first := publish(t, js)
	waitFor(t, 10*time.Second, "first event handled", func() bool { return rec.count(first.GetId()) == 1 })

	if err := js.DeleteConsumer(t.Context(), events.StreamName, "test"); err != nil {
		t.Fatal(err)
	}
	second := publish(t, js)
	waitFor(t, 10*time.Second, "event after the deletion handled", func() bool { return rec.count(second.GetId()) >= 1 })
}
