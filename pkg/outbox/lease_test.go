package outbox

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// lockProbe looks at the database each time the relay publishes an event,
// from connections of its own: no connection of the test's database may be
// idle in a transaction (a relay waiting on NATS inside one), and the
// event's row must not be locked (another session takes its lock at once).
type lockProbe struct {
	t       *testing.T
	inner   publisher
	pool    *pgxpool.Pool
	checked atomic.Int64
}

func (p *lockProbe) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	p.check(msg.Header.Get(jetstream.MsgIDHeader))
	return p.inner.PublishMsgAsync(msg, opts...)
}

func (p *lockProbe) check(eventID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var idle int
	err := p.pool.QueryRow(ctx, `
		SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()
		  AND state IN ('idle in transaction', 'idle in transaction (aborted)')`).Scan(&idle)
	if err != nil {
		p.t.Errorf("pg_stat_activity: %v", err)
		return
	}
	if idle != 0 {
		p.t.Errorf("publishing event %s while %d connections are idle in a transaction", eventID, idle)
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var seq int64
		return tx.QueryRow(ctx, `SELECT seq FROM submission.outbox WHERE event_id = $1 FOR UPDATE NOWAIT`, eventID).Scan(&seq)
	})
	if err != nil {
		p.t.Errorf("publishing event %s while its row is locked: %v", eventID, err)
	}
	p.checked.Add(1)
}

// No transaction is open, and no row lock held, while the relay publishes:
// a slow NATS holds neither a connection of the pool nor the outbox's rows.
func TestNoTransactionOpenWhilePublishing(t *testing.T) {
	e := setup(t)
	var want []*eventsv1.Envelope
	for range 5 {
		ev := newEvent(t)
		add(t, e.pool, ev)
		want = append(want, ev)
	}
	cfg := e.config()
	cfg.BatchSize = 3 // two batches
	relay := NewRelay(cfg)
	probe := &lockProbe{t: t, inner: e.js, pool: e.pool}
	relay.pub = probe
	n, err := relay.Flush(t.Context())
	if err != nil || n != len(want) {
		t.Fatalf("flush = %d, %v; want %d", n, err, len(want))
	}
	if got := probe.checked.Load(); got != int64(len(want)) {
		t.Fatalf("the probe ran %d times, want %d", got, len(want))
	}
	assertExactlyOnce(t, e, want)
}

// The default lease outlasts a batch's publish and record, and is far
// shorter than JetStream's duplicate window, so that what a dead relay
// published is dropped when it goes again after the lease.
func TestDefaultClaimLease(t *testing.T) {
	r := NewRelay(RelayConfig{})
	if r.lease <= ackTimeout+recordTimeout {
		t.Errorf("default lease %s does not outlast the ack wait (%s) and the record (%s)", r.lease, ackTimeout, recordTimeout)
	}
	if 10*r.lease > events.DuplicateWindow {
		t.Errorf("default lease %s is not far shorter than the duplicate window %s", r.lease, events.DuplicateWindow)
	}
}

// stallingPublisher holds every publish until release is closed, then
// refuses it with err.
type stallingPublisher struct {
	entered chan struct{} // closed at the first publish
	once    sync.Once
	release chan struct{}
	err     error
}

func (p *stallingPublisher) PublishMsgAsync(*nats.Msg, ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	p.once.Do(func() { close(p.entered) })
	<-p.release
	return nil, p.err
}

