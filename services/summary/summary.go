// Package summary is the service that turns submissions into what a dialogue
// can use. It owns the summary schema, projects consulta.submission.* events
// into counts (exactly once, through its inbox), and serves GetSummary.
package summary

import (
	"context"
	"log/slog"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/background"
	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/services/summary/internal/grpcapi"
	"github.com/consulta-platform/consulta/services/summary/internal/store"
)

// Name is the service name used by `consulta serve --services`.
const Name = "summary"

// SubmissionsConsumer is the durable consumer that feeds the projections.
const SubmissionsConsumer = "summary-submissions"

// Deps is what the service needs from the process.
type Deps struct {
	Pool      *pgxpool.Pool
	JetStream jetstream.JetStream
	Logger    *slog.Logger
}

// Service is the summary service.
type Service struct {
	deps Deps
	api  *grpcapi.Server
}

// New builds the service.
func New(d Deps) *Service {
	return &Service{deps: d, api: grpcapi.New(store.New(d.Pool))}
}

// Register adds the gRPC API to s.
func (s *Service) Register(gs *grpc.Server) {
	summaryv1.RegisterSummaryServiceServer(gs, s.api)
}

// RegisterGateway adds the REST/JSON routes, proxied to conn.
func RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	return summaryv1.RegisterSummaryServiceHandler(ctx, mux, conn)
}

// Background is the service's background work: the projection of
// submission events.
func (s *Service) Background() []background.Part {
	return []background.Part{{Name: SubmissionsConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
		return consumer.Run(ctx, consumer.Config{
			JetStream: s.deps.JetStream,
			Durable:   SubmissionsConsumer,
			Subjects:  []string{"consulta.submission.>"},
			Logger:    s.deps.Logger.With("consumer", SubmissionsConsumer),
		}, inbox.Handler(s.deps.Pool, store.Schema, SubmissionsConsumer, project))
	}}}
}

// project applies one submission event to the counts: a submission counts
// while it is active (accepted, confirmed when confirmation is required,
// not withdrawn). Erasure changes no count: counts hold no personal data,
// and the summary keeps no texts to drop (events carry none).
func project(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error {
	msg, err := events.Decode(env)
	if err != nil {
		return consumer.Permanent(err)
	}
	ev, ok := msg.(interface {
		GetSubmission() *submissionv1.SubmissionSnapshot
	})
	if !ok {
		return nil // an event without a snapshot: erased (no count changes)
	}
	s := ev.GetSubmission()
	// A confirmation or expiry does not make a new version of the content,
	// but it is a newer state: order it after the version it concerns.
	version := s.GetVersion() * 4
	switch env.GetType() {
	case events.SubmissionConfirmed:
		version += 1
	case events.SubmissionExpired:
		version += 2
	}
	return store.ApplySubmission(ctx, tx, store.SubmissionState{
		ID: s.GetId(), ConsultationID: s.GetConsultationId(), StakeholderType: s.GetStakeholderType(), Region: s.GetRegion(),
		Counted: s.GetStatus() == submissionv1.SubmissionStatus_SUBMISSION_STATUS_ACTIVE,
		Version: version, At: s.GetUpdateTime().AsTime(),
	})
}

// Policy: summaries are public.
func Policy() auth.Policy {
	return auth.Policy{
		summaryv1.SummaryService_GetSummary_FullMethodName: {auth.RoleSecretariat, auth.RoleColead, auth.RoleStakeholder, auth.RolePublic},
	}
}
