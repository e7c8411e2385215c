package outbox

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/consulta-platform/consulta/pkg/events"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// BenchmarkRelayFlush measures how fast one relay moves committed events from
// the outbox to JetStream: each iteration commits 1,000 events (not timed)
// and times the Flush that publishes them. It reports events/s.
//
//	go test -run '^$' -bench RelayFlush -benchtime 20x ./pkg/outbox/
func BenchmarkRelayFlush(b *testing.B) {
	const perIteration = 1000
	pool := testenv.Pool(b)
	nc, err := nats.Connect(testenv.NATS(b))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := events.EnsureStream(b.Context(), js, 1); err != nil {
		b.Fatal(err)
	}
	relay := NewRelay(RelayConfig{Pool: pool, Schema: schema, JetStream: js,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BatchSize: 500})

	var published int
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		err := postgres.InTx(b.Context(), pool, func(tx pgx.Tx) error {
			for range perIteration {
				e, err := events.New(events.SubmissionReceived,
					events.Aggregate{Type: "submission", ID: uuid.NewString(), Version: 1},
					wrapperspb.String("benchmark payload of a modest size"), time.Now())
				if err != nil {
					return err
				}
				if err := Add(b.Context(), tx, schema, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		n, err := relay.Flush(b.Context())
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if n != perIteration {
			b.Fatalf("flushed %d events, want %d", n, perIteration)
		}
		published += n
	}
	b.ReportMetric(float64(published)/elapsed.Seconds(), "events/s")
}
