package outbox

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// insertRaw writes an outbox row directly, as a row written before the
// write-time limit existed (or under a larger one) would be.
func insertRaw(t *testing.T, e env, id, subject string, payload []byte) {
	t.Helper()
	if _, err := e.pool.Exec(t.Context(),
		`INSERT INTO submission.outbox (event_id, subject, payload) VALUES ($1, $2, $3)`, id, subject, payload); err != nil {
		t.Fatal(err)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
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
	return got
}

// A row larger than the server's max_payload sits first in the outbox: the
// relay sets it aside and publishes every row behind it, in the same flush.
func TestTooLargeRowIsDeadLetteredAndTheRestPublished(t *testing.T) {
	e := setup(t)
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	huge := make([]byte, nc.MaxPayload()+1)
	poisonID := uuid.NewString()
	insertRaw(t, e, poisonID, events.SubmissionReceived, huge)
	var behind []*eventsv1.Envelope
	for range 5 {
		ev := newEvent(t)
		add(t, e.pool, ev)
		behind = append(behind, ev)
	}

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.BatchSize = 2 // the poison row and the rest span several batches
	cfg.Registerer = reg
	relay := NewRelay(cfg)
	n, err := relay.Flush(t.Context())
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
	if n != len(behind) {
		t.Errorf("published %d, want %d", n, len(behind))
	}
	ids := streamIDs(t, e.stream)
	for _, ev := range behind {
		if ids[ev.GetId()] != 1 {
			t.Errorf("event %s behind the poison row is in the stream %d times", ev.GetId(), ids[ev.GetId()])
		}
	}
	if ids[poisonID] != 0 {
		t.Error("the oversize event reached the stream")
	}

	dead, err := DeadLetters(t.Context(), e.pool, schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].EventID != poisonID || dead[0].Bytes != len(huge) || !strings.Contains(dead[0].LastError, "payload") {
		t.Fatalf("dead letters = %+v, want the oversize row with its error", dead)
	}
	m := gather(t, reg)
	if m["consulta_outbox_dead_lettered_total"] != 1 || m["consulta_outbox_dead_letters"] != 1 ||
		m["consulta_outbox_pending"] != 0 || m["consulta_outbox_oldest_unpublished_age_seconds"] != 0 {
		t.Errorf("metrics = %v", m)
	}

	// A later flush does not try it again; a replay does, and it stays a
	// dead letter while the server still refuses it.
	if n, err := relay.Flush(t.Context()); err != nil || n != 0 {
		t.Fatalf("second flush = %d, %v", n, err)
	}
	if n, err := Replay(t.Context(), e.pool, schema, poisonID); err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	if unpublished(t, e.pool) != 1 {
		t.Fatal("a replayed dead letter is not pending again")
	}
	if _, err := relay.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if dead, _ := DeadLetters(t.Context(), e.pool, schema); len(dead) != 1 {
		t.Fatalf("after a replay that still fails: %d dead letters, want 1", len(dead))
	}
}

// refusingPublisher refuses one event id with a JetStream API error, as a
// stream would refuse a message it can never take.
type refusingPublisher struct {
	inner publisher
	id    string
	err   error
}

func (p *refusingPublisher) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if msg.Header.Get(jetstream.MsgIDHeader) == p.id {
		return nil, p.err
	}
	return p.inner.PublishMsgAsync(msg, opts...)
}

// A row refused for good is retried MaxAttempts times, never blocking the
// rows after it, then set aside; a transiently failing row is never set
// aside.
func TestPermanentlyRefusedRowIsDeadLetteredAfterMaxAttempts(t *testing.T) {
	e := setup(t)
	bad := newEvent(t)
	add(t, e.pool, bad)
	cfg := e.config()
	cfg.MaxAttempts = 3
	relay := NewRelay(cfg)
	relay.pub = &refusingPublisher{inner: e.js, id: bad.GetId(),
		err: &jetstream.APIError{Code: 400, ErrorCode: 10999, Description: "refused"}}

	var others []*eventsv1.Envelope
	for i := range cfg.MaxAttempts {
		ev := newEvent(t)
		add(t, e.pool, ev)
		others = append(others, ev)
		_, err := relay.Flush(t.Context())
		dead, derr := DeadLetters(t.Context(), e.pool, schema)
		if derr != nil {
			t.Fatal(derr)
		}
		if i < cfg.MaxAttempts-1 {
			if err == nil || len(dead) != 0 {
				t.Fatalf("attempt %d: err %v, %d dead letters; want an error and none yet", i+1, err, len(dead))
			}
		} else if err != nil || len(dead) != 1 || dead[0].Attempts != cfg.MaxAttempts {
			t.Fatalf("attempt %d: err %v, dead letters %+v; want the row set aside", i+1, err, dead)
		}
		if ids := streamIDs(t, e.stream); ids[ev.GetId()] != 1 {
			t.Fatalf("attempt %d: the event behind the refused one was not published", i+1)
		}
	}

	transient := newEvent(t)
	add(t, e.pool, transient)
	relay.pub = &refusingPublisher{inner: e.js, id: transient.GetId(), err: nats.ErrConnectionClosed}
	for range cfg.MaxAttempts + 2 {
		if _, err := relay.Flush(t.Context()); err == nil {
			t.Fatal("a failing publish reported no error")
		}
	}
	if dead, _ := DeadLetters(t.Context(), e.pool, schema); len(dead) != 1 {
		t.Fatalf("a transient failure made a dead letter: %+v", dead)
	}
	relay.pub = e.js
	if n, err := relay.Flush(t.Context()); err != nil || n != 1 {
		t.Fatalf("once NATS is back: %d, %v", n, err)
	}
}

