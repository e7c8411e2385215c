package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/devenv"
	"github.com/consulta-platform/consulta/pkg/devmail"
	"github.com/consulta-platform/consulta/pkg/natsacl"
	"github.com/consulta-platform/consulta/pkg/telemetry"
	"github.com/consulta-platform/consulta/services/submission"
	"github.com/consulta-platform/consulta/services/worker"
)

// runDev runs every service in one process on embedded defaults: an
// in-process NATS JetStream server, Postgres and Redis from the environment,
// the machine, or started from local binaries, and the development token
// issuer.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", "127.0.0.1:8080", "REST/JSON gateway address")
	grpcAddr := fs.String("grpc", "127.0.0.1:9090", "gRPC address")
	metricsAddr := fs.String("metrics", "127.0.0.1:9100", "Prometheus metrics address (empty disables)")
	dataDir := fs.String("data-dir", "", "where the in-process NATS server keeps its files, under nats/ (default: beside the development key, one store per database; a temporary directory with a throwaway Postgres)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	keyPath := fs.String("key", auth.DefaultDevKeyPath(), "development signing key (created when missing)")
	mailAddr := fs.String("mail", "127.0.0.1:8025", "web page of the mail catcher, used when CONSULTA_SMTP_URL is not set (loopback only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := telemetry.NewLogger(stderr, "text", *logLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log) // for code that logs without a logger of its own
	started := time.Now()

	key, err := auth.LoadOrCreateDevKey(*keyPath)
	if err != nil {
		return err
	}
	// Next to the development key: the secret behind edit secrets and
	// confirmation links, kept so that they survive a restart.
	dataHome := filepath.Dir(*keyPath)
	signingKey, err := loadOrCreateSecret(filepath.Join(dataHome, "dev-signing-secret"))
	if err != nil {
		return err
	}

	pg, err := devenv.StartPostgres(ctx, log, devenv.PostgresOptions{})
	if err != nil {
		return explainMissing(err)
	}
	defer pg.Stop()
	dbURL := pg.URL
	redisURL, stopRedis, err := devenv.Redis(ctx, log)
	if err != nil {
		return explainMissing(err)
	}
	defer stopRedis()
	// NATS keeps its files as long as the database it relays from: events
	// published but not yet consumed must survive a Ctrl-C or a kill.
	storeDir := devenv.DevNATSStoreDir(*dataDir, dataHome, dbURL, pg.Throwaway)
	if storeDir == "" {
		tmp, err := os.MkdirTemp("", "consulta-dev-nats-")
		if err != nil {
			return fmt.Errorf("NATS store dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		storeDir = tmp
	} else if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return fmt.Errorf("NATS store dir: %w", err)
	}
	// The NATS server's own notices drown the platform's; show its warnings only.
	natsLog, err := telemetry.NewLogger(stderr, "text", "warn")
	if err != nil {
		return err
	}
	// The in-process server accepts only this process: a user with a
	// password made for this run and the permissions of every service, so
	// that nothing else on the machine publishes events into it.
	natsUser := devenv.NATSUser{Name: "consulta", Password: rand.Text(), Permissions: natsacl.All().Server()}
	natsURL, stopNATS, err := devenv.NATSURL(devenv.NATSOptions{Port: -1, StoreDir: storeDir, Log: natsLog.With("component", "nats"),
		Users: []devenv.NATSUser{natsUser}})
	if err != nil {
		return err
	}
	defer stopNATS()

	// Without a mail server of its own, mail goes to the catcher: .eml
	// files beside the dev data and a page that lists them.
	smtpURL, mailNote := os.Getenv("CONSULTA_SMTP_URL"), "sent through CONSULTA_SMTP_URL"
	if smtpURL == "" {
		catcher, err := devmail.Start(devmail.Options{Dir: filepath.Join(dataHome, "mail"), SMTPAddr: "127.0.0.1:0",
			HTTPAddr: *mailAddr, Log: log.With("component", "devmail")})
		if err != nil {
			return err
		}
		defer catcher.Close()
		smtpURL = catcher.SMTPURL()
		mailNote = fmt.Sprintf("%s  (caught: files in %s)", catcher.PageURL(), catcher.Dir())
	}

	tr, stopTranslator, err := devTranslator(ctx, log)
	if err != nil {
		return err
	}
	defer stopTranslator()

	p, err := platform.New(ctx, platform.Config{
		Services:    platform.AllServices,
		DatabaseURL: dbURL,
		RedisURL:    redisURL,
		NATSURL:     natsURL,
		// A NATS_URL with credentials in it wins over these.
		NATS:        platform.NATSAuth{User: natsUser.Name, Password: natsUser.Password},
		GRPCAddr:    *grpcAddr,
		HTTPAddr:    *httpAddr,
		MetricsAddr: *metricsAddr,
		Auth: auth.VerifierConfig{
			JWKS:     key.JWKS(),
			Issuer:   auth.DevIssuer,
			Audience: auth.DevAudience,
		},
		DevJWKS:         key.JWKS(),
		JobPollInterval: 200 * time.Millisecond,
		Translator:      tr.config,
		Migrate:         true,
		Logger:          log,
		SigningKey:      signingKey,
		PublicURL:       "http://" + *httpAddr,
		BlobStoreURL:    "file://" + filepath.Join(dataHome, "blobs"),
		Mail:            submission.MailConfig{SMTPURL: smtpURL, From: os.Getenv("CONSULTA_MAIL_FROM"), SendTimeout: 10 * time.Second},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
Consulta is running (ready in %s).

  REST/JSON  http://%s/v1/   (OpenAPI: http://%s/openapi.json)
  gRPC       %s            (reflection on: grpcurl -plaintext %s list)
  metrics    %s
  Postgres   %s
  Redis      %s
  NATS       %s  (files in %s; user consulta, password made for this run)
  Mail       %s
  Translate  %s

Tokens come from the development issuer:
  consulta token --role colead --country BR
  consulta token --role stakeholder --sub ana

Stop with Ctrl-C.
`, time.Since(started).Round(time.Millisecond), p.HTTPAddr(), p.HTTPAddr(), p.GRPCAddr(), p.GRPCAddr(),
		metricsURL(p.MetricsAddr()), redact(dbURL), redisURL, natsURL, storeDir, mailNote, tr.banner)
	return p.Run(ctx)
}

// devTranslation is the machine translation of consulta dev.
type devTranslation struct {
	config worker.TranslatorConfig
	// banner says what translates, or what to install.
	banner string
}

// devTranslator reads the translation settings as consulta serve does.
// Apertium, the default when installed, runs as a throwaway apertium-apy
// (pipelines stay warm between texts) or, without apertium-apy, as the
// apertium command. Without a translator everything else works and texts
// wait for a review; the banner says what to install.
func devTranslator(ctx context.Context, log *slog.Logger) (devTranslation, func(), error) {
	e := &env{lookup: os.LookupEnv}
	c := translatorFromEnv(e)
	if err := e.err(); err != nil {
		return devTranslation{}, nil, err
	}
	nothing := func() {}
	switch c.Provider {
	case "", "none":
		banner := "none: texts wait for a review"
		if c.Provider == "" {
			banner += "; for Apertium translations: " + worker.ApertiumInstall
			log.Warn("no machine translation: Apertium is not installed", "install", worker.ApertiumInstall)
		}
		return devTranslation{config: c, banner: banner}, nothing, nil
	case "apertium":
		if c.ApertiumURL != "" {
			return devTranslation{config: c, banner: "apertium-apy at " + c.ApertiumURL}, nothing, nil
		}
		url, stop, err := devenv.StartApertiumAPY(ctx, log, "")
		if err != nil {
			// The command alone translates too, only slower.
			log.Info("apertium-apy not started; translating with the apertium command", "err", err)
			return devTranslation{config: c, banner: "apertium (command)"}, nothing, nil
		}
		c.ApertiumURL = url
		return devTranslation{config: c, banner: "apertium-apy at " + url}, stop, nil
	}
	return devTranslation{config: c, banner: c.Provider}, nothing, nil
}

// explainMissing turns a missing binary into instructions.
func explainMissing(err error) error {
	var m *devenv.MissingError
	if errors.As(err, &m) {
		return fmt.Errorf("%w\n\nconsulta dev needs PostgreSQL and Redis. On Debian or Ubuntu:\n  apt-get install -y postgresql redis-server\nor point DATABASE_URL and REDIS_URL at running servers", err)
	}
	return err
}

func metricsURL(addr string) string {
	if addr == "" {
		return "(disabled)"
	}
	return "http://" + addr + "/metrics"
}

// loadOrCreateSecret reads 32 random bytes from path, creating the file when
// missing.
func loadOrCreateSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secret dir: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}
