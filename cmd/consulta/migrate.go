package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strings"

	"github.com/consulta-platform/consulta/pkg/dbmigrate"
	"github.com/consulta-platform/consulta/pkg/telemetry"
)

func runMigrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	services := fs.String("services", "", "comma-separated schemas to migrate (default: all of "+strings.Join(dbmigrate.Services(), ", ")+")")
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "Postgres URL (default $DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("no database: set DATABASE_URL or pass --database-url")
	}
	log, err := telemetry.NewLogger(stderr, "text", "info")
	if err != nil {
		return err
	}
	var list []string
	if *services != "" {
		list = strings.Split(*services, ",")
	}
	if err := dbmigrate.Up(ctx, *dbURL, log, list...); err != nil {
		return err
	}
	log.Info("migrations are current")
	return nil
}
