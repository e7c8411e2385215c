package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/consulta-platform/consulta/pkg/jobs"
)

const jobsUsage = `Usage:
  consulta jobs failed [--redis-url URL] [--queue-prefix PREFIX]
      list the worker's failed jobs with the error of their last run:
      archived (given up: a permanent error, or retries ran out) first, then
      those waiting for a retry, newest failure first

It reads Redis directly (REDIS_URL and CONSULTA_QUEUE_PREFIX by default).
An archived job is not run again by itself: fix the cause, then let the
reconciler re-create what is missing (it runs at the worker's start and every
CONSULTA_RECONCILE_INTERVAL).
`

// runJobs lists the worker's failed jobs.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "failed" {
		fmt.Fprint(stderr, jobsUsage)
		if len(args) == 0 {
			return errors.New("jobs: no subcommand")
		}
		return fmt.Errorf("jobs: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("jobs failed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	redisURL := fs.String("redis-url", os.Getenv("REDIS_URL"), "Redis URL (default $REDIS_URL)")
	prefix := fs.String("queue-prefix", os.Getenv("CONSULTA_QUEUE_PREFIX"), "prefix of the queue names (default $CONSULTA_QUEUE_PREFIX)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *redisURL == "" {
		return errors.New("jobs failed: no Redis: set REDIS_URL or pass --redis-url")
	}
	cfg := jobs.Config{RedisURL: *redisURL, QueuePrefix: *prefix}
	insp, err := jobs.NewInspector(cfg)
	if err != nil {
		return fmt.Errorf("jobs failed: %w", err)
	}
	defer insp.Close()
	failed, err := jobs.Failed(insp, cfg)
	if err != nil {
		return fmt.Errorf("jobs failed: %w", err)
	}
	if len(failed) == 0 {
		fmt.Fprintln(stdout, "no failed jobs")
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STATE\tQUEUE\tTYPE\tID\tRETRIED\tLAST FAILED\tNEXT TRY\tLAST ERROR")
	for _, f := range failed {
		next := "-"
		if !f.NextTryAt.IsZero() {
			next = f.NextTryAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", f.State, f.Queue, f.Type, f.ID, f.Retried, f.MaxRetry,
			f.LastFailedAt.UTC().Format(time.RFC3339), next, oneLine(f.LastError, 300))
	}
	return w.Flush()
}

// oneLine keeps an error on its line of the table: line breaks become
// spaces, and it is cut after n bytes.
func oneLine(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' || c == '\t' {
			b[i] = ' '
		}
	}
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
