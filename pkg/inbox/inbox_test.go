package inbox_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

const consumerName = "test_projection"

// setup returns a pool on a fresh database with a scratch effect table: one
// counter that the handler increments, so applying an event twice shows.
func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	t.Parallel()
	pool := testenv.Pool(t)
	_, err := pool.Exec(t.Context(), `
		CREATE TABLE summary.test_effects (id int PRIMARY KEY, applied int NOT NULL);
		INSERT INTO summary.test_effects VALUES (1, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// increment is the effect: it counts its calls and bumps the counter.
type increment struct {
	calls atomic.Int64
	delay time.Duration
	err   error
}

func (inc *increment) apply(ctx context.Context, tx pgx.Tx, _ *eventsv1.Envelope) error {
	inc.calls.Add(1)
	if _, err := tx.Exec(ctx, `UPDATE summary.test_effects SET applied = applied + 1 WHERE id = 1`); err != nil {
		return err
	}
	time.Sleep(inc.delay)
	return inc.err
}

func newEvent(t *testing.T) *eventsv1.Envelope {
	t.Helper()
	env, err := events.New(events.SubmissionReceived,
		events.Aggregate{Type: "submission", ID: uuid.NewString(), Version: 1},
		wrapperspb.String("test"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func applied(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT applied FROM summary.test_effects WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func inboxRows(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM summary.inbox WHERE consumer = $1`, consumerName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSameEventTwiceAppliesOnce(t *testing.T) {
	pool := setup(t)
	inc := &increment{}
	h := inbox.Handler(pool, "summary", consumerName, inc.apply)
	env := newEvent(t)
	for range 2 {
		if err := h(t.Context(), env); err != nil {
			t.Fatal(err)
		}
	}
	if got := applied(t, pool); got != 1 {
		t.Fatalf("effect applied %d times, want 1", got)
	}
	if got := inc.calls.Load(); got != 1 {
		t.Fatalf("fn called %d times, want 1", got)
	}

	// Another consumer's inbox is separate: it applies the event too.
	other := inbox.Handler(pool, "summary", "other_projection", inc.apply)
	if err := other(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if got := applied(t, pool); got != 2 {
		t.Fatalf("effect applied %d times after a second consumer, want 2", got)
	}
}

func TestConcurrentDeliveryAppliesOnce(t *testing.T) {
	pool := setup(t)
	// The delay holds the first transaction open while the second arrives.
	inc := &increment{delay: 100 * time.Millisecond}
	h := inbox.Handler(pool, "summary", consumerName, inc.apply)
	env := newEvent(t)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = h(t.Context(), env) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := applied(t, pool); got != 1 {
		t.Fatalf("effect applied %d times, want 1", got)
	}
	if got := inboxRows(t, pool); got != 1 {
		t.Fatalf("%d inbox rows, want 1", got)
	}
}

func TestErrorRollsBackEffectAndInbox(t *testing.T) {
	pool := setup(t)
	boom := errors.New("boom")
	inc := &increment{err: boom}
	h := inbox.Handler(pool, "summary", consumerName, inc.apply)
	env := newEvent(t)

	if err := h(t.Context(), env); !errors.Is(err, boom) {
		t.Fatalf("handler returned %v, want it to wrap %v", err, boom)
	}
	if got, rows := applied(t, pool), inboxRows(t, pool); got != 0 || rows != 0 {
		t.Fatalf("after a failure: effect %d, inbox rows %d; want 0 and 0", got, rows)
	}

	// The retry applies it.
	inc.err = nil
	if err := h(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if got, rows := applied(t, pool), inboxRows(t, pool); got != 1 || rows != 1 {
		t.Fatalf("after the retry: effect %d, inbox rows %d; want 1 and 1", got, rows)
	}
}

// The same envelope published twice under different Nats-Msg-Ids (past the
// duplicate window, as far as JetStream knows) reaches the handler twice
// through a real consumer, and changes the effect once.
func TestRedeliveryThroughJetStream(t *testing.T) {
	pool := setup(t)
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := events.EnsureStream(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}

	env := newEvent(t)
	data, err := events.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, msgID := range []string{env.GetId(), env.GetId() + "-republished"} {
		if _, err := js.Publish(t.Context(), env.GetType(), data, jetstream.WithMsgID(msgID)); err != nil {
			t.Fatal(err)
		}
	}
	if info, err := stream.Info(t.Context()); err != nil || info.State.Msgs != 2 {
		t.Fatalf("stream info %v, %v; want 2 messages", info, err)
	}

	inc := &increment{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- consumer.Run(ctx, consumer.Config{
			JetStream: js, Durable: consumerName, Subjects: []string{events.SubmissionReceived},
			Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		}, inbox.Handler(pool, "summary", consumerName, inc.apply))
	}()

	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := js.Consumer(t.Context(), events.StreamName, consumerName)
		if err == nil {
			info, err := c.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if info.AckFloor.Stream == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for both messages to be acknowledged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if got := applied(t, pool); got != 1 {
		t.Fatalf("effect applied %d times, want 1", got)
	}
	if got := inc.calls.Load(); got != 1 {
		t.Fatalf("fn called %d times, want 1", got)
	}
}
