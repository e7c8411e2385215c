package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/testenv"
)

// An operator lists a dead letter (without its payload) and replays it.
func TestOutboxDeadLettersAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testenv.DatabaseURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	id := uuid.NewString()
	if _, err := pool.Exec(ctx, `INSERT INTO submission.outbox (event_id, subject, payload, attempts, last_error, dead_lettered_at)
		VALUES ($1, 'consulta.submission.received', 'SECRET-PAYLOAD', 1, 'nats: maximum payload exceeded', now())`, id); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := realMain(ctx, append([]string{"outbox"}, append(args, "--database-url", dbURL)...), &out, &errOut); err != nil {
			t.Fatalf("consulta outbox %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	listed := run("dead-letters", "--schema", "submission")
	if !strings.Contains(listed, id) || !strings.Contains(listed, "maximum payload exceeded") || strings.Contains(listed, "SECRET") {
		t.Fatalf("dead-letters printed:\n%s", listed)
	}
	if out := run("replay", "--schema", "submission", "--event", id); !strings.Contains(out, "1 dead letters") {
		t.Fatalf("replay printed %q", out)
	}
	var pending bool
	if err := pool.QueryRow(ctx, `SELECT dead_lettered_at IS NULL AND published_at IS NULL FROM submission.outbox WHERE event_id = $1`, id).Scan(&pending); err != nil || !pending {
		t.Fatalf("after replay the row is pending: %v (%v)", pending, err)
	}
	if out := run("dead-letters", "--schema", "submission"); !strings.Contains(out, "no dead letters") {
		t.Fatalf("after replay: %s", out)
	}
}
