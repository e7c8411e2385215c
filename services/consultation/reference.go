package consultation

import (
	"context"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/services/consultation/internal/reference"
)

// Reference is the consultation service's ReferenceService: countries,
// thematic areas with their co-leads, and stakeholder types, which the
// secretariat edits. Its events (consulta.reference.*) go through the
// consultation outbox, so the relay of the Service built by New publishes
// them: wire both into the same process.
type Reference struct {
	api *reference.Server
}

// NewReference builds the reference data API on d.Pool and d.Now.
func NewReference(d Deps) *Reference {
	return &Reference{api: reference.NewServer(reference.NewService(reference.NewStore(d.Pool), d.Now))}
}

// Register adds ReferenceService to gs.
func (r *Reference) Register(gs *grpc.Server) {
	consultationv1.RegisterReferenceServiceServer(gs, r.api)
}

// RegisterReferenceGateway adds the REST/JSON routes of ReferenceService,
// proxied to conn.
func RegisterReferenceGateway(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	return consultationv1.RegisterReferenceServiceHandler(ctx, mux, conn)
}

// ReferencePolicy lists who may call each RPC of ReferenceService: everyone,
// with or without a token, reads; only the secretariat writes.
func ReferencePolicy() auth.Policy {
	everyone := []auth.Role{auth.RoleSecretariat, auth.RoleColead, auth.RoleStakeholder, auth.RolePublic}
	secretariat := []auth.Role{auth.RoleSecretariat}
	return auth.Policy{
		consultationv1.ReferenceService_ListCountries_FullMethodName:          everyone,
		consultationv1.ReferenceService_UpdateCountry_FullMethodName:          secretariat,
		consultationv1.ReferenceService_ListThematicAreas_FullMethodName:      everyone,
		consultationv1.ReferenceService_CreateThematicArea_FullMethodName:     secretariat,
		consultationv1.ReferenceService_UpdateThematicArea_FullMethodName:     secretariat,
		consultationv1.ReferenceService_SetThematicAreaCoLeads_FullMethodName: secretariat,
		consultationv1.ReferenceService_ListStakeholderTypes_FullMethodName:   everyone,
		consultationv1.ReferenceService_CreateStakeholderType_FullMethodName:  secretariat,
		consultationv1.ReferenceService_UpdateStakeholderType_FullMethodName:  secretariat,
	}
}
