// Package platform assembles a Consulta process from the selected services:
// it connects to Postgres, NATS and Redis, builds the gRPC and HTTP servers,
// runs every service's background work, and shuts it all down in order. Both
// `consulta serve` and `consulta dev` use it, as does the end-to-end test, so
// monolithic and microservices mode run the same code.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/background"
	"github.com/consulta-platform/consulta/pkg/blobstore"
	"github.com/consulta-platform/consulta/pkg/clientaddr"
	"github.com/consulta-platform/consulta/pkg/dbmigrate"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/pkg/langdetect"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/ratelimit"
	"github.com/consulta-platform/consulta/pkg/retention"
	"github.com/consulta-platform/consulta/pkg/telemetry"
	"github.com/consulta-platform/consulta/services/consultation"
	"github.com/consulta-platform/consulta/services/gateway"
	"github.com/consulta-platform/consulta/services/submission"
	"github.com/consulta-platform/consulta/services/summary"
	"github.com/consulta-platform/consulta/services/worker"
)

// MaxMessageBytes is the largest gRPC message the servers take and the
// gateway sends.
const MaxMessageBytes = 32 << 20

// AllServices are the services a process can run, in start order.
var AllServices = []string{consultation.Name, submission.Name, summary.Name, worker.Name, gateway.Name}

