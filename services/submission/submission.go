// Package submission is the service that takes stakeholders' answers. It owns
// the submission schema, keeps read models of consultations and of reference
// data (countries' regions, thematic areas' co-leads, stakeholder types)
// built from consulta.consultation.* and consulta.reference.* events (so
// accepting a submission needs no call to the consultation service, except
// when the read model has not caught up yet), and publishes
// consulta.submission.* events through its outbox.
package submission

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/background"
	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/mail"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/grpcapi"
	"github.com/consulta-platform/consulta/services/submission/internal/mailer"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// Name is the service name used by `consulta serve --services`.
const Name = "submission"

// Durable consumers that feed the read models.
const (
	ConsultationsConsumer = "submission-consultations"
	ReferenceConsumer     = "submission-reference"
	// ErasuresConsumer erases from the stream the messages of submissions
	// whose personal data was erased.
	ErasuresConsumer = "submission-erasures"
)

// Defaults of the sweeper of uploaded documents that no submission names.
const (
	DefaultDocumentGrace         = app.DefaultDocumentGrace
	DefaultDocumentSweepInterval = app.DefaultDocumentSweepInterval
)

// Types of Deps, from the service's internals.
type (
	// BlobStore stores uploaded documents (pkg/blobstore implements it).
	BlobStore = app.BlobStore
	// RateLimiter enforces limits; see RateLimits.
	RateLimiter = app.RateLimiter
	// Limit is one rate limit.
	Limit = app.Limit
	// Limits are the limits on creating submissions.
	Limits = app.Limits
	// LanguageDetector detects undeclared languages (pkg/langdetect).
	LanguageDetector = app.LanguageDetector
	// MailConfig says how confirmation mail leaves.
	MailConfig = mailer.Config
	// ConsultationSource reads from the consultation service when the read
	// models lag behind it.
	ConsultationSource = app.ConsultationSource
)

// Deps is what the service needs from the process.
type Deps struct {
	Pool      *pgxpool.Pool
	JetStream jetstream.JetStream
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// SigningKey makes edit secrets and confirmation links (at least 32
	// bytes); it must be the same on every replica and survive restarts.
	SigningKey []byte
	// PublicURL is the base of the links in mails.
	PublicURL string
	// Blobs stores position papers; nil refuses uploads.
	Blobs app.BlobStore
	// Limiter enforces the rate limits; nil means none.
	Limiter app.RateLimiter
	// Limits replace the default limits (app.LimitPerIP, app.LimitPerEmail);
	// a zero Limit keeps its default.
	Limits Limits
	// Detector detects undeclared languages; nil means the consultation's
	// first language.
	Detector app.LanguageDetector
	// Mail says how confirmation mail leaves.
	Mail MailConfig
	// ExpiryInterval is how often unconfirmed submissions are expired
	// (default 1 minute).
	ExpiryInterval time.Duration
	// DocumentGrace is how long an uploaded document waits for a
	// submission to name it before it is deleted (default 24h), and
	// DocumentSweepInterval the time between two sweeps (default 10m).
	DocumentGrace         time.Duration
	DocumentSweepInterval time.Duration
	// Registerer receives the service's metrics; may be nil.
	Registerer prometheus.Registerer
	// Source reads a consultation or a thematic area from the consultation
	// service when the read models do not have it yet (a submission right
	// after the opening, an area whose co-leads were set before the read
	// model kept them). Nil leaves the read models to answer alone: a
	// submission sent before the opening's event arrives is then NotFound.
	Source ConsultationSource
}

// Service is the submission service.
type Service struct {
	deps   Deps
	app    *app.App
	api    *grpcapi.Server
	trans  *grpcapi.TranslationServer
	relay  *outbox.Relay
	mailer *mailer.Mailer
}

// New builds the service.
func New(d Deps) (*Service, error) {
	signer, err := app.NewSigner(d.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("submission service: %w", err)
	}
	if d.ExpiryInterval <= 0 {
		d.ExpiryInterval = time.Minute
	}
	if d.DocumentSweepInterval <= 0 {
		d.DocumentSweepInterval = app.DefaultDocumentSweepInterval
	}
	st := store.New(d.Pool)
	memory, err := app.NewMemoryMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	a := app.New(st, app.Config{
		Signer: signer, Now: d.Now, PublicURL: d.PublicURL, Detector: d.Detector, Limiter: d.Limiter, Limits: d.Limits, Blobs: d.Blobs,
		Source: d.Source, DocumentGrace: d.DocumentGrace, MemoryMetrics: memory,
	})
	mc := d.Mail
	if mc.MessageIDDomain == "" {
		// Message-IDs name the platform's public host (the domain of From
		// when there is none).
		mc.MessageIDDomain = mail.DomainOf(d.PublicURL)
	}
	m, err := mailer.New(d.Pool, mc, d.Logger.With("component", "mailer"))
	if err != nil {
		return nil, err
	}
	return &Service{
		deps:   d,
		app:    a,
		mailer: m,
		api:    grpcapi.New(a),
		trans:  grpcapi.NewTranslationServer(a),
		relay: outbox.NewRelay(outbox.RelayConfig{
			Pool: d.Pool, Schema: store.Schema, JetStream: d.JetStream, Logger: d.Logger.With("relay", store.Schema),
			Registerer: d.Registerer,
		}),
	}, nil
}

