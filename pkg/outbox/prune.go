package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Prune deletes rows of schema's outbox published before `before`, at most
// batch rows per statement (so that no statement holds locks for long), and
// returns how many it deleted. Unpublished rows and dead letters are never
// deleted. A row is worth keeping while a republish could still reach
// JetStream inside its duplicate window; the caller's retention must be
// well past it (events.DuplicateWindow).
func Prune(ctx context.Context, pool *pgxpool.Pool, schema string, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	q := `DELETE FROM ` + table(schema) + ` WHERE seq IN (
		SELECT seq FROM ` + table(schema) + ` WHERE published_at < $1 ORDER BY published_at LIMIT $2)`
	var total int64
	for {
		tag, err := pool.Exec(ctx, q, before, batch)
		if err != nil {
			return total, fmt.Errorf("prune outbox of %s: %w", schema, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
