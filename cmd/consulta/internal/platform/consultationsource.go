package platform

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/apperr"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

// sourceTimeout bounds one read-through call: a submission waits for it, so
// a consultation service that does not answer must not hold it long.
const sourceTimeout = 5 * time.Second

// consultationSource is the submission service's submission.ConsultationSource:
// ConsultationService.GetConsultation and ReferenceService.ListThematicAreas
// over gRPC, without a token. The public sees every consultation a
// submission may go to (drafts answer NotFound, as they do to a submitter)
// and every thematic area, so the calls need no identity of their own.
type consultationSource struct {
	consultations consultationv1.ConsultationServiceClient
	reference     consultationv1.ReferenceServiceClient
}

func newConsultationSource(conn *grpc.ClientConn) *consultationSource {
	return &consultationSource{
		consultations: consultationv1.NewConsultationServiceClient(conn),
		reference:     consultationv1.NewReferenceServiceClient(conn),
	}
}

// Consultation implements submission.ConsultationSource.
func (s *consultationSource) Consultation(ctx context.Context, id string) (*consultationv1.Consultation, error) {
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	r, err := s.consultations.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: id})
	if err != nil {
		return nil, sourceError("GetConsultation", "id", id, err)
	}
	return r.GetConsultation(), nil
}

// ThematicArea implements submission.ConsultationSource.
func (s *consultationSource) ThematicArea(ctx context.Context, id string) (*consultationv1.ThematicArea, error) {
	ctx, cancel := context.WithTimeout(ctx, sourceTimeout)
	defer cancel()
	r, err := s.reference.ListThematicAreas(ctx, &consultationv1.ListThematicAreasRequest{})
	if err != nil {
		return nil, sourceError("ListThematicAreas", "thematic_area", id, err)
	}
	for _, a := range r.GetThematicAreas() {
		if a.GetId() == id {
			return a, nil
		}
	}
	return nil, apperr.NotFound("thematic_area", "thematic area %q not found", id)
}

// sourceError translates a failed call: NotFound stays NotFound (the caller
// decides what it means), anything else is the consultation service being
// unavailable to the submission service's caller, whatever code it
// answered, since the caller's request was not the cause.
func sourceError(method, field, id string, err error) error {
	if status.Code(err) == codes.NotFound {
		return apperr.NotFound(field, "%s not found by the consultation service", id)
	}
	return status.Error(codes.Unavailable, fmt.Sprintf("consultation service: %s %s: %v", method, id, status.Convert(err).Message()))
}
