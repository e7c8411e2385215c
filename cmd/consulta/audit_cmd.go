package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission"
)

const auditUsage = `Usage:
  consulta audit verify --consultation ID [--database-url URL]
      check the chain of receipts of a consultation and report the first break

It reads the database directly (DATABASE_URL by default), not through the
service, so run it where the database is reachable.
`

// runAudit checks what the platform stores against its own proofs.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, auditUsage)
		if len(args) == 0 {
			return errors.New("audit: no subcommand")
		}
		return fmt.Errorf("audit: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	consultationID := fs.String("consultation", "", "id of the consultation whose chain to check")
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "Postgres URL (default $DATABASE_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *consultationID == "" {
		return errors.New("audit verify: --consultation is required")
	}
	if *dbURL == "" {
		return errors.New("audit verify: no database: set DATABASE_URL or pass --database-url")
	}
	pool, err := postgres.Open(ctx, *dbURL, postgres.PoolConfig{})
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer pool.Close()
	rep, err := submission.VerifyChain(ctx, pool, *consultationID)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	switch {
	case rep.FirstBreak == "":
		fmt.Fprintf(stdout, "chain intact: %d receipts (%d erased)\n", rep.Receipts, rep.Erased)
		return nil
	case rep.BreakAt > 0:
		fmt.Fprintf(stdout, "chain broken at receipt %d: %s\n", rep.BreakAt, rep.FirstBreak)
	default:
		fmt.Fprintf(stdout, "chain broken: %s\n", rep.FirstBreak)
	}
	return fmt.Errorf("audit verify: the chain of consultation %s is broken", *consultationID)
}
