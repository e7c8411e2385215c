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
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
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
}

// Service is the consultation service.
type Service struct {
	api   *grpcapi.Server
	relay *outbox.Relay
}

// New builds the service.
func New(d Deps) *Service {
	st := store.New(d.Pool)
	return &Service{
		api: grpcapi.New(app.New(st, d.Now)),
		relay: outbox.NewRelay(outbox.RelayConfig{
			Pool: d.Pool, Schema: store.Schema, JetStream: d.JetStream, Logger: d.Logger.With("relay", store.Schema),
			Registerer: d.Registerer,
		}),
	}
}

// Register adds the gRPC API to s.
func (s *Service) Register(gs *grpc.Server) {
	consultationv1.RegisterConsultationServiceServer(gs, s.api)
}

// RegisterGateway adds the REST/JSON routes, proxied to conn.
func RegisterGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	return consultationv1.RegisterConsultationServiceHandler(ctx, mux, conn)
}

// Run relays the outbox to JetStream until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error {
	return s.relay.Run(ctx)
}

// Policy lists who may call each RPC; object-level checks (which co-lead
// manages what) happen in the use cases.
func Policy() auth.Policy {
	managers := []auth.Role{auth.RoleSecretariat, auth.RoleColead}
	everyone := []auth.Role{auth.RoleSecretariat, auth.RoleColead, auth.RoleStakeholder, auth.RolePublic}
	return auth.Policy{
		consultationv1.ConsultationService_CreateDialogue_FullMethodName:     managers,
		consultationv1.ConsultationService_GetDialogue_FullMethodName:        everyone,
		consultationv1.ConsultationService_CreateConsultation_FullMethodName: managers,
		consultationv1.ConsultationService_GetConsultation_FullMethodName:    everyone,
		consultationv1.ConsultationService_OpenConsultation_FullMethodName:   managers,
		consultationv1.ConsultationService_CloseConsultation_FullMethodName:  managers,
	}
}
