package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

const schema = "submission"

type env struct {
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger
}

// config is a relay configuration for the test's database and server.
func (e env) config() RelayConfig {
	return RelayConfig{Pool: e.pool, Schema: schema, JetStream: e.js, Logger: e.log}
}

func setup(t *testing.T) env {
	t.Helper()
	t.Parallel()
	pool := testenv.Pool(t)
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	stream, err := events.EnsureStream(t.Context(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return env{pool: pool, js: js, stream: stream, log: log}
}

func newEvent(t *testing.T) *eventsv1.Envelope {
	t.Helper()
	e, err := events.New(events.SubmissionReceived,
		events.Aggregate{Type: "submission", ID: uuid.NewString(), Version: 1},
		wrapperspb.String("test"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// add commits one event in its own transaction.
func add(t *testing.T, pool *pgxpool.Pool, e *eventsv1.Envelope) {
	t.Helper()
	err := postgres.InTx(t.Context(), pool, func(tx pgx.Tx) error {
		return Add(t.Context(), tx, schema, e)
	})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
}

// streamIDs counts the stream's messages by Nats-Msg-Id, checking that each
// carries the type header and a decodable envelope with the same id.
func streamIDs(t *testing.T, s jetstream.Stream) map[string]int {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("get msg %d: %v", seq, err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			t.Fatalf("msg %d: %v", seq, err)
		}
		if e.GetId() != id || m.Header.Get(events.HeaderType) != e.GetType() || m.Subject != events.Subject(e) {
			t.Fatalf("msg %d: id header %q, type header %q, subject %q; envelope %s %s",
				seq, id, m.Header.Get(events.HeaderType), m.Subject, e.GetId(), e.GetType())
		}
		ids[id]++
	}
	return ids
}

func unpublished(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(),
		`SELECT count(*) FROM submission.outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// assertExactlyOnce checks that the stream holds exactly the events in want,
// once each, and that no outbox row is left unpublished.
func assertExactlyOnce(t *testing.T, e env, want []*eventsv1.Envelope) {
	t.Helper()
	ids := streamIDs(t, e.stream)
	if len(ids) != len(want) {
		t.Errorf("stream has %d distinct events, want %d", len(ids), len(want))
	}
	for _, w := range want {
		if ids[w.GetId()] != 1 {
			t.Errorf("event %s is in the stream %d times, want 1", w.GetId(), ids[w.GetId()])
		}
	}
	if got := streamMsgs(t, e.stream); got != uint64(len(want)) {
		t.Errorf("stream has %d messages, want %d", got, len(want))
	}
	if n := unpublished(t, e.pool); n != 0 {
		t.Errorf("%d outbox rows left unpublished", n)
	}
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

func TestAddRejectsInvalidEnvelope(t *testing.T) {
	e := setup(t)
	bad := newEvent(t)
	bad.Id = "not-a-uuid"
	err := postgres.InTx(t.Context(), e.pool, func(tx pgx.Tx) error {
		return Add(t.Context(), tx, schema, bad)
	})
	if err == nil {
		t.Fatal("Add accepted an envelope without a valid id")
	}
	noType := newEvent(t)
	noType.Type = ""
	err = postgres.InTx(t.Context(), e.pool, func(tx pgx.Tx) error {
		return Add(t.Context(), tx, schema, noType)
	})
	if err == nil {
		t.Fatal("Add accepted an envelope without a type")
	}
}

// A transaction that took a lower seq but commits after a higher seq was
// published must still be published.
func TestLateCommitIsNotSkipped(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	relay := NewRelay(e.config())

	a, b := newEvent(t), newEvent(t)
	txA, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = txA.Rollback(ctx) }()
	if err := Add(ctx, txA, schema, a); err != nil {
		t.Fatal(err)
	}
	add(t, e.pool, b)

	n, err := relay.Flush(ctx)
	if err != nil || n != 1 {
		t.Fatalf("flush with A uncommitted = %d, %v; want 1 (B)", n, err)
	}
	if ids := streamIDs(t, e.stream); ids[b.GetId()] != 1 || ids[a.GetId()] != 0 {
		t.Fatalf("after first flush the stream has %v; want only B", ids)
	}

	var seqA, seqB int64
	if err := txA.QueryRow(ctx, `SELECT seq FROM submission.outbox WHERE event_id = $1`, a.GetId()).Scan(&seqA); err != nil {
		t.Fatal(err)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT seq FROM submission.outbox WHERE event_id = $1`, b.GetId()).Scan(&seqB); err != nil {
		t.Fatal(err)
	}
	if seqA >= seqB {
		t.Fatalf("test setup: seq A %d should be below seq B %d", seqA, seqB)
	}

	n, err = relay.Flush(ctx)
	if err != nil || n != 1 {
		t.Fatalf("flush after A committed = %d, %v; want 1 (A)", n, err)
	}
	assertExactlyOnce(t, e, []*eventsv1.Envelope{a, b})
}

// countingPublisher counts publishes, so that a test sees a row published
// twice even though JetStream's duplicate window would hide it.
type countingPublisher struct {
	inner publisher
	n     atomic.Int64
}

func (p *countingPublisher) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	p.n.Add(1)
	return p.inner.PublishMsgAsync(msg, opts...)
}

// Many writers, with commits in random order, and two relay replicas
// running: every event reaches the stream once, and no row is published
// twice.
func TestConcurrentWritersAndReplicas(t *testing.T) {
	e := setup(t)
	const writers, perWriter = 16, 25

	counter := &countingPublisher{inner: e.js}
	ctx, cancel := context.WithCancel(t.Context())
	var relays sync.WaitGroup
	for range 2 {
		cfg := e.config()
		cfg.BatchSize, cfg.PollInterval = 7, 200*time.Millisecond
		r := NewRelay(cfg)
		r.pub = counter
		relays.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("relay: %v", err)
			}
		})
	}

	var all []*eventsv1.Envelope
	for range writers * perWriter {
		all = append(all, newEvent(t))
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, ev := range all[w*perWriter : (w+1)*perWriter] {
				err := postgres.InTx(ctx, e.pool, func(tx pgx.Tx) error {
					if err := Add(ctx, tx, schema, ev); err != nil {
						return err
					}
					// Hold the transaction open so that commits
					// interleave out of seq order.
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					return nil
				})
				if err != nil {
					t.Errorf("writer: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	waitFor(t, 10*time.Second, "every event in the stream", func() bool {
		return streamMsgs(t, e.stream) == writers*perWriter && unpublished(t, e.pool) == 0
	})
	cancel()
	relays.Wait()

	assertExactlyOnce(t, e, all)
	if got := counter.n.Load(); got != writers*perWriter {
		t.Errorf("relays published %d times for %d events", got, writers*perWriter)
	}
}

// crashingPublisher publishes `after` messages, then panics as if the
// process died: the relay neither waits for acks nor marks its rows.
type crashingPublisher struct {
	inner publisher
	after int
	n     int
}

var errCrash = errors.New("simulated crash")

func (p *crashingPublisher) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if p.n == p.after {
		panic(errCrash)
	}
	p.n++
	return p.inner.PublishMsgAsync(msg, opts...)
}

