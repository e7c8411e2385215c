package reference

import (
	"context"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

// Server implements consultationv1.ReferenceServiceServer: it converts
// requests to domain values and calls the use cases. Their domain errors are
// translated to status codes by the interceptors of pkg/grpcserver.
type Server struct {
	consultationv1.UnimplementedReferenceServiceServer
	svc *Service
}

// NewServer returns the gRPC server of svc.
func NewServer(svc *Service) *Server { return &Server{svc: svc} }

// ListCountries implements the RPC.
func (s *Server) ListCountries(ctx context.Context, r *consultationv1.ListCountriesRequest) (*consultationv1.ListCountriesResponse, error) {
	f := CountryFilter{AllianceMembers: r.GetAllianceMembersOnly()}
	if r.GetRegion() != consultationv1.Region_REGION_UNSPECIFIED {
		f.Region = RegionFromProto(r.GetRegion())
	}
	cs, err := s.svc.Countries(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &consultationv1.ListCountriesResponse{Countries: make([]*consultationv1.Country, len(cs))}
	for i, c := range cs {
		out.Countries[i] = CountryProto(c)
	}
	return out, nil
}

// UpdateCountry implements the RPC.
func (s *Server) UpdateCountry(ctx context.Context, r *consultationv1.UpdateCountryRequest) (*consultationv1.UpdateCountryResponse, error) {
	var ch CountryChange
	if r.Region != nil {
		region := RegionFromProto(r.GetRegion())
		ch.Region = &region
	}
	if r.GetNames() != nil {
		names := NamesFromProto(r.GetNames())
		ch.Names = &names
	}
	if r.AllianceMember != nil {
		member := r.GetAllianceMember()
		ch.AllianceMember = &member
	}
	c, err := s.svc.UpdateCountry(ctx, auth.FromContext(ctx), r.GetCode(), ch, r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.UpdateCountryResponse{Country: CountryProto(c)}, nil
}

// ListThematicAreas implements the RPC.
func (s *Server) ListThematicAreas(ctx context.Context, _ *consultationv1.ListThematicAreasRequest) (*consultationv1.ListThematicAreasResponse, error) {
	as, err := s.svc.ThematicAreas(ctx)
	if err != nil {
		return nil, err
	}
	out := &consultationv1.ListThematicAreasResponse{ThematicAreas: make([]*consultationv1.ThematicArea, len(as))}
	for i, a := range as {
		out.ThematicAreas[i] = ThematicAreaProto(a)
	}
	return out, nil
}

// CreateThematicArea implements the RPC.
func (s *Server) CreateThematicArea(ctx context.Context, r *consultationv1.CreateThematicAreaRequest) (*consultationv1.CreateThematicAreaResponse, error) {
	a, err := s.svc.CreateThematicArea(ctx, auth.FromContext(ctx), r.GetId(), NamesFromProto(r.GetNames()))
	if err != nil {
		return nil, err
	}
	return &consultationv1.CreateThematicAreaResponse{ThematicArea: ThematicAreaProto(a)}, nil
}

// UpdateThematicArea implements the RPC.
func (s *Server) UpdateThematicArea(ctx context.Context, r *consultationv1.UpdateThematicAreaRequest) (*consultationv1.UpdateThematicAreaResponse, error) {
	a, err := s.svc.UpdateThematicArea(ctx, auth.FromContext(ctx), r.GetId(), NamesFromProto(r.GetNames()), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.UpdateThematicAreaResponse{ThematicArea: ThematicAreaProto(a)}, nil
}

// SetThematicAreaCoLeads implements the RPC.
func (s *Server) SetThematicAreaCoLeads(ctx context.Context, r *consultationv1.SetThematicAreaCoLeadsRequest) (*consultationv1.SetThematicAreaCoLeadsResponse, error) {
	a, err := s.svc.SetCoLeads(ctx, auth.FromContext(ctx), r.GetThematicArea(), r.GetCountries(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.SetThematicAreaCoLeadsResponse{ThematicArea: ThematicAreaProto(a)}, nil
}

// ListStakeholderTypes implements the RPC.
func (s *Server) ListStakeholderTypes(ctx context.Context, _ *consultationv1.ListStakeholderTypesRequest) (*consultationv1.ListStakeholderTypesResponse, error) {
	ts, err := s.svc.StakeholderTypes(ctx)
	if err != nil {
		return nil, err
	}
	out := &consultationv1.ListStakeholderTypesResponse{StakeholderTypes: make([]*consultationv1.StakeholderType, len(ts))}
	for i, t := range ts {
		out.StakeholderTypes[i] = StakeholderTypeProto(t)
	}
	return out, nil
}

// CreateStakeholderType implements the RPC.
func (s *Server) CreateStakeholderType(ctx context.Context, r *consultationv1.CreateStakeholderTypeRequest) (*consultationv1.CreateStakeholderTypeResponse, error) {
	t, err := s.svc.CreateStakeholderType(ctx, auth.FromContext(ctx), r.GetId(), NamesFromProto(r.GetNames()))
	if err != nil {
		return nil, err
	}
	return &consultationv1.CreateStakeholderTypeResponse{StakeholderType: StakeholderTypeProto(t)}, nil
}

// UpdateStakeholderType implements the RPC.
func (s *Server) UpdateStakeholderType(ctx context.Context, r *consultationv1.UpdateStakeholderTypeRequest) (*consultationv1.UpdateStakeholderTypeResponse, error) {
	t, err := s.svc.UpdateStakeholderType(ctx, auth.FromContext(ctx), r.GetId(), NamesFromProto(r.GetNames()), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.UpdateStakeholderTypeResponse{StakeholderType: StakeholderTypeProto(t)}, nil
}
