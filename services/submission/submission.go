// Package submission is the service that takes stakeholders' answers. It owns
// the submission schema, keeps a read model of consultations built from
// consulta.consultation.* events (so accepting a submission needs no call to
// the consultation service), and publishes consulta.submission.* events
// through its outbox.
package submission

import (
	"context"
	"log/slog"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/grpcapi"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// Name is the service name used by `consulta serve --services`.
const Name = "submission"

// Durable consumers that feed the read models.
const (
	ConsultationsConsumer = "submission-consultations"
	ReferenceConsumer     = "submission-reference"
)

// Deps is what the service needs from the process.
type Deps struct {
	Pool      *pgxpool.Pool
	JetStream jetstream.JetStream
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registerer receives the service's metrics; may be nil.
	Registerer prometheus.Registerer
}

// Service is the submission service.
type Service struct {
	deps  Deps
	api   *grpcapi.Server
	relay *outbox.Relay
}

// New builds the service.
func New(d Deps) *Service {
	st := store.New(d.Pool)
	return &Service{
		deps: d,
		api:  grpcapi.New(app.New(st, d.Now)),
		relay: outbox.NewRelay(outbox.RelayConfig{
			Pool: d.Pool, Schema: store.Schema, JetStream: d.JetStream, Logger: d.Logger.With("relay", store.Schema),
			Registerer: d.Registerer,
		}),
	}
}

// Register adds the gRPC API to s.
func (s *Service) Register(gs *grpc.Server) {
	submissionv1.RegisterSubmissionServiceServer(gs, s.api)
}

// RegisterGateway adds the REST/JSON routes, proxied to conn.
func RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	return submissionv1.RegisterSubmissionServiceHandler(ctx, mux, conn)
}

// Run relays the outbox and keeps the read models of consultations and of
// reference data (countries' regions, stakeholder types) current until ctx
// is cancelled.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.relay.Run(ctx) })
	g.Go(func() error {
		return consumer.Run(ctx, consumer.Config{
			JetStream: s.deps.JetStream,
			Durable:   ConsultationsConsumer,
			Subjects:  []string{"consulta.consultation.>"},
			Logger:    s.deps.Logger.With("consumer", ConsultationsConsumer),
		}, inbox.Handler(s.deps.Pool, store.Schema, ConsultationsConsumer, app.ApplyConsultationEvent))
	})
	g.Go(func() error {
		return consumer.Run(ctx, consumer.Config{
			JetStream: s.deps.JetStream,
			Durable:   ReferenceConsumer,
			Subjects:  []string{events.ReferenceSubjects},
			Logger:    s.deps.Logger.With("consumer", ReferenceConsumer),
		}, inbox.Handler(s.deps.Pool, store.Schema, ReferenceConsumer, app.ApplyReferenceEvent))
	})
	return g.Wait()
}

// Policy lists who may call each RPC; object-level checks happen in the use
// cases. Anonymous submissions are allowed: many respondents have no account.
func Policy() auth.Policy {
	return auth.Policy{
		// Public opens it to every caller: anyone may answer, and a token
		// only records who did.
		submissionv1.SubmissionService_CreateSubmission_FullMethodName: {auth.RolePublic},
		submissionv1.SubmissionService_GetSubmission_FullMethodName:    {auth.RoleSecretariat, auth.RoleColead, auth.RoleStakeholder},
	}
}
