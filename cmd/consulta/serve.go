package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	services := fs.String("services", "all", "services to run: all, or a comma-separated list of "+fmt.Sprint(platform.AllServices))
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, lg, err := platformConfigFromEnv(osLookup)
	if err != nil {
		return err
	}
	if cfg.Services, err = platform.ParseServices(*services); err != nil {
		return err
	}
	if cfg.Logger, err = lg.logger(stderr); err != nil {
		return err
	}
	slog.SetDefault(cfg.Logger) // for code that logs without a logger of its own
	if err := checkServeConfig(cfg); err != nil {
		return err
	}
	p, err := platform.New(ctx, cfg)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}

// checkServeConfig names every missing setting at once, before connecting.
func checkServeConfig(cfg platform.Config) error {
	var missing []error
	needs := func(names ...string) bool {
		for _, n := range names {
			for _, s := range cfg.Services {
				if s == n {
					return true
				}
			}
		}
		return false
	}
	if needs("consultation", "submission", "summary") {
		if cfg.DatabaseURL == "" {
			missing = append(missing, errors.New("DATABASE_URL is not set"))
		}
		if cfg.Auth.JWKSURL == "" && cfg.Auth.JWKSFile == "" && cfg.Auth.Issuer == "" {
			// With only an issuer, its keys are found by OIDC discovery.
			missing = append(missing, errors.New("CONSULTA_JWKS_URL or CONSULTA_JWKS_FILE is not set, nor CONSULTA_JWT_ISSUER for OIDC discovery"))
		}
		if cfg.Auth.Issuer == "" || cfg.Auth.Audience == "" {
			missing = append(missing, errors.New("CONSULTA_JWT_ISSUER and CONSULTA_JWT_AUDIENCE must be set"))
		}
	}
	if needs("consultation", "submission", "summary", "worker") && cfg.NATSURL == "" {
		missing = append(missing, errors.New("NATS_URL is not set"))
	}
	if needs("submission") && len(cfg.SigningKey) == 0 {
		missing = append(missing, errors.New("CONSULTA_SIGNING_KEY is not set (openssl rand -base64 32; the same on every replica)"))
	}
	if needs("submission") && cfg.PublicURL == "" {
		missing = append(missing, errors.New("CONSULTA_PUBLIC_URL is not set (the base of the links in confirmation mail)"))
	}
	if needs("worker", "submission") && cfg.RedisURL == "" {
		missing = append(missing, errors.New("REDIS_URL is not set"))
	}
	return errors.Join(missing...)
}
