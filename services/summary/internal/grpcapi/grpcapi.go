// Package grpcapi is the summary service's gRPC edge.
package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/services/summary/internal/store"
)

// Server implements summaryv1.SummaryServiceServer.
type Server struct {
	summaryv1.UnimplementedSummaryServiceServer
	store *store.Store
}

// New returns the gRPC server over st.
func New(st *store.Store) *Server { return &Server{store: st} }

// GetSummary implements the RPC.
func (s *Server) GetSummary(ctx context.Context, r *summaryv1.GetSummaryRequest) (*summaryv1.GetSummaryResponse, error) {
	c, err := s.store.Counts(ctx, r.GetConsultationId())
	if err != nil {
		return nil, err
	}
	out := &summaryv1.Summary{
		ConsultationId:    c.ConsultationID,
		Total:             c.Total,
		ByStakeholderType: c.ByStakeholderType,
		ByRegion:          c.ByRegion,
	}
	if !c.UpdatedAt.IsZero() {
		out.UpdateTime = timestamppb.New(c.UpdatedAt)
	}
	return &summaryv1.GetSummaryResponse{Summary: out}, nil
}
