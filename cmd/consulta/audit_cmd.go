package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protojson"

	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission"
)

const auditUsage = `Usage:
  consulta audit verify --consultation ID [--database-url URL]
      check the chain of receipts of a consultation and report the first break
  consulta audit receipt [--file FILE] [--key HEX]
      check that a receipt commits to exactly your content (docs/receipts.md)

verify reads the database directly (DATABASE_URL by default), not through the
service, so run it where the database is reachable. receipt reads the JSON
response of your create, update or withdraw request (FILE, or standard input)
and needs nothing else: it asks no server.
`

// runAudit checks what the platform stores against its own proofs.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "receipt" {
		return runAuditReceipt(args[1:], os.Stdin, stdout, stderr)
	}
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
		if rep.StoredOnly > 0 {
			fmt.Fprintf(stdout, "%d receipts stand on their stored digest: nothing is left to recompute them from\n", rep.StoredOnly)
		}
		return nil
	case rep.BreakAt > 0:
		fmt.Fprintf(stdout, "chain broken at receipt %d: %s\n", rep.BreakAt, rep.FirstBreak)
	default:
		fmt.Fprintf(stdout, "chain broken: %s\n", rep.FirstBreak)
	}
	return fmt.Errorf("audit verify: the chain of consultation %s is broken", *consultationID)
}

// runAuditReceipt checks a submitter's receipt against the content and the
// receipt key of the response they kept.
func runAuditReceipt(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit receipt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "-", "the JSON response of CreateSubmission, UpdateSubmission or WithdrawSubmission (- for standard input)")
	key := fs.String("key", "", "the receipt key in hex (default: the response's receiptKey)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("audit receipt: %w", err)
		}
		defer f.Close()
		in = f
	}
	b, err := io.ReadAll(io.LimitReader(in, 64<<20))
	if err != nil {
		return fmt.Errorf("audit receipt: read the response: %w", err)
	}
	// The three responses share the fields read here (submission and
	// receipt_key), so one message reads any of them.
	var resp submissionv1.CreateSubmissionResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("audit receipt: not a submission response: %w", err)
	}
	k := *key
	if k == "" {
		k = resp.GetReceiptKey()
	}
	if k == "" {
		return errors.New("audit receipt: no receipt key: pass --key, or the response that came with it")
	}
	if err := submission.CheckReceipt(resp.GetSubmission(), k); err != nil {
		fmt.Fprintf(stdout, "receipt does not hold: %v\n", err)
		return errors.New("audit receipt: the receipt does not commit to this content")
	}
	r := resp.GetSubmission().GetReceipt()
	fmt.Fprintf(stdout, "receipt %s commits to this content: version %d of submission %s, receipt %d of consultation %s\n",
		r.GetReceiptId(), r.GetVersion(), r.GetSubmissionId(), r.GetSequence(), r.GetConsultationId())
	return nil
}