// Register adds the gRPC API to s.
func (s *Service) Register(gs *grpc.Server) {
	submissionv1.RegisterSubmissionServiceServer(gs, s.api)
	submissionv1.RegisterSubmissionTranslationServiceServer(gs, s.trans)
}

// RegisterGateway adds the REST/JSON routes, proxied to conn.
func RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	return submissionv1.RegisterSubmissionServiceHandler(ctx, mux, conn)
}

// Background is the service's background work: the outbox relay; the
// mailer; the sweeper that expires unconfirmed submissions; the sweeper that
// deletes uploaded documents no submission named in time; the consumers
// that keep the read models of consultations and of reference data
// (countries' regions, thematic areas' co-leads, stakeholder types)
// current; the consumer that erases erased submissions' messages from the
// stream.
func (s *Service) Background() []background.Part {
	return []background.Part{
		{Name: "submission relay", Stage: background.Relays, Run: s.relay.Run},
		{Name: "submission mailer", Stage: background.Consumers, Run: s.mailer.Run},
		{Name: "submission expiry", Stage: background.Consumers, Run: func(ctx context.Context) error {
			return s.app.RunExpiry(ctx, s.deps.Logger.With("component", "expiry"), s.deps.ExpiryInterval)
		}},
		{Name: "submission document sweeper", Stage: background.Consumers, Run: func(ctx context.Context) error {
			return s.app.RunDocumentSweeper(ctx, s.deps.Logger.With("component", "document sweeper"), s.deps.DocumentSweepInterval)
		}},
		{Name: ConsultationsConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   ConsultationsConsumer,
				Subjects:  []string{"consulta.consultation.>"},
				Logger:    s.deps.Logger.With("consumer", ConsultationsConsumer),
			}, inbox.Handler(s.deps.Pool, store.Schema, ConsultationsConsumer, app.ApplyConsultationEvent))
		}},
		{Name: ReferenceConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   ReferenceConsumer,
				Subjects:  []string{events.ReferenceSubjects},
				Logger:    s.deps.Logger.With("consumer", ReferenceConsumer),
			}, inbox.Handler(s.deps.Pool, store.Schema, ReferenceConsumer, app.ApplyReferenceEvent))
		}},
		{Name: ErasuresConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   ErasuresConsumer,
				Subjects:  events.Filters(events.SubmissionErased),
				Logger:    s.deps.Logger.With("consumer", ErasuresConsumer),
			}, s.eraseFromStream)
		}},
	}
}

// eraseFromStream follows an erasure into the stream: the submission's
// earlier messages are deleted and their bytes overwritten
// (events.EraseSubmission), once the erasure has committed (this runs on its
// event) and every consumer has acknowledged them. Events carry no personal
// data, so this is defence in depth: whatever an event of an older version
// carried goes with it. It touches no database, and repeating it is
// harmless, so it needs no inbox. While a consumer has not caught up, the
// error has the event redelivered later.
func (s *Service) eraseFromStream(ctx context.Context, env *eventsv1.Envelope) error {
	ev := &submissionv1.SubmissionErasedEvent{}
	if err := events.Payload(env, ev); err != nil {
		return consumer.Permanent(err)
	}
	n, err := events.EraseSubmission(ctx, s.deps.JetStream, ev.GetSubmissionId())
	if n > 0 {
		s.deps.Logger.InfoContext(ctx, "erased submission's messages from the stream",
			"submission_id", ev.GetSubmissionId(), "messages", n)
	}
	return err
}

// Policy lists who may call each RPC; object-level checks happen in the use
// cases. Anonymous submissions are allowed: many respondents have no account.
func Policy() auth.Policy {
	everyone := []auth.Role{auth.RolePublic}
	return auth.Policy{
		// Public opens a method to every caller: anyone may answer, and a
		// token only records who did. What each caller may see or change is
		// decided per submission (author, edit secret, co-leads).
		submissionv1.SubmissionService_CreateSubmission_FullMethodName:   everyone,
		submissionv1.SubmissionService_GetSubmission_FullMethodName:      everyone,
		submissionv1.SubmissionService_UpdateSubmission_FullMethodName:   everyone,
		submissionv1.SubmissionService_WithdrawSubmission_FullMethodName: everyone,
		submissionv1.SubmissionService_ConfirmSubmission_FullMethodName:  everyone,
		submissionv1.SubmissionService_ListSubmissions_FullMethodName:    everyone,
		submissionv1.SubmissionService_VerifyReceipt_FullMethodName:      everyone,
		submissionv1.SubmissionService_UploadDocument_FullMethodName:     everyone,
		submissionv1.SubmissionService_ExportOpenData_FullMethodName:     everyone,
		// Data-protection requests: the secretariat, which handles them.
		submissionv1.SubmissionService_ExportPersonalData_FullMethodName: {auth.RoleSecretariat},
		submissionv1.SubmissionService_ErasePersonalData_FullMethodName:  {auth.RoleSecretariat},
		// Internal: the worker's translation job, with the processes'
		// shared service key (auth.ServiceKey). No REST route leads here.
		submissionv1.SubmissionTranslationService_GetTextsForTranslation_FullMethodName: {auth.RoleService},
		submissionv1.SubmissionTranslationService_RecordTranslations_FullMethodName:     {auth.RoleService},
	}
}
