package retention_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/consulta-platform/consulta/pkg/retention"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Outbox rows published before the outbox retention and inbox rows recorded
// before the inbox retention are pruned, in batches smaller than what there
// is; everything else stays: recent rows, unpublished rows, dead letters.
func TestPruneKeepsWhatIsStillNeeded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := testenv.Pool(t)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	outbox := func(age string, published, dead bool) string {
		id := uuid.NewString()
		exec(`INSERT INTO consultation.outbox (event_id, subject, payload, created_at, published_at, dead_lettered_at)
			VALUES ($1, 'consulta.test', '\x00', now() - $2::interval,
			        CASE WHEN $3 THEN now() - $2::interval END, CASE WHEN $4 THEN now() - $2::interval END)`,
			id, age, published, dead)
		return id
	}
	inbox := func(age string) string {
		id := uuid.NewString()
		exec(`INSERT INTO consultation.inbox (consumer, event_id, processed_at) VALUES ('c', $1, now() - $2::interval)`, id, age)
		return id
	}
	var oldPublished []string
	for range 5 {
		oldPublished = append(oldPublished, outbox("8 days", true, false))
	}
	keepOutbox := []string{outbox("6 days", true, false), outbox("40 days", false, false), outbox("40 days", false, true)}
	var oldInbox []string
	for range 3 {
		oldInbox = append(oldInbox, inbox("31 days"))
	}
	keepInbox := []string{inbox("29 days"), inbox("1 second")}

	reg := prometheus.NewRegistry()
	cfg := retention.Config{Pool: pool, Schema: "consultation", Outbox: true, BatchSize: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: reg}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- retention.Run(runCtx, cfg) }()
	deadline := time.Now().Add(10 * time.Second)
	for counter(t, reg, "outbox")+counter(t, reg, "inbox") < 8 {
		if time.Now().After(deadline) {
			t.Fatal("Run pruned nothing within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	count := func(table string, ids []string) int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM consultation.`+table+` WHERE event_id::text = ANY($1)`, ids).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("outbox", oldPublished); n != 0 {
		t.Errorf("%d old published outbox rows left", n)
	}
	if n := count("outbox", keepOutbox); n != len(keepOutbox) {
		t.Errorf("%d of %d outbox rows to keep are left", n, len(keepOutbox))
	}
	if n := count("inbox", oldInbox); n != 0 {
		t.Errorf("%d old inbox rows left", n)
	}
	if n := count("inbox", keepInbox); n != len(keepInbox) {
		t.Errorf("%d of %d inbox rows to keep are left", n, len(keepInbox))
	}
	if o, i := counter(t, reg, "outbox"), counter(t, reg, "inbox"); o != 5 || i != 3 {
		t.Errorf("pruned counters: outbox %v, inbox %v; want 5 and 3", o, i)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, table string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					v = m.GetCounter().GetValue()
				}
			}
		}
	}
	return v
}