// ParseServices turns "all" or a comma-separated list into service names.
func ParseServices(s string) ([]string, error) {
	if strings.TrimSpace(s) == "all" || strings.TrimSpace(s) == "" {
		return slices.Clone(AllServices), nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(AllServices, name) {
			return nil, fmt.Errorf("unknown service %q (known: all, %s)", name, strings.Join(AllServices, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Config is everything a process needs; cmd/consulta fills it from flags and
// the environment.
type Config struct {
	Services []string

	DatabaseURL string
	// DBMaxConns is the size of the Postgres pool; 0 means
	// postgres.DefaultMaxConns.
	DBMaxConns int32
	RedisURL   string
	NATSURL    string
	// NATS holds the credentials and TLS settings of the NATS connection.
	NATS NATSAuth
	// StreamReplicas is the replica count of the CONSULTA stream (1 for a
	// single NATS server, 3 for a cluster).
	StreamReplicas int
	// StreamMaxAge and StreamMaxBytes limit what the CONSULTA stream keeps;
	// zero means events.DefaultMaxAge and events.DefaultMaxBytes.
	StreamMaxAge   time.Duration
	StreamMaxBytes int64

	GRPCAddr string
	// GRPCTLS turns TLS on for the gRPC server and the process's gRPC
	// clients.
	GRPCTLS     GRPCTLS
	HTTPAddr    string
	MetricsAddr string // empty disables the metrics server
	// RPCTimeout is the deadline of a gRPC call (and so of a REST call)
	// whose caller set none; 0 means grpcserver.DefaultTimeout.
	RPCTimeout time.Duration
	// HTTPTimeouts bound the gateway's connections (defaults
	// DefaultHTTPTimeouts); GatewayLimits bound request bodies per route
	// and the routes that need longer (defaults in services/gateway).
	HTTPTimeouts  HTTPTimeouts
	GatewayLimits gateway.Limits

	Auth auth.VerifierConfig
	// DevJWKS is served by the gateway in development only.
	DevJWKS []byte

	// Upstreams are gRPC addresses the gateway uses for services this process
	// does not run. The submission service, when the consultation service
	// runs elsewhere, reads through to ConsultationAddr when its read models
	// lag (a submission right after the opening).
	ConsultationAddr string
	SubmissionAddr   string
	SummaryAddr      string

	JobQueuePrefix  string
	JobPollInterval time.Duration
	// JobConcurrency is how many jobs the worker runs at once (default in
	// pkg/jobs).
	JobConcurrency int
	// ReconcileInterval is how often the worker re-creates jobs missing from
	// Redis (default worker.DefaultReconcileInterval).
	ReconcileInterval time.Duration
	DigestLeads       []time.Duration
	// Translator chooses the worker's machine translation. Provider empty:
	// LibreTranslate when its URL is set, else none, and texts wait for a
	// co-lead's review.
	Translator worker.TranslatorConfig

	// Migrate applies pending migrations of the selected services at start.
	Migrate bool

	// MaxEventBytes is the largest event a service may write to its outbox
	// (default outbox.DefaultMaxEventBytes); it is lowered to fit below the
	// NATS server's max_payload.
	MaxEventBytes int
	// OutboxRetention, InboxRetention and PruneInterval say how long
	// published outbox rows and inbox rows are kept, and how often they are
	// pruned (defaults in pkg/retention).
	OutboxRetention time.Duration
	InboxRetention  time.Duration
	PruneInterval   time.Duration

	// SigningKey makes submissions' edit secrets and confirmation links (at
	// least 32 bytes; the same on every replica).
	SigningKey []byte
	// ServiceKey is the secret the processes share to call each other's
	// internal RPCs (the worker reading submissions' texts to translate
	// them; auth.ServiceKey). At least 32 bytes, the same in every process;
	// when empty, SigningKey serves (a token derived from it under a label
	// of its own), which suits monolithic mode.
	ServiceKey []byte
	// TranslatorOverride, when set, is the worker's machine translation
	// instead of the one Translator chooses (tests give a
	// deterministic one).
	TranslatorOverride worker.Translator
	// PublicURL is the base of the links in mails.
	PublicURL string
	// BlobStoreURL says where position papers go: file:///dir or
	// s3://bucket?endpoint=...; empty refuses uploads.
	BlobStoreURL string
	// DocumentGrace and DocumentSweepInterval: how long an uploaded
	// document waits for a submission to name it before it is deleted, and
	// how often the sweeper looks (defaults in the submission service).
	DocumentGrace         time.Duration
	DocumentSweepInterval time.Duration
	// DisableRateLimits turns the per-IP and per-email limits off (tests).
	DisableRateLimits bool
	// RateLimits replaces the default limits on submissions; a zero limit
	// keeps its default.
	RateLimits submission.Limits
	// TrustedProxies are the proxies in front of the gateway whose
	// X-Forwarded-For hops the gateway believes (none by default: the
	// client is the connection's peer).
	TrustedProxies []netip.Prefix
	// TrustedGateways are the networks of gateways running in other
	// processes, whose client-address metadata the gRPC services believe.
	// The gateway of this process is trusted through its own connections;
	// every other caller is its peer address.
	TrustedGateways []netip.Prefix
	// DisableLanguageDetection leaves undeclared languages to the
	// consultation's first language.
	DisableLanguageDetection bool
	// Mail says how confirmation mail leaves.
	Mail submission.MailConfig

	Logger *slog.Logger
	Now    func() time.Time
}

func (c Config) runs(name string) bool { return slices.Contains(c.Services, name) }

func (c Config) runsAny(names ...string) bool {
	return slices.ContainsFunc(names, c.runs)
}

// Platform is an assembled process, ready to Run.
type Platform struct {
	cfg Config
	log *slog.Logger

	pool *pgxpool.Pool
	nc   *nats.Conn

	grpc    *grpcserver.Server
	callers *clientaddr.Callers
	grpcLn  net.Listener
	http    *http.Server
	httpLn  net.Listener
	metrics *telemetry.MetricsServer
	conns   []*grpc.ClientConn
	// clientCreds are the transport credentials of the gRPC clients.
	clientCreds credentials.TransportCredentials
	closers     []func() error

	// background is the services' background work, stopped in stages.
	background []background.Part
}

// New connects to the infrastructure the selected services need, binds the
// listeners and builds the services. On error everything opened is closed.
func New(ctx context.Context, cfg Config) (_ *Platform, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Platform{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	reg := telemetry.NewRegistry()

	// Checked before connecting to anything.
	if p.clientCreds, err = cfg.GRPCTLS.ClientCredentials(); err != nil {
		return nil, err
	}
	serverCreds, err := cfg.GRPCTLS.serverCredentials()
	if err != nil {
		return nil, err
	}
	translator := cfg.TranslatorOverride
	if cfg.runs(worker.Name) && translator == nil {
		tc := cfg.Translator
		if tc.Provider == "" && tc.LibreTranslateURL != "" {
			tc.Provider = "libretranslate"
		}
		if translator, err = worker.NewTranslator(tc); err != nil {
			return nil, err
		}
		if translator != nil {
			cfg.Logger.Info("machine translation", "provider", tc.Provider)
		} else {
			cfg.Logger.Info("no machine translation configured: texts wait for a review")
		}
	}

	dbServices := []string{consultation.Name, submission.Name, summary.Name}
	if cfg.runsAny(dbServices...) {
		if cfg.Migrate {
			var selected []string
			for _, s := range dbServices {
				if cfg.runs(s) {
					selected = append(selected, s)
				}
			}
			if err := dbmigrate.Up(ctx, cfg.DatabaseURL, p.log, selected...); err != nil {
				return nil, err
			}
		}
		if p.pool, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolConfig{MaxConns: cfg.DBMaxConns}); err != nil {
			return nil, err
		}
	}

	var js jetstream.JetStream
	if cfg.runsAny(consultation.Name, submission.Name, summary.Name, worker.Name) {
		natsOpts, err := cfg.NATS.options()
		if err != nil {
			return nil, err
		}
		if !cfg.NATS.hasCredentials() && !urlHasUser(cfg.NATSURL) {
			p.log.Warn("NATS without credentials: unless the server refuses anonymous clients, whoever reaches it can publish events (see docs/security.md)")
		}
		natsOpts = append(natsOpts, nats.Name("consulta"), nats.MaxReconnects(-1),
			nats.ReconnectWait(time.Second), nats.RetryOnFailedConnect(false),
			// What the server refuses asynchronously (a permissions
			// violation above all) is otherwise seen by nobody.
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				p.log.Error("NATS error", "err", err)
			}))
		p.nc, err = nats.Connect(cfg.NATSURL, natsOpts...)
		if err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(cfg.NATSURL), err)
		}
		if err := checkNATSVersion(p.nc.ConnectedServerVersion()); err != nil {
			return nil, err
		}
		if js, err = jetstream.New(p.nc); err != nil {
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		// Only the consultation service creates and updates the stream: a
		// stream's configuration can rewrite the subjects of what it stores,
		// so the other services' NATS users may not touch it (pkg/natsacl).
		if cfg.runs(consultation.Name) {
			if _, err := events.ConfigureStream(ctx, js, events.StreamSettings{
				Replicas: cfg.StreamReplicas, MaxAge: cfg.StreamMaxAge, MaxBytes: cfg.StreamMaxBytes,
			}); err != nil {
				return nil, err
			}
		} else if err := waitForStream(ctx, js, p.log); err != nil {
			return nil, err
		}
		outbox.SetMaxEventBytes(maxEventBytes(cfg.MaxEventBytes, p.nc.MaxPayload(), p.log))
	}

	if err := p.buildGRPC(ctx, reg, js, serverCreds); err != nil {
		return nil, err
	}
	p.addPruners(reg)

	if cfg.runs(worker.Name) {
		// The reconciler reads the consultation service's public listings:
		// the worker reads no service's tables.
		var consultations worker.ConsultationReader
		if cfg.runs(consultation.Name) || cfg.ConsultationAddr != "" {
			conn, err := p.dial(consultation.Name, cfg.ConsultationAddr, "the worker's reconciler")
			if err != nil {
				return nil, fmt.Errorf("worker: %w", err)
			}
			consultations = consultationv1.NewConsultationServiceClient(conn)
		}
		// The translation job reads submissions' texts through the
		// submission service's internal API, with the service key.
		var submissions worker.SubmissionTexts
		if key := p.serviceKey(); key == nil {
			p.log.Warn("submissions' texts are not translated: no CONSULTA_SERVICE_KEY (or CONSULTA_SIGNING_KEY) to call the submission service with")
		} else if cfg.runs(submission.Name) || cfg.SubmissionAddr != "" {
			conn, err := p.dial(submission.Name, cfg.SubmissionAddr, "the worker's translation job", grpc.WithPerRPCCredentials(key))
			if err != nil {
				return nil, fmt.Errorf("worker: %w", err)
			}
			submissions = submissionv1.NewSubmissionTranslationServiceClient(conn)
		} else {
			p.log.Warn("submissions' texts are not translated: CONSULTA_SUBMISSION_ADDR is not set")
		}
		w, err := worker.New(worker.Deps{
			JetStream: js,
			Jobs: jobs.Config{RedisURL: cfg.RedisURL, QueuePrefix: cfg.JobQueuePrefix,
				PollInterval: cfg.JobPollInterval, Concurrency: cfg.JobConcurrency, Logger: p.log},
			Logger:      p.log.With("service", worker.Name),
			DigestLeads: cfg.DigestLeads,
			Now:         cfg.Now,
			Translator:  translator,

			Consultations:     consultations,
			Submissions:       submissions,
			ReconcileInterval: cfg.ReconcileInterval,
		})
		if err != nil {
			return nil, err
		}
		p.background = append(p.background, w.Background()...)
	}

	if cfg.runs(gateway.Name) {
		if err := p.buildGateway(ctx); err != nil {
			return nil, err
		}
	}

	if cfg.MetricsAddr != "" {
		if p.metrics, err = telemetry.ListenMetrics(cfg.MetricsAddr, reg); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Platform) buildGRPC(ctx context.Context, reg *prometheus.Registry, js jetstream.JetStream, creds credentials.TransportCredentials) error {
	type grpcService interface {
		Register(*grpc.Server)
		Background() []background.Part
	}
	if !p.cfg.runsAny(consultation.Name, submission.Name, summary.Name) {
		return nil
	}
	var services []grpcService
	policy := auth.Policy{}
	// Listen first: in monolithic mode the submission service reaches the
	// consultation service through this server's own address.
	var err error
	if p.grpcLn, err = net.Listen("tcp", p.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("gRPC listen %s: %w", p.cfg.GRPCAddr, err)
	}
	if p.cfg.runs(consultation.Name) {
		services = append(services, consultation.New(consultation.Deps{
			Pool: p.pool, JetStream: js, Logger: p.log.With("service", consultation.Name), Now: p.cfg.Now, Registerer: reg}))
		policy = policy.Merge(consultation.Policy())
	}
	if p.cfg.runs(submission.Name) {
		svc, err := p.buildSubmission(ctx, js, reg)
		if err != nil {
			return err
		}
		services = append(services, svc)
		policy = policy.Merge(submission.Policy())
	}
	if p.cfg.runs(summary.Name) {
		services = append(services, summary.New(summary.Deps{
			Pool: p.pool, JetStream: js, Logger: p.log.With("service", summary.Name)}))
		policy = policy.Merge(summary.Policy())
	}
	// Client addresses: a trusted gateway's word, else the peer.
	p.callers = clientaddr.NewCallers(p.cfg.TrustedGateways)
	if p.cfg.runs(submission.Name) && !p.cfg.runs(gateway.Name) && len(p.cfg.TrustedGateways) == 0 {
		p.log.Warn("CONSULTA_TRUSTED_GATEWAYS is empty: calls through a gateway in another process are limited by the gateway's address, not the client's")
	}
	verifierCfg := p.cfg.Auth
	if verifierCfg.Logger == nil {
		verifierCfg.Logger = p.log
	}
	jwtVerifier, err := auth.NewVerifier(ctx, verifierCfg)
	if err != nil {
		return fmt.Errorf("token verifier: %w", err)
	}
	// The service key's token, and only it, is the service role.
	verifier := auth.ServiceVerifier{Key: p.serviceKey(), Next: jwtVerifier}
	// Position papers arrive in one message: room for the largest document
	// (25 MiB) and its envelope.
	serverOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes)}
	if creds != nil {
		serverOpts = append(serverOpts, grpc.Creds(creds))
	}
	p.grpc, err = grpcserver.New(grpcserver.Config{Logger: p.log, Verifier: verifier, Policy: policy, Registerer: reg,
		DefaultTimeout: p.cfg.RPCTimeout, ServerOptions: append(serverOpts,
			grpc.ChainUnaryInterceptor(p.callers.UnaryInterceptor()),
			grpc.ChainStreamInterceptor(p.callers.StreamInterceptor()))})
	if err != nil {
		return err
	}
	for _, s := range services {
		s.Register(p.grpc.GRPC)
		p.background = append(p.background, s.Background()...)
	}
	return nil
}

// buildSubmission builds the submission service with its blob store, rate
// limiter and language detector.
func (p *Platform) buildSubmission(ctx context.Context, js jetstream.JetStream, reg *prometheus.Registry) (*submission.Service, error) {
	d := submission.Deps{
		Pool: p.pool, JetStream: js, Logger: p.log.With("service", submission.Name), Now: p.cfg.Now, Registerer: reg,
		SigningKey: p.cfg.SigningKey, PublicURL: p.cfg.PublicURL, Mail: p.cfg.Mail, Limits: p.cfg.RateLimits,
		DocumentGrace: p.cfg.DocumentGrace, DocumentSweepInterval: p.cfg.DocumentSweepInterval,
	}
	if p.cfg.BlobStoreURL != "" {
		blobs, err := blobstore.FromURL(ctx, p.cfg.BlobStoreURL)
		if err != nil {
			return nil, err
		}
		d.Blobs = blobs
	}
	if !p.cfg.DisableRateLimits {
		lim, err := ratelimit.NewFromURL(p.cfg.RedisURL, p.cfg.JobQueuePrefix+"ratelimit:")
		if err != nil {
			return nil, fmt.Errorf("rate limits: %w", err)
		}
		p.closers = append(p.closers, lim.Close)
		// Fail open: a Redis outage must not stop the intake (see
		// docs/reliability.md); it is counted and logged instead.
		d.Limiter = rateLimiter{ratelimit.NewFailOpen(lim, p.log.With("service", submission.Name), reg)}
	}
	if !p.cfg.DisableLanguageDetection {
		d.Detector = langdetect.New()
	}
	conn, err := p.dial(consultation.Name, p.cfg.ConsultationAddr, "the submission service")
	if err != nil {
		return nil, err
	}
	d.Source = newConsultationSource(conn)
	return submission.New(d)
}

// dial connects to the gRPC server of service for user: in monolithic mode
// (the service runs in this process) to this process's own server over
// loopback, so the call passes the same interceptors as any other; else to
// addr.
//
// ownOpts are added to the connection to this process's own server only.
func (p *Platform) dial(service, addr, user string, ownOpts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(p.clientCreds),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(MaxMessageBytes), grpc.MaxCallRecvMsgSize(MaxMessageBytes))}
	if p.cfg.runs(service) {
		addr = p.grpcLn.Addr().String()
		opts = append(opts, ownOpts...)
	}
	if addr == "" {
		return nil, fmt.Errorf("%s needs the address of the %s service (it does not run in this process)", user, service)
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s at %s: %w", user, service, addr, err)
	}
	p.conns = append(p.conns, conn)
	return conn, nil
}