func flushUntilCrash(t *testing.T, r *Relay) {
	t.Helper()
	defer func() {
		if p := recover(); p != errCrash {
			t.Fatalf("relay did not crash (recovered %v)", p)
		}
	}()
	_, _ = r.Flush(t.Context())
}

// A relay that dies mid-batch leaves its batch claimed: another relay
// publishes the rows that were not in it at once, the claimed ones only once
// the lease has run out, and the stream still has each event once (the
// copies of what the dead relay had published are dropped by Nats-Msg-Id).
func TestRestartMidBatch(t *testing.T) {
	t.Parallel()
	const n = 10
	const lease = 300 * time.Millisecond
	tests := []struct {
		name       string
		batchSize  int
		crashAfter int // publishes before the crash
		marked     int // rows marked before the crash: whole batches only
		claimed    int // rows of the batch the crash interrupted
	}{
		{"crash before the first publish", n, 0, 0, n},
		{"crash mid batch", n, 4, 0, n},
		{"crash before the last publish", n, n - 1, 0, n},
		{"crash in the second batch", 4, 6, 4, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			var want []*eventsv1.Envelope
			for range n {
				ev := newEvent(t)
				add(t, e.pool, ev)
				want = append(want, ev)
			}
			cfg := e.config()
			cfg.BatchSize = tt.batchSize
			cfg.ClaimLease = lease

			crashing := NewRelay(cfg)
			crashing.pub = &crashingPublisher{inner: e.js, after: tt.crashAfter}
			flushUntilCrash(t, crashing)
			if got := unpublished(t, e.pool); got != n-tt.marked {
				t.Fatalf("after the crash %d rows are unpublished, want %d", got, n-tt.marked)
			}
			var claimed []int64
			var leaseEnd time.Time
			if err := e.pool.QueryRow(t.Context(), `
				SELECT coalesce(array_agg(seq), '{}'), coalesce(max(claimed_until), '-infinity') FROM submission.outbox
				WHERE published_at IS NULL AND claimed_until IS NOT NULL`).Scan(&claimed, &leaseEnd); err != nil {
				t.Fatal(err)
			}
			if len(claimed) != tt.claimed {
				t.Fatalf("after the crash %d rows are claimed, want %d", len(claimed), tt.claimed)
			}

			restarted := NewRelay(cfg)
			total := 0
			waitFor(t, 10*time.Second, "every row published", func() bool {
				got, err := restarted.Flush(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				total += got
				return unpublished(t, e.pool) == 0
			})
			if total != n-tt.marked {
				t.Errorf("restarted relay published %d, want %d", total, n-tt.marked)
			}
			// The crashed batch went out only once its lease had run out
			// (both times are the database's); the rows after it did not
			// wait for it.
			var early int
			if err := e.pool.QueryRow(t.Context(), `
				SELECT count(*) FROM submission.outbox WHERE seq = ANY($1) AND published_at < $2`,
				claimed, leaseEnd).Scan(&early); err != nil {
				t.Fatal(err)
			}
			if early != 0 {
				t.Errorf("%d rows of the crashed batch were published before its lease ended", early)
			}
			assertExactlyOnce(t, e, want)
		})
	}
}

