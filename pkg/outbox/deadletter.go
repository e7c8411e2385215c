package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DeadLetter is an outbox row the relay set aside: it could not be published
// and no longer blocks the rows after it.
type DeadLetter struct {
	Seq          int64
	EventID      string
	Subject      string
	Bytes        int
	Attempts     int
	LastError    string
	CreatedAt    time.Time
	DeadLettered time.Time
}

// DeadLetters lists schema's dead letters, oldest first, without their
// payloads.
func DeadLetters(ctx context.Context, pool *pgxpool.Pool, schema string) ([]DeadLetter, error) {
	rows, err := pool.Query(ctx, `
		SELECT seq, event_id::text, subject, octet_length(payload), attempts, coalesce(last_error, ''), created_at, dead_lettered_at
		FROM `+table(schema)+`
		WHERE dead_lettered_at IS NOT NULL AND published_at IS NULL
		ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("outbox dead letters of %s: %w", schema, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		err := row.Scan(&d.Seq, &d.EventID, &d.Subject, &d.Bytes, &d.Attempts, &d.LastError, &d.CreatedAt, &d.DeadLettered)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox dead letters of %s: %w", schema, err)
	}
	return out, nil
}

// Replay puts dead letters back in line: the relay tries them again (after
// the operator fixed the cause, e.g. raised the server's max_payload). No
// ids means every dead letter of schema. It returns how many it requeued.
func Replay(ctx context.Context, pool *pgxpool.Pool, schema string, eventIDs ...string) (int64, error) {
	if schema == "" {
		return 0, errors.New("outbox replay: empty schema")
	}
	q := `UPDATE ` + table(schema) + ` SET dead_lettered_at = NULL, attempts = 0, last_error = NULL, claimed_until = NULL
		WHERE dead_lettered_at IS NOT NULL AND published_at IS NULL`
	args := []any{}
	if len(eventIDs) > 0 {
		q += ` AND event_id::text = ANY($1)`
		args = append(args, eventIDs)
	}
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, schema)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("outbox replay of %s: %w", schema, err)
	}
	return n, nil
}