// serviceKey is the processes' shared service key: ServiceKey, else one
// derived from SigningKey; nil when neither is set.
func (p *Platform) serviceKey() *auth.ServiceKey {
	secret := p.cfg.ServiceKey
	if len(secret) == 0 {
		secret = p.cfg.SigningKey
	}
	k, err := auth.NewServiceKey(secret)
	if err != nil {
		return nil
	}
	return k
}

// addPruners runs the pruning of outbox and inbox rows of every service with
// a schema that this process runs.
func (p *Platform) addPruners(reg prometheus.Registerer) {
	for _, s := range []struct {
		name   string
		outbox bool
	}{{consultation.Name, true}, {submission.Name, true}, {summary.Name, false}} {
		if !p.cfg.runs(s.name) {
			continue
		}
		cfg := retention.Config{
			Pool: p.pool, Schema: s.name, Outbox: s.outbox, // each service's schema has its name
			OutboxRetention: p.cfg.OutboxRetention, InboxRetention: p.cfg.InboxRetention, Interval: p.cfg.PruneInterval,
			Now: p.cfg.Now, Logger: p.log.With("service", s.name), Registerer: reg,
		}
		p.background = append(p.background, background.Part{Name: s.name + " retention", Stage: background.Consumers,
			Run: func(ctx context.Context) error { return retention.Run(ctx, cfg) }})
	}
}