// listenerPID returns the backend pid of the relay's LISTEN connection, or 0.
func listenerPID(t *testing.T, pool *pgxpool.Pool) int32 {
	t.Helper()
	var pid int32
	err := pool.QueryRow(t.Context(), `
		SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN%'`,
		ListenerApplicationName(schema)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// With a poll interval of a minute, only the notification on commit can
// publish within the test's time: this checks the wake-up, also after the
// LISTEN connection was killed.
func TestWakeOnCommit(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cfg := e.config()
	cfg.PollInterval = time.Minute
	relay := NewRelay(cfg)
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	var pid int32
	waitFor(t, 5*time.Second, "the relay to LISTEN", func() bool {
		pid = listenerPID(t, e.pool)
		return pid != 0
	})

	first := newEvent(t)
	add(t, e.pool, first)
	waitFor(t, 3*time.Second, "the first event in the stream", func() bool {
		return streamMsgs(t, e.stream) == 1
	})

	// Kill the listener; the relay must reconnect and LISTEN again.
	if _, err := e.pool.Exec(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the relay to LISTEN again", func() bool {
		p := listenerPID(t, e.pool)
		return p != 0 && p != pid
	})
	second := newEvent(t)
	add(t, e.pool, second)
	waitFor(t, 3*time.Second, "the second event in the stream", func() bool {
		return streamMsgs(t, e.stream) == 2
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assertExactlyOnce(t, e, []*eventsv1.Envelope{first, second})
}

// Run's last flush, after its context is cancelled, publishes what is
// pending.
func TestRunFlushesOnShutdown(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ev := newEvent(t)
	add(t, e.pool, ev)
	cfg := e.config()
	cfg.PollInterval = time.Minute
	relay := NewRelay(cfg)
	if err := relay.Run(ctx); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, e, []*eventsv1.Envelope{ev})
}

func TestMetrics(t *testing.T) {
	e := setup(t)
	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Registerer = reg
	relay := NewRelay(cfg)
	_ = NewRelay(cfg) // a second replica shares the collectors
	for range 3 {
		add(t, e.pool, newEvent(t))
	}
	if _, err := relay.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()] = value(m)
		}
	}
	want := map[string]float64{"consulta_outbox_published_total": 3, "consulta_outbox_pending": 0}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	panic(fmt.Sprintf("unexpected metric %v", m))
}
