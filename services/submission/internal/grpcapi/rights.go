package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
)

// ExportPersonalData implements the RPC (secretariat only, by the policy).
func (s *Server) ExportPersonalData(ctx context.Context, r *submissionv1.ExportPersonalDataRequest) (*submissionv1.ExportPersonalDataResponse, error) {
	pd, err := s.app.ExportPersonalData(ctx, r.GetEmail())
	if err != nil {
		return nil, err
	}
	out := &submissionv1.ExportPersonalDataResponse{Email: pd.Email}
	for _, ps := range pd.Submissions {
		p := &submissionv1.PersonalDataSubmission{
			SubmissionId: ps.ID, ConsultationId: ps.ConsultationID, Status: app.StatusToProto(ps.Status),
		}
		for _, v := range ps.Versions {
			p.Versions = append(p.Versions, app.SubmissionToProto(v))
		}
		out.Submissions = append(out.Submissions, p)
	}
	for _, e := range pd.Erasures {
		out.Erasures = append(out.Erasures, erasureToProto(e))
	}
	return out, nil
}

// ErasePersonalData implements the RPC (secretariat only, by the policy).
func (s *Server) ErasePersonalData(ctx context.Context, r *submissionv1.ErasePersonalDataRequest) (*submissionv1.ErasePersonalDataResponse, error) {
	e, err := s.app.ErasePersonalData(ctx, auth.FromContext(ctx), r.GetEmail(), r.GetReason())
	if err != nil {
		return nil, err
	}
	return &submissionv1.ErasePersonalDataResponse{Erasure: erasureToProto(e)}, nil
}

func erasureToProto(e app.Erasure) *submissionv1.Erasure {
	return &submissionv1.Erasure{
		Id: e.ID, AddressTag: e.AddressTag, RequestedBy: e.RequestedBy, Reason: e.Reason,
		SubmissionIds: e.SubmissionIDs, EraseTime: timestamppb.New(e.ErasedAt),
	}
}
