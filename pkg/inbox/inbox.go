// Package inbox makes a consumer's Postgres effects happen exactly once.
//
// JetStream delivers at least once: a handler whose ack is lost, or that ran
// past its ack wait, sees the same event again. The inbox records the event
// id in <schema>.inbox in the same transaction as the handler's effect, so
// the effect and the record commit together or not at all, and a redelivered
// event finds its id already there and changes nothing.
package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/consumer"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
)

// Handler returns a consumer.Handler that runs fn in a transaction which also
// inserts (consumerName, env.Id) into <schema>.inbox. An event already in the
// inbox is acknowledged without calling fn, so a redelivered event changes
// nothing. When fn fails, the transaction rolls back, the inbox row with it,
// and the error goes back to the consumer (wrap it with consumer.Permanent
// when retrying cannot help).
//
// Two deliveries of one event at the same time are safe too: the second
// insert waits on the first transaction's row, then finds it committed and
// skips fn (or, if the first rolled back, goes ahead).
func Handler(pool *pgxpool.Pool, schema, consumerName string, fn func(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error) consumer.Handler {
	insert := `INSERT INTO ` + pgx.Identifier{schema, "inbox"}.Sanitize() + ` (consumer, event_id)
		VALUES ($1, $2) ON CONFLICT DO NOTHING`
	return func(ctx context.Context, env *eventsv1.Envelope) error {
		return postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, insert, consumerName, env.GetId())
			if err != nil {
				return fmt.Errorf("inbox %s.%s: record event %s: %w", schema, consumerName, env.GetId(), err)
			}
			if tag.RowsAffected() == 0 {
				return nil // already applied
			}
			if err := fn(ctx, tx, env); err != nil {
				return fmt.Errorf("%s: event %s (%s): %w", consumerName, env.GetId(), env.GetType(), err)
			}
			return nil
		})
	}
}

// Prune deletes rows of schema's inbox recorded before `before`, at most
// batch rows per statement, and returns how many it deleted. An inbox row
// only matters while JetStream may still deliver its event again: once the
// event is older than the stream keeps messages and than any consumer's
// redelivery horizon, no copy of it can arrive, and its row can go.
func Prune(ctx context.Context, pool *pgxpool.Pool, schema string, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	t := pgx.Identifier{schema, "inbox"}.Sanitize()
	q := `DELETE FROM ` + t + ` WHERE (consumer, event_id) IN (
		SELECT consumer, event_id FROM ` + t + ` WHERE processed_at < $1 ORDER BY processed_at LIMIT $2)`
	var total int64
	for {
		tag, err := pool.Exec(ctx, q, before, batch)
		if err != nil {
			return total, fmt.Errorf("prune inbox of %s: %w", schema, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