// Add refuses an event over the limit, as an invalid-input error that a
// service names a field in, and writes nothing.
func TestAddRefusesTooLargeEvent(t *testing.T) {
	e := setup(t)
	big, err := events.New(events.SubmissionReceived, events.Aggregate{Type: "submission", ID: uuid.NewString(), Version: 1},
		wrapperspb.String(strings.Repeat("x", MaxEventBytes())), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = postgres.InTx(t.Context(), e.pool, func(tx pgx.Tx) error {
		return Add(t.Context(), tx, schema, newEvent(t), big)
	})
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.EventID != big.GetId() || tl.Limit != MaxEventBytes() || tl.Size <= tl.Limit {
		t.Fatalf("Add = %v, want a *TooLargeError for %s", err, big.GetId())
	}
	if st, ok := apperr.Status(err); !ok || st.Code().String() != "InvalidArgument" {
		t.Errorf("unnamed refusal maps to %v, want InvalidArgument", st)
	}
	named := WithField(err, "answers", "the answers are")
	var ae *apperr.Error
	if !errors.As(named, &ae) || ae.Kind != apperr.KindInvalid || ae.Field != "answers" {
		t.Fatalf("WithField = %v, want an invalid-input error about answers", named)
	}
	var n int
	if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM submission.outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox has %d rows after a refused Add (%v)", n, err)
	}
}

// The age gauge reports how long the oldest unpublished row has waited,
// also while publishing fails, and returns to zero once it is published.
func TestOldestUnpublishedAgeGauge(t *testing.T) {
	e := setup(t)
	ev := newEvent(t)
	add(t, e.pool, ev)
	if _, err := e.pool.Exec(t.Context(),
		`UPDATE submission.outbox SET created_at = now() - interval '90 seconds' WHERE event_id = $1`, ev.GetId()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Registerer = reg
	relay := NewRelay(cfg)
	relay.pub = &refusingPublisher{inner: e.js, id: ev.GetId(), err: nats.ErrConnectionClosed}
	if _, err := relay.Flush(t.Context()); err == nil {
		t.Fatal("flush with NATS refusing succeeded")
	}
	m := gather(t, reg)
	if age := m["consulta_outbox_oldest_unpublished_age_seconds"]; age < 90 || age > 3600 {
		t.Errorf("age gauge = %v, want about 90s", age)
	}
	if m["consulta_outbox_pending"] != 1 {
		t.Errorf("pending = %v, want 1", m["consulta_outbox_pending"])
	}
	relay.pub = e.js
	if _, err := relay.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if age := gather(t, reg)["consulta_outbox_oldest_unpublished_age_seconds"]; age != 0 {
		t.Errorf("age gauge after publishing = %v, want 0", age)
	}
}

// Published rows older than the retention are pruned, in batches; newer
// ones, unpublished ones and dead letters stay.
func TestPrune(t *testing.T) {
	e := setup(t)
	relay := NewRelay(e.config())
	var all []*eventsv1.Envelope
	for range 7 {
		ev := newEvent(t)
		add(t, e.pool, ev)
		all = append(all, ev)
	}
	if _, err := relay.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Five were published 8 days ago, two just now.
	for _, ev := range all[:5] {
		if _, err := e.pool.Exec(t.Context(),
			`UPDATE submission.outbox SET published_at = now() - interval '8 days' WHERE event_id = $1`, ev.GetId()); err != nil {
			t.Fatal(err)
		}
	}
	pending := newEvent(t)
	add(t, e.pool, pending)
	deadID := uuid.NewString()
	insertRaw(t, e, deadID, events.SubmissionReceived, []byte("x"))
	if _, err := e.pool.Exec(t.Context(),
		`UPDATE submission.outbox SET dead_lettered_at = now() - interval '30 days', created_at = now() - interval '30 days' WHERE event_id = $1`, deadID); err != nil {
		t.Fatal(err)
	}

	n, err := Prune(t.Context(), e.pool, schema, time.Now().Add(-7*24*time.Hour), 2)
	if err != nil || n != 5 {
		t.Fatalf("prune = %d, %v; want 5", n, err)
	}
	var left []string
	rows, err := e.pool.Query(t.Context(), `SELECT event_id::text FROM submission.outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{all[5].GetId(), all[6].GetId(), pending.GetId(), deadID}
	if strings.Join(left, ",") != strings.Join(want, ",") {
		t.Errorf("left %v, want %v", left, want)
	}
}
