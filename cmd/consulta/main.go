// Command consulta is the one binary of the platform. Subcommands:
//
//	consulta dev       every service in one process on embedded defaults
//	consulta serve     the selected services (--services=all|consultation,...)
//	consulta migrate   apply the SQL migrations of each service schema
//	consulta token     mint a development token
//	consulta consultation create|update|export   consultations as YAML files
//	consulta api       call any RPC with a JSON request
//	consulta audit     check the chain of receipts of a consultation, or a
//	                   submitter's receipt against their content and key
//	consulta outbox    list and replay the outbox's dead letters
//	consulta jobs      list the worker's failed jobs with their reason
//
// This package reads flags and the environment and wires; the work is done in
// cmd/consulta/internal/platform and services/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "consulta:", err)
		os.Exit(1)
	}
}

const usage = `consulta: multi-stakeholder consultations ahead of policy dialogues

Usage:
  consulta dev                       run every service on embedded defaults
  consulta serve [--services=all]    run services (configured by the environment)
  consulta migrate [--services=...]  apply database migrations (DATABASE_URL)
  consulta token --role ROLE [--country CC] [--sub ID]
                                     mint a development token
  consulta consultation create -f FILE | update -f FILE --id ID | export ID
                                     keep a consultation in a YAML file
  consulta api SERVICE.METHOD [JSON] call any RPC (consulta api list)
  consulta audit verify --consultation ID [--database-url URL]
                                     check a consultation's chain of receipts
  consulta audit receipt [--file FILE] [--key HEX]
                                     check that your receipt commits to your content
  consulta outbox dead-letters|replay --schema SCHEMA
                                     list and replay events the relay set aside
  consulta jobs failed [--redis-url URL] [--queue-prefix PREFIX]
                                     list failed jobs with the error of their last run

Run "consulta <command> -h" for the flags of a command.
`

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stderr)
	case "token":
		return runToken(rest, stdout, stderr)
	case "consultation":
		return runConsultation(ctx, rest, stdout, stderr)
	case "api":
		return runAPI(ctx, rest, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, stdout, stderr)
	case "outbox":
		return runOutbox(ctx, rest, stdout, stderr)
	case "jobs":
		return runJobs(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