// StreamWait is how long a process that does not run the consultation
// service waits at start for the stream the consultation service creates.
var StreamWait = 2 * time.Minute

// waitForStream waits until the CONSULTA stream exists, for at most
// StreamWait.
func waitForStream(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, StreamWait)
	defer cancel()
	for logged := false; ; {
		_, err := js.Stream(ctx, events.StreamName)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("stream %s: %w", events.StreamName, err)
		}
		if !logged {
			log.Info("waiting for the consultation service to create the stream", "stream", events.StreamName)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stream %s does not exist after %s: the consultation service creates it (start it, or a process that runs it, first): %w",
				events.StreamName, StreamWait, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// maxEventBytes is the configured event limit (or the default), lowered to
// leave room under the server's max_payload for the headers the relay adds:
// an event the server would refuse must be refused when it is written.
func maxEventBytes(configured int, serverMax int64, log *slog.Logger) int {
	const headroom = 4 << 10
	limit := configured
	if limit <= 0 {
		limit = outbox.DefaultMaxEventBytes
	}
	if serverMax > headroom && int64(limit) > serverMax-headroom {
		log.Warn("event size limit lowered to fit the NATS server's max_payload",
			"configured", limit, "max_payload", serverMax, "limit", serverMax-headroom)
		limit = int(serverMax - headroom)
	}
	return limit
}

// rateLimiter gives the submission service pkg/ratelimit.
type rateLimiter struct{ lim *ratelimit.FailOpen }

func (r rateLimiter) Allow(ctx context.Context, l submission.Limit, key string) error {
	if addr, err := netip.ParseAddr(key); err == nil {
		key = ratelimit.IPKey(addr) // an IPv6 client gets one budget for its /64
	}
	return r.lim.Allow(ctx, ratelimit.Limit{Name: l.Name, Rate: l.Rate, Per: l.Per, Burst: l.Burst}, key)
}

func (p *Platform) buildGateway(ctx context.Context) error {
	// In monolithic mode the gateway calls this process's own server over
	// loopback, so REST calls pass the same interceptors as gRPC calls.
	// Its connections to this process's own server are the only local ones
	// whose client-address metadata the server believes.
	var own []grpc.DialOption
	if p.callers != nil {
		own = append(own, grpc.WithContextDialer(p.callers.Dialer()))
	}
	dial := func(name, addr string) (*grpc.ClientConn, error) { return p.dial(name, addr, "the gateway", own...) }
	var ups gateway.Upstreams
	var err error
	if ups.Consultation, err = dial(consultation.Name, p.cfg.ConsultationAddr); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if ups.Submission, err = dial(submission.Name, p.cfg.SubmissionAddr); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if ups.Summary, err = dial(summary.Name, p.cfg.SummaryAddr); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	h, err := gateway.New(ctx, gateway.Config{Upstreams: ups, Logger: p.log, DevJWKS: p.cfg.DevJWKS,
		TrustedProxies: p.cfg.TrustedProxies, Limits: p.cfg.GatewayLimits})
	if err != nil {
		return err
	}
	if p.httpLn, err = net.Listen("tcp", p.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("HTTP listen %s: %w", p.cfg.HTTPAddr, err)
	}
	t := p.cfg.HTTPTimeouts.withDefaults()
	p.http = &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle}
	return nil
}

