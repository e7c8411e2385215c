// Package grpcapi is the submission service's gRPC edge.
package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// Server implements submissionv1.SubmissionServiceServer.
type Server struct {
	submissionv1.UnimplementedSubmissionServiceServer
	app *app.App
}

// New returns the gRPC server of a.
func New(a *app.App) *Server { return &Server{app: a} }

// CreateSubmission implements the RPC.
func (s *Server) CreateSubmission(ctx context.Context, r *submissionv1.CreateSubmissionRequest) (*submissionv1.CreateSubmissionResponse, error) {
	p := auth.FromContext(ctx)
	rr := r.GetRespondent()
	sub, err := s.app.Submit(ctx, p, domain.Submission{
		ConsultationID: r.GetConsultationId(),
		Respondent: domain.Respondent{
			StakeholderType:  rr.GetStakeholderType(),
			Country:          rr.GetCountry(),
			OrganisationName: rr.GetOrganisationName(),
			ContactEmail:     rr.GetContactEmail(),
		},
		Language: r.GetLanguage(),
		Answers:  app.AnswersFromProto(r.GetAnswers()),
	})
	if err != nil {
		return nil, err
	}
	return &submissionv1.CreateSubmissionResponse{Submission: toProto(sub, true)}, nil
}

// GetSubmission implements the RPC.
func (s *Server) GetSubmission(ctx context.Context, r *submissionv1.GetSubmissionRequest) (*submissionv1.GetSubmissionResponse, error) {
	p := auth.FromContext(ctx)
	sub, err := s.app.Get(ctx, p, r.GetId())
	if err != nil {
		return nil, err
	}
	// Contact data goes to the secretariat and the respondent, not to co-leads.
	showContact := p.Role == auth.RoleSecretariat || (p.Subject != "" && p.Subject == sub.CreatedBy)
	return &submissionv1.GetSubmissionResponse{Submission: toProto(sub, showContact)}, nil
}

func toProto(s domain.Submission, showContact bool) *submissionv1.Submission {
	r := &submissionv1.Respondent{
		StakeholderType:  s.Respondent.StakeholderType,
		Country:          s.Respondent.Country,
		Region:           s.Respondent.Region,
		OrganisationName: s.Respondent.OrganisationName,
	}
	if showContact {
		r.ContactEmail = s.Respondent.ContactEmail
	}
	return &submissionv1.Submission{
		Id:             s.ID,
		ConsultationId: s.ConsultationID,
		Respondent:     r,
		Language:       s.Language,
		Answers:        app.AnswersToProto(s.Answers),
		Version:        s.Version,
		CreateTime:     timestamppb.New(s.CreatedAt),
	}
}
