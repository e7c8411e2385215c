// Package consultation is the service where co-leads and the secretariat
// schedule policy dialogues and run consultations. It owns the consultation
// schema and publishes consulta.dialogue.* and consulta.consultation.* events
// through its outbox.
//
// Its public surface is small: New, Register, RegisterGateway, Run and Policy.
// Everything else lives in internal/.
package consultation

import (
	"context"
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
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/services/consultation/internal/app"
	"github.com/consulta-platform/consulta/services/consultation/internal/grpcapi"
	"github.com/consulta-platform/consulta/services/consultation/internal/store"
)

// Name is the service name used by `consulta serve --services`.
const Name = "consultation"

// Deps is what the service needs from the process.
type Deps struct {
	Pool      *pgxpool.Pool
	JetStream jetstream.JetStream
	Logger    *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registerer receives the service's metrics; may be nil.
	Registerer prometheus.Registerer
	// SchedulerInterval is the longest the scheduler sleeps before looking
	// for consultations to open or close (default 1s).
	SchedulerInterval time.Duration
}

// SubmissionsConsumer is the durable consumer that freezes questionnaires at
// their first submission.
const SubmissionsConsumer = "consultation-submissions"

// Service is the consultation service.
type Service struct {
	deps  Deps
	app   *app.App
	api   *grpcapi.Server
	ref   *Reference
	relay *outbox.Relay
}

// New builds the service.
func New(d Deps) *Service {
	if d.SchedulerInterval <= 0 {
		d.SchedulerInterval = time.Second
	}
	st := store.New(d.Pool)
	a := app.New(st, d.Now)
	return &Service{
		deps: d,
		app:  a,
		api:  grpcapi.New(a),
		ref:  NewReference(d),
		relay: outbox.NewRelay(outbox.RelayConfig{
			Pool: d.Pool, Schema: store.Schema, JetStream: d.JetStream, Logger: d.Logger.With("relay", store.Schema),
			Registerer: d.Registerer,
		}),
	}
}

// Register adds the gRPC APIs (ConsultationService and ReferenceService) to gs.
func (s *Service) Register(gs *grpc.Server) {
	consultationv1.RegisterConsultationServiceServer(gs, s.api)
	s.ref.Register(gs)
}

// RegisterGateway adds the REST/JSON routes of both APIs, proxied to conn.
func RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	if err := consultationv1.RegisterConsultationServiceHandler(ctx, mux, conn); err != nil {
		return err
	}
	return RegisterReferenceGateway(ctx, mux, conn)
}

// Background is the service's background work: the outbox relay to
// JetStream; the scheduler, which opens and closes consultations on time;
// the consumers that freeze questionnaires at their first submission and
// store the worker's machine translations.
func (s *Service) Background() []background.Part {
	// translations is the durable consumer of the worker's machine translations.
	const translations = "consultation-translations"
	return []background.Part{
		{Name: "consultation relay", Stage: background.Relays, Run: s.relay.Run},
		{Name: "consultation scheduler", Stage: background.Consumers, Run: func(ctx context.Context) error {
			return s.app.RunScheduler(ctx, s.deps.Logger.With("component", "scheduler"), s.deps.SchedulerInterval)
		}},
		{Name: SubmissionsConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   SubmissionsConsumer,
				Subjects:  events.Filters(events.SubmissionReceived),
				Logger:    s.deps.Logger.With("consumer", SubmissionsConsumer),
			}, inbox.Handler(s.deps.Pool, store.Schema, SubmissionsConsumer, s.app.FreezeQuestions))
		}},
		{Name: translations, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   translations,
				Subjects:  []string{events.ConsultationTranslated},
				Logger:    s.deps.Logger.With("consumer", translations),
			}, inbox.Handler(s.deps.Pool, store.Schema, translations, s.app.ApplyMachineTranslation))
		}},
	}
}

// Policy lists who may call each RPC of both APIs; object-level checks (which
// co-lead manages what) happen in the use cases.
func Policy() auth.Policy {
	return consultationPolicy().Merge(ReferencePolicy())
}

func consultationPolicy() auth.Policy {
	managers := []auth.Role{auth.RoleSecretariat, auth.RoleColead}
	everyone := []auth.Role{auth.RoleSecretariat, auth.RoleColead, auth.RoleStakeholder, auth.RolePublic}
	return auth.Policy{
		consultationv1.ConsultationService_CreateDialogue_FullMethodName:       managers,
		consultationv1.ConsultationService_GetDialogue_FullMethodName:          everyone,
		consultationv1.ConsultationService_CreateConsultation_FullMethodName:   managers,
		consultationv1.ConsultationService_GetConsultation_FullMethodName:      everyone,
		consultationv1.ConsultationService_OpenConsultation_FullMethodName:     managers,
		consultationv1.ConsultationService_CloseConsultation_FullMethodName:    managers,
		consultationv1.ConsultationService_UpdateDialogue_FullMethodName:       managers,
		consultationv1.ConsultationService_CancelDialogue_FullMethodName:       managers,
		consultationv1.ConsultationService_ListDialogues_FullMethodName:        everyone,
		consultationv1.ConsultationService_UpdateConsultation_FullMethodName:   managers,
		consultationv1.ConsultationService_ScheduleConsultation_FullMethodName: managers,
		consultationv1.ConsultationService_ExtendConsultation_FullMethodName:   managers,
		consultationv1.ConsultationService_ArchiveConsultation_FullMethodName:  managers,
		consultationv1.ConsultationService_ListConsultations_FullMethodName:    everyone,
		consultationv1.ConsultationService_ReviewTranslation_FullMethodName:    managers,
	}
}