// HTTPTimeouts bound the time a client may hold a connection of the
// gateway: a client that sends or reads slowly, on purpose or not, holds
// memory and a file descriptor. Uploads and streamed downloads have their
// own, longer deadlines (gateway.Limits).
type HTTPTimeouts struct {
	// ReadHeader: from the connection's request to the end of its headers.
	ReadHeader time.Duration
	// Read: to the end of the request's body.
	Read time.Duration
	// Write: from the end of the request's headers to the end of the
	// response.
	Write time.Duration
	// Idle: how long a kept-alive connection waits for its next request.
	Idle time.Duration
}

// DefaultHTTPTimeouts: a JSON body (at most 1 MiB) arrives within Read over
// a 256 kbit/s link, and Write leaves room for an RPC's own deadline
// (CONSULTA_RPC_TIMEOUT, 30 s) and the response.
var DefaultHTTPTimeouts = HTTPTimeouts{ReadHeader: 10 * time.Second, Read: time.Minute, Write: 2 * time.Minute, Idle: 2 * time.Minute}

func (t HTTPTimeouts) withDefaults() HTTPTimeouts {
	d := DefaultHTTPTimeouts
	for _, f := range []struct{ v, def *time.Duration }{{&t.ReadHeader, &d.ReadHeader}, {&t.Read, &d.Read}, {&t.Write, &d.Write}, {&t.Idle, &d.Idle}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// GRPCAddr is the address of the gRPC server, or "" when none runs.
func (p *Platform) GRPCAddr() string { return addrOf(p.grpcLn) }

// HTTPAddr is the address of the gateway, or "" when it does not run.
func (p *Platform) HTTPAddr() string { return addrOf(p.httpLn) }

// MetricsAddr is the address of the metrics server, or "" when disabled.
func (p *Platform) MetricsAddr() string {
	if p.metrics == nil {
		return ""
	}
	return p.metrics.Addr()
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// Run serves until ctx is cancelled, or until a part fails, and then shuts
// down in the order design.md gives:
//
//  1. HTTP Shutdown: no new REST requests; those in flight finish, and
//     their calls to this process's own gRPC server still work;
//  2. gRPC: health NOT_SERVING, then GracefulStop: running calls finish;
//  3. the consumers drain (and the loops that change state stop);
//  4. the Asynq server stops, letting running jobs finish;
//  5. the outbox relays publish what is pending and stop;
//  6. NATS drains, the metrics server stops, the pool closes.
func (p *Platform) Run(ctx context.Context) error {
	defer p.close()
	serveCtx, stopServing := context.WithCancelCause(ctx)
	defer stopServing(nil)

	// Errors are collected, not sent on a channel: a server or a part may
	// fail at any moment of the shutdown.
	var mu sync.Mutex
	var errs []error
	fail := func(name string, err error) {
		if err == nil || errors.Is(err, context.Canceled) {
			return
		}
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
		mu.Unlock()
		stopServing(err)
	}
	work := background.Start(ctx, p.background, fail)
	var servers sync.WaitGroup
	if p.grpc != nil {
		servers.Go(func() { fail("gRPC server", p.grpc.GRPC.Serve(p.grpcLn)) })
		p.grpc.MarkServing()
	}
	if p.http != nil {
		servers.Go(func() {
			if err := p.http.Serve(p.httpLn); !errors.Is(err, http.ErrServerClosed) {
				fail("HTTP server", err)
			}
		})
	}
	// Metrics stay up until the end, so that the shutdown can be watched.
	metricsCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMetrics()
	if p.metrics != nil {
		servers.Go(func() { fail("metrics server", p.metrics.Run(metricsCtx)) })
	}
	p.log.Info("consulta running", "services", p.cfg.Services, "grpc", p.GRPCAddr(), "http", p.HTTPAddr(), "metrics", p.MetricsAddr())

	<-serveCtx.Done()
	p.log.Info("shutting down")
	if p.http != nil {
		p.log.Info("shutdown: HTTP")
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := p.http.Shutdown(shutdownCtx); err != nil {
			p.log.Warn("HTTP shutdown: closing the requests still running", "err", err)
			_ = p.http.Close()
		}
		cancel()
	}
	if p.grpc != nil {
		p.log.Info("shutdown: gRPC")
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		p.grpc.Stop(stopCtx)
		cancel()
	}
	p.log.Info("shutdown: consumers, then jobs, then outbox relays")
	work.Stop()
	if p.nc != nil {
		p.log.Info("shutdown: NATS")
		p.drainNATS()
	}
	stopMetrics()
	servers.Wait()
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// drainNATS drains the connection and waits, at most 30 s, until it is
// closed: Drain itself returns at once.
func (p *Platform) drainNATS() {
	closed := make(chan struct{})
	p.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := p.nc.Drain(); err != nil {
		p.log.Warn("NATS drain", "err", err)
		return
	}
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		p.log.Warn("NATS drain: not closed after 30s; closing")
	}
}

// close releases what New opened; safe to call twice.
func (p *Platform) close() {
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	for _, c := range p.closers {
		_ = c()
	}
	p.closers = nil
	if p.nc != nil && !p.nc.IsClosed() {
		p.nc.Close()
	}
	if p.pool != nil {
		p.pool.Close()
		p.pool = nil
	}
	// Listeners that served are closed already; these closes then fail
	// harmlessly. They matter when New failed before Run.
	for _, ln := range []net.Listener{p.grpcLn, p.httpLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// MinNATSVersion is the oldest nats-server the consumers work with: pull
// consumers as nats.go's jetstream package drives them need 2.10 (seen:
// 2.9.10 accepts the consumers, reports messages delivered, and hands none
// to the handlers).
const MinNATSVersion = "2.10.0"

// checkNATSVersion refuses a server older than MinNATSVersion with a message
// that says so, instead of a platform that silently processes nothing.
func checkNATSVersion(v string) error {
	parse := func(s string) (out [3]int) {
		s, _, _ = strings.Cut(strings.TrimPrefix(s, "v"), "-")
		for i, part := range strings.SplitN(s, ".", 3) {
			out[i], _ = strconv.Atoi(part)
		}
		return out
	}
	have, want := parse(v), parse(MinNATSVersion)
	for i := range have {
		if have[i] != want[i] {
			if have[i] < want[i] {
				return fmt.Errorf("NATS server %s is too old: Consulta needs nats-server %s or later with JetStream", v, MinNATSVersion)
			}
			return nil
		}
	}
	return nil
}