// A relay whose lease ran out while it was stuck publishing comes back with
// an outcome that no longer counts: the row was claimed and published by
// another relay meanwhile, and the late refusal neither sets it aside nor
// counts an attempt.
func TestStaleOutcomeChangesNothing(t *testing.T) {
	e := setup(t)
	ev := newEvent(t)
	add(t, e.pool, ev)

	cfg := e.config()
	cfg.ClaimLease = 300 * time.Millisecond
	cfg.MaxAttempts = 1 // a refusal would set the row aside at once
	stuck := NewRelay(cfg)
	stall := &stallingPublisher{entered: make(chan struct{}), release: make(chan struct{}),
		err: &jetstream.APIError{Code: 400, ErrorCode: 10999, Description: "refused"}}
	stuck.pub = stall
	done := make(chan error, 1)
	go func() {
		_, err := stuck.Flush(t.Context())
		done <- err
	}()
	<-stall.entered

	other := NewRelay(e.config())
	waitFor(t, 10*time.Second, "the other relay to publish the row once the lease ran out", func() bool {
		n, err := other.Flush(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
	close(stall.release)
	if err := <-done; err == nil {
		t.Error("the stuck relay's flush reported no error for its refused publish")
	}

	var deadLettered, claimed bool
	var attempts int
	var lastError string
	if err := e.pool.QueryRow(t.Context(), `
		SELECT dead_lettered_at IS NOT NULL, claimed_until IS NOT NULL, attempts, coalesce(last_error, '')
		FROM submission.outbox WHERE event_id = $1`, ev.GetId()).Scan(&deadLettered, &claimed, &attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if deadLettered || claimed || attempts != 0 || lastError != "" {
		t.Errorf("after a stale refusal: dead lettered %v, claimed %v, attempts %d, last error %q; want the published row untouched",
			deadLettered, claimed, attempts, lastError)
	}
	assertExactlyOnce(t, e, []*eventsv1.Envelope{ev})
}

// silentPublisher publishes for real but hides the acks, and cancels the
// flush's context once every event is sent, as a shutdown would.
type silentPublisher struct {
	inner  publisher
	cancel context.CancelFunc
	after  int
	n      int
}

// unheardAck is an ack that never arrives.
type unheardAck struct{ msg *nats.Msg }

func (a unheardAck) Ok() <-chan *jetstream.PubAck { return nil }
func (a unheardAck) Err() <-chan error            { return nil }
func (a unheardAck) Msg() *nats.Msg               { return a.msg }

func (p *silentPublisher) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if _, err := p.inner.PublishMsgAsync(msg, opts...); err != nil {
		return nil, err
	}
	if p.n++; p.n == p.after {
		p.cancel()
	}
	return unheardAck{msg}, nil
}

// A flush cancelled while it waits for acks hands its rows back instead of
// leaving them to the lease: the next flush (Run's final one, in a
// shutdown) publishes them at once.
func TestCancelledFlushHandsBackItsRows(t *testing.T) {
	e := setup(t)
	var want []*eventsv1.Envelope
	for range 3 {
		ev := newEvent(t)
		add(t, e.pool, ev)
		want = append(want, ev)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	relay := NewRelay(e.config()) // the default lease: far longer than the test
	relay.pub = &silentPublisher{inner: e.js, cancel: cancel, after: len(want)}
	if _, err := relay.Flush(ctx); err == nil {
		t.Fatal("a flush cancelled while waiting for acks reported no error")
	}
	var claimed int
	if err := e.pool.QueryRow(t.Context(),
		`SELECT count(*) FROM submission.outbox WHERE claimed_until IS NOT NULL`).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 0 {
		t.Errorf("%d rows still claimed after the cancelled flush, want 0", claimed)
	}
	relay.pub = e.js
	if n, err := relay.Flush(t.Context()); err != nil || n != len(want) {
		t.Fatalf("next flush = %d, %v; want %d", n, err, len(want))
	}
	assertExactlyOnce(t, e, want)
}

// Replay clears a claim along with the dead letter, so the replayed row is
// published at the next flush, not when a stale lease ends.
func TestReplayClearsTheClaim(t *testing.T) {
	e := setup(t)
	ev := newEvent(t)
	add(t, e.pool, ev)
	if _, err := e.pool.Exec(t.Context(), `
		UPDATE submission.outbox SET dead_lettered_at = now(), attempts = 1, last_error = 'refused',
		       claimed_until = now() + interval '1 hour'
		WHERE event_id = $1`, ev.GetId()); err != nil {
		t.Fatal(err)
	}
	if n, err := Replay(t.Context(), e.pool, schema, ev.GetId()); err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	if n, err := NewRelay(e.config()).Flush(t.Context()); err != nil || n != 1 {
		t.Fatalf("flush after replay = %d, %v; want 1", n, err)
	}
	assertExactlyOnce(t, e, []*eventsv1.Envelope{ev})
}
