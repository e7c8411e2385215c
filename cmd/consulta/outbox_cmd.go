package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
)

const outboxUsage = `Usage:
  consulta outbox dead-letters --schema SCHEMA [--database-url URL]
      list the events the relay set aside (never published), without payloads
  consulta outbox replay --schema SCHEMA (--event ID ... | --all) [--database-url URL]
      put dead letters back in line; the relay tries them again at once

SCHEMA is a service with an outbox: consultation or submission. Replay
after fixing the cause (for an event too large: raise the NATS server's
max_payload). It reads the database directly (DATABASE_URL by default).
`

// outboxSchemas are the schemas with an outbox.
var outboxSchemas = []string{"consultation", "submission"}

// runOutbox inspects and replays the outbox's dead letters.
func runOutbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "dead-letters" && args[0] != "replay") {
		fmt.Fprint(stderr, outboxUsage)
		if len(args) == 0 {
			return errors.New("outbox: no subcommand")
		}
		return fmt.Errorf("outbox: unknown subcommand %q", args[0])
	}
	sub := args[0]
	fs := flag.NewFlagSet("outbox "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	schema := fs.String("schema", "", "the service schema: consultation or submission")
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "Postgres URL (default $DATABASE_URL)")
	var ids stringList
	all := false
	if sub == "replay" {
		fs.Var(&ids, "event", "id of a dead letter to replay (repeatable)")
		fs.BoolVar(&all, "all", false, "replay every dead letter of the schema")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !slices.Contains(outboxSchemas, *schema) {
		return fmt.Errorf("outbox %s: --schema must be one of %v", sub, outboxSchemas)
	}
	if sub == "replay" && len(ids) == 0 && !all {
		return errors.New("outbox replay: name events with --event ID, or pass --all")
	}
	if *dbURL == "" {
		return fmt.Errorf("outbox %s: no database: set DATABASE_URL or pass --database-url", sub)
	}
	pool, err := postgres.Open(ctx, *dbURL, postgres.PoolConfig{})
	if err != nil {
		return fmt.Errorf("outbox %s: %w", sub, err)
	}
	defer pool.Close()

	if sub == "replay" {
		n, err := outbox.Replay(ctx, pool, *schema, ids...)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d dead letters put back in line\n", n)
		return nil
	}
	dead, err := outbox.DeadLetters(ctx, pool, *schema)
	if err != nil {
		return err
	}
	if len(dead) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EVENT ID\tSUBJECT\tBYTES\tATTEMPTS\tCREATED\tSET ASIDE\tLAST ERROR")
	for _, d := range dead {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", d.EventID, d.Subject, d.Bytes, d.Attempts,
			d.CreatedAt.UTC().Format(time.RFC3339), d.DeadLettered.UTC().Format(time.RFC3339), d.LastError)
	}
	return w.Flush()
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return fmt.Sprint(*l) }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}
