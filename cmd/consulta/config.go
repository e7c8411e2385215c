package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/clientaddr"
	"github.com/consulta-platform/consulta/pkg/events"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
	"github.com/consulta-platform/consulta/pkg/mail"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/retention"
	"github.com/consulta-platform/consulta/pkg/telemetry"
	"github.com/consulta-platform/consulta/services/gateway"
	"github.com/consulta-platform/consulta/services/submission"
	"github.com/consulta-platform/consulta/services/worker"
)

// DefaultMetricsAddr is where `consulta serve` serves /metrics unless
// CONSULTA_METRICS_ADDR says otherwise: loopback, so that nothing outside
// the host reads them by default.
const DefaultMetricsAddr = "127.0.0.1:9100"

// env reads the environment once, recording what is malformed.
type env struct {
	lookup func(string) (string, bool)
	errs   []string
}

func (e *env) str(key, def string) string {
	if v, ok := e.lookup(key); ok && v != "" {
		return v
	}
	return def
}

func (e *env) duration(key string, def time.Duration) time.Duration {
	v, ok := e.lookup(key)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Sprintf("%s=%q: %v", key, v, err))
	}
	return d
}

// bytes reads a size in bytes (parseBytes: "1MiB", "1048576").
func (e *env) bytes(key string, def int64) int64 {
	v, ok := e.lookup(key)
	if !ok || v == "" {
		return def
	}
	n, err := parseBytes(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Sprintf("%s=%q: %v", key, v, err))
	}
	return n
}

func (e *env) boolean(key string, def bool) bool {
	v, ok := e.lookup(key)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Sprintf("%s=%q: %v", key, v, err))
	}
	return b
}

func (e *env) err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("bad environment: %s", strings.Join(e.errs, "; "))
}

// translatorFromEnv reads the machine translation settings. Without
// CONSULTA_TRANSLATOR the provider is LibreTranslate when
// CONSULTA_TRANSLATOR_URL is set, else Apertium when CONSULTA_APERTIUM_URL
// is set or the apertium command is installed, else none.
func translatorFromEnv(e *env) worker.TranslatorConfig {
	c := worker.TranslatorConfig{
		Provider:          strings.ToLower(e.str("CONSULTA_TRANSLATOR", "")),
		ApertiumURL:       e.str("CONSULTA_APERTIUM_URL", ""),
		LibreTranslateURL: e.str("CONSULTA_TRANSLATOR_URL", ""),
		LibreTranslateKey: e.str("CONSULTA_TRANSLATOR_API_KEY", ""),
		DeepLKey:          e.str("CONSULTA_DEEPL_API_KEY", ""),
		DeepLURL:          e.str("CONSULTA_DEEPL_URL", ""),
		DeepLGlossaries:   e.str("CONSULTA_DEEPL_GLOSSARIES", ""),
		OpenAIURL:         e.str("CONSULTA_OPENAI_URL", ""),
		OpenAIKey:         e.str("CONSULTA_OPENAI_API_KEY", ""),
		OpenAIModel:       e.str("CONSULTA_OPENAI_MODEL", ""),
	}
	switch c.Provider {
	case "":
		c.Provider = worker.DefaultTranslator(c)
	case "apertium", "libretranslate", "deepl", "openai", "none":
	default:
		e.errs = append(e.errs, fmt.Sprintf("CONSULTA_TRANSLATOR=%q: want apertium, libretranslate, deepl, openai or none", c.Provider))
	}
	return c
}

