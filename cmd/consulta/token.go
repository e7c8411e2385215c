package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/consulta-platform/consulta/pkg/auth"
)

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "secretariat, colead or stakeholder")
	country := fs.String("country", "", "ISO 3166-1 alpha-2 country the caller acts for (required for colead)")
	sub := fs.String("sub", "", "subject (user id); default <role>-<country>")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime of the token")
	keyPath := fs.String("key", auth.DefaultDevKeyPath(), "development signing key (created when missing; $"+auth.DevKeyEnv+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *role == "" {
		return errors.New("--role is required (secretariat, colead or stakeholder)")
	}
	if *sub == "" {
		*sub = *role
		if *country != "" {
			*sub += "-" + *country
		}
	}
	key, err := auth.LoadOrCreateDevKey(*keyPath)
	if err != nil {
		return err
	}
	tok, err := key.Mint(auth.Principal{Subject: *sub, Role: auth.Role(*role), Country: *country}, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