// platformConfigFromEnv reads the Config of `consulta serve`. Every variable
// is listed in docs/operations.md.
func platformConfigFromEnv(lookup func(string) (string, bool)) (platform.Config, *envLog, error) {
	e := &env{lookup: lookup}
	cfg := platform.Config{
		DatabaseURL: e.str("DATABASE_URL", ""),
		RedisURL:    e.str("REDIS_URL", ""),
		NATSURL:     e.str("NATS_URL", ""),
		NATS: platform.NATSAuth{
			User:      e.str("CONSULTA_NATS_USER", ""),
			Password:  e.str("CONSULTA_NATS_PASSWORD", ""),
			NKeyFile:  e.str("CONSULTA_NATS_NKEY_FILE", ""),
			CredsFile: e.str("CONSULTA_NATS_CREDS_FILE", ""),
			CAFile:    e.str("CONSULTA_NATS_CA_FILE", ""),
			CertFile:  e.str("CONSULTA_NATS_CERT_FILE", ""),
			KeyFile:   e.str("CONSULTA_NATS_KEY_FILE", ""),
		},
		GRPCAddr: e.str("CONSULTA_GRPC_ADDR", ":9090"),
		GRPCTLS: platform.GRPCTLS{
			CertFile:     e.str("CONSULTA_GRPC_TLS_CERT_FILE", ""),
			KeyFile:      e.str("CONSULTA_GRPC_TLS_KEY_FILE", ""),
			ClientCAFile: e.str("CONSULTA_GRPC_TLS_CLIENT_CA_FILE", ""),
			CAFile:       e.str("CONSULTA_GRPC_TLS_CA_FILE", ""),
			ServerName:   e.str("CONSULTA_GRPC_TLS_SERVER_NAME", ""),
		},
		HTTPAddr: e.str("CONSULTA_HTTP_ADDR", ":8080"),
		// Loopback unless a deployment opens it on purpose: metrics say
		// much about the traffic and belong on a private network.
		MetricsAddr:      e.str("CONSULTA_METRICS_ADDR", DefaultMetricsAddr),
		ConsultationAddr: e.str("CONSULTA_CONSULTATION_ADDR", ""),
		SubmissionAddr:   e.str("CONSULTA_SUBMISSION_ADDR", ""),
		SummaryAddr:      e.str("CONSULTA_SUMMARY_ADDR", ""),
		JobQueuePrefix:   e.str("CONSULTA_QUEUE_PREFIX", ""),
		Translator:       translatorFromEnv(e),
		Migrate:          e.boolean("CONSULTA_MIGRATE", false),
		Auth: auth.VerifierConfig{
			JWKSURL:  e.str("CONSULTA_JWKS_URL", ""),
			JWKSFile: e.str("CONSULTA_JWKS_FILE", ""),
			Issuer:   e.str("CONSULTA_JWT_ISSUER", ""),
			Audience: e.str("CONSULTA_JWT_AUDIENCE", ""),
		},
		JobPollInterval:       e.duration("CONSULTA_JOB_POLL_INTERVAL", time.Second),
		RPCTimeout:            e.duration("CONSULTA_RPC_TIMEOUT", grpcserver.DefaultTimeout),
		ReconcileInterval:     e.duration("CONSULTA_RECONCILE_INTERVAL", worker.DefaultReconcileInterval),
		OutboxRetention:       e.duration("CONSULTA_OUTBOX_RETENTION", retention.DefaultOutboxRetention),
		InboxRetention:        e.duration("CONSULTA_INBOX_RETENTION", retention.DefaultInboxRetention),
		PruneInterval:         e.duration("CONSULTA_PRUNE_INTERVAL", retention.DefaultInterval),
		PublicURL:             e.str("CONSULTA_PUBLIC_URL", ""),
		BlobStoreURL:          e.str("CONSULTA_BLOB_STORE_URL", ""),
		DocumentGrace:         e.duration("CONSULTA_DOCUMENT_GRACE_PERIOD", submission.DefaultDocumentGrace),
		DocumentSweepInterval: e.duration("CONSULTA_DOCUMENT_SWEEP_INTERVAL", submission.DefaultDocumentSweepInterval),
		Mail: submission.MailConfig{
			SMTPURL: e.str("CONSULTA_SMTP_URL", ""),
			From:    e.str("CONSULTA_MAIL_FROM", ""),
		},
	}
	if u := cfg.Mail.SMTPURL; u != "" {
		// Checked here to name the variable; the error never quotes the
		// URL, which may hold a password.
		if _, err := mail.ParseURL(u); err != nil {
			e.errs = append(e.errs, fmt.Sprintf("CONSULTA_SMTP_URL: %v", err))
		}
	}
	if k := e.str("CONSULTA_SIGNING_KEY", ""); k != "" {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) < 32 {
			e.errs = append(e.errs, "CONSULTA_SIGNING_KEY: want at least 32 random bytes, base64-encoded (openssl rand -base64 32)")
		}
		cfg.SigningKey = key
	}
	if k := e.str("CONSULTA_SERVICE_KEY", ""); k != "" {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) < 32 {
			e.errs = append(e.errs, "CONSULTA_SERVICE_KEY: want at least 32 random bytes, base64-encoded (openssl rand -base64 32)")
		}
		cfg.ServiceKey = key
	}
	for _, v := range []struct {
		key string
		to  *[]netip.Prefix
	}{{"CONSULTA_TRUSTED_PROXIES", &cfg.TrustedProxies}, {"CONSULTA_TRUSTED_GATEWAYS", &cfg.TrustedGateways}} {
		p, err := clientaddr.ParsePrefixes(e.str(v.key, ""))
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s: %v", v.key, err))
		}
		*v.to = p
	}
	if r := e.str("CONSULTA_DB_MAX_CONNS", strconv.Itoa(postgres.DefaultMaxConns)); r != "" {
		n, err := strconv.ParseInt(r, 10, 32)
		if err != nil || n < 1 {
			e.errs = append(e.errs, fmt.Sprintf("CONSULTA_DB_MAX_CONNS=%q: want a positive integer", r))
		}
		cfg.DBMaxConns = int32(n)
	}
	if cfg.RPCTimeout < 0 {
		e.errs = append(e.errs, fmt.Sprintf("CONSULTA_RPC_TIMEOUT=%s: want a positive duration", cfg.RPCTimeout))
	}
	if r := e.str("CONSULTA_STREAM_REPLICAS", "1"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 {
			e.errs = append(e.errs, fmt.Sprintf("CONSULTA_STREAM_REPLICAS=%q: want a positive integer", r))
		}
		cfg.StreamReplicas = n
	}
	cfg.StreamMaxAge = e.duration("CONSULTA_STREAM_MAX_AGE", events.DefaultMaxAge)
	if cfg.StreamMaxAge <= 0 {
		e.errs = append(e.errs, "CONSULTA_STREAM_MAX_AGE: want a positive duration, such as 720h")
	}
	if v := e.str("CONSULTA_STREAM_MAX_BYTES", ""); v != "" {
		n, err := parseBytes(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("CONSULTA_STREAM_MAX_BYTES=%q: %v", v, err))
		}
		cfg.StreamMaxBytes = n
	} else {
		cfg.StreamMaxBytes = events.DefaultMaxBytes
	}
	if v := e.str("CONSULTA_MAX_EVENT_BYTES", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 64<<10 {
			e.errs = append(e.errs, fmt.Sprintf("CONSULTA_MAX_EVENT_BYTES=%q: want a number of bytes, at least 65536", v))
		}
		cfg.MaxEventBytes = n
	}
	cfg.HTTPTimeouts = platform.HTTPTimeouts{
		ReadHeader: e.duration("CONSULTA_HTTP_READ_HEADER_TIMEOUT", platform.DefaultHTTPTimeouts.ReadHeader),
		Read:       e.duration("CONSULTA_HTTP_READ_TIMEOUT", platform.DefaultHTTPTimeouts.Read),
		Write:      e.duration("CONSULTA_HTTP_WRITE_TIMEOUT", platform.DefaultHTTPTimeouts.Write),
		Idle:       e.duration("CONSULTA_HTTP_IDLE_TIMEOUT", platform.DefaultHTTPTimeouts.Idle),
	}
	cfg.GatewayLimits = gateway.Limits{
		MaxBodyBytes:       e.bytes("CONSULTA_HTTP_MAX_BODY_BYTES", gateway.DefaultMaxBodyBytes),
		MaxUploadBodyBytes: e.bytes("CONSULTA_HTTP_MAX_UPLOAD_BODY_BYTES", gateway.DefaultMaxUploadBodyBytes),
		UploadReadTimeout:  e.duration("CONSULTA_HTTP_UPLOAD_READ_TIMEOUT", gateway.DefaultUploadReadTimeout),
		StreamWriteTimeout: e.duration("CONSULTA_HTTP_STREAM_WRITE_TIMEOUT", gateway.DefaultStreamWriteTimeout),
	}
	for key, d := range map[string]time.Duration{
		"CONSULTA_HTTP_READ_HEADER_TIMEOUT": cfg.HTTPTimeouts.ReadHeader, "CONSULTA_HTTP_READ_TIMEOUT": cfg.HTTPTimeouts.Read,
		"CONSULTA_HTTP_WRITE_TIMEOUT": cfg.HTTPTimeouts.Write, "CONSULTA_HTTP_IDLE_TIMEOUT": cfg.HTTPTimeouts.Idle,
		"CONSULTA_HTTP_UPLOAD_READ_TIMEOUT": cfg.GatewayLimits.UploadReadTimeout, "CONSULTA_HTTP_STREAM_WRITE_TIMEOUT": cfg.GatewayLimits.StreamWriteTimeout,
		"CONSULTA_DOCUMENT_GRACE_PERIOD": cfg.DocumentGrace, "CONSULTA_DOCUMENT_SWEEP_INTERVAL": cfg.DocumentSweepInterval,
	} {
		if d <= 0 {
			e.errs = append(e.errs, fmt.Sprintf("%s=%s: want a positive duration", key, d))
		}
	}
	lg := &envLog{format: e.str("CONSULTA_LOG_FORMAT", "json"), level: e.str("CONSULTA_LOG_LEVEL", "info")}
	return cfg, lg, e.err()
}

// byteUnits are the suffixes parseBytes knows, longest first.
var byteUnits = []struct {
	suffix string
	factor int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseBytes reads a positive size: a number of bytes, optionally followed
// by B, KiB, MiB, GiB or TiB ("10GiB").
func parseBytes(v string) (int64, error) {
	num, factor := strings.TrimSpace(v), int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/factor {
		return 0, errors.New("want a positive number of bytes, optionally with B, KiB, MiB, GiB or TiB, such as 10GiB")
	}
	return n * factor, nil
}

type envLog struct{ format, level string }

func (l *envLog) logger(w io.Writer) (*slog.Logger, error) {
	return telemetry.NewLogger(w, l.format, l.level)
}

func osLookup(key string) (string, bool) { return os.LookupEnv(key) }

// redact hides a password in a URL before it is printed.
func redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return parsed.Redacted()
}
