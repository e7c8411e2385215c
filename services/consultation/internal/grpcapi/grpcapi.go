// Package grpcapi is the consultation service's gRPC edge: it converts
// requests to domain values, calls the use cases, and translates domain
// errors to status codes.
package grpcapi

import (
	"context"

	"github.com/consulta-platform/consulta/services/consultation/internal/store"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/geo"
	"github.com/consulta-platform/consulta/services/consultation/internal/app"
	"github.com/consulta-platform/consulta/services/consultation/internal/protoconv"
)

// Server implements consultationv1.ConsultationServiceServer.
type Server struct {
	consultationv1.UnimplementedConsultationServiceServer
	app *app.App
}

// New returns the gRPC server of a.
func New(a *app.App) *Server { return &Server{app: a} }

// CreateDialogue implements the RPC.
func (s *Server) CreateDialogue(ctx context.Context, r *consultationv1.CreateDialogueRequest) (*consultationv1.CreateDialogueResponse, error) {
	d, err := s.app.CreateDialogue(ctx, auth.FromContext(ctx), protoconv.DialogueFromCreate(r))
	if err != nil {
		return nil, err
	}
	return &consultationv1.CreateDialogueResponse{Dialogue: protoconv.Dialogue(d)}, nil
}

// GetDialogue implements the RPC.
func (s *Server) GetDialogue(ctx context.Context, r *consultationv1.GetDialogueRequest) (*consultationv1.GetDialogueResponse, error) {
	d, err := s.app.GetDialogue(ctx, r.GetId())
	if err != nil {
		return nil, err
	}
	return &consultationv1.GetDialogueResponse{Dialogue: protoconv.Dialogue(d)}, nil
}

// CreateConsultation implements the RPC.
func (s *Server) CreateConsultation(ctx context.Context, r *consultationv1.CreateConsultationRequest) (*consultationv1.CreateConsultationResponse, error) {
	c, err := s.app.CreateConsultation(ctx, auth.FromContext(ctx), r.GetDialogueId(), protoconv.Draft(r))
	if err != nil {
		return nil, err
	}
	return &consultationv1.CreateConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// GetConsultation implements the RPC.
func (s *Server) GetConsultation(ctx context.Context, r *consultationv1.GetConsultationRequest) (*consultationv1.GetConsultationResponse, error) {
	c, err := s.app.GetConsultation(ctx, auth.FromContext(ctx), r.GetId())
	if err != nil {
		return nil, err
	}
	return &consultationv1.GetConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// OpenConsultation implements the RPC.
func (s *Server) OpenConsultation(ctx context.Context, r *consultationv1.OpenConsultationRequest) (*consultationv1.OpenConsultationResponse, error) {
	c, err := s.app.OpenConsultation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.OpenConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// CloseConsultation implements the RPC.
func (s *Server) CloseConsultation(ctx context.Context, r *consultationv1.CloseConsultationRequest) (*consultationv1.CloseConsultationResponse, error) {
	c, err := s.app.CloseConsultation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.CloseConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// UpdateDialogue implements the RPC.
func (s *Server) UpdateDialogue(ctx context.Context, r *consultationv1.UpdateDialogueRequest) (*consultationv1.UpdateDialogueResponse, error) {
	d, err := s.app.UpdateDialogue(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion(), protoconv.DialogueChanges(r))
	if err != nil {
		return nil, err
	}
	return &consultationv1.UpdateDialogueResponse{Dialogue: protoconv.Dialogue(d)}, nil
}

// CancelDialogue implements the RPC.
func (s *Server) CancelDialogue(ctx context.Context, r *consultationv1.CancelDialogueRequest) (*consultationv1.CancelDialogueResponse, error) {
	d, err := s.app.CancelDialogue(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.CancelDialogueResponse{Dialogue: protoconv.Dialogue(d)}, nil
}

// ListDialogues implements the RPC.
func (s *Server) ListDialogues(ctx context.Context, r *consultationv1.ListDialoguesRequest) (*consultationv1.ListDialoguesResponse, error) {
	ds, next, err := s.app.ListDialogues(ctx, r.GetThematicArea(), protoconv.DialogueStatus(r.GetStatus()), int(r.GetPageSize()), r.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &consultationv1.ListDialoguesResponse{NextPageToken: next}
	for _, d := range ds {
		out.Dialogues = append(out.Dialogues, protoconv.Dialogue(d))
	}
	return out, nil
}

// UpdateConsultation implements the RPC.
func (s *Server) UpdateConsultation(ctx context.Context, r *consultationv1.UpdateConsultationRequest) (*consultationv1.UpdateConsultationResponse, error) {
	c, err := s.app.UpdateConsultation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion(), protoconv.Draft(r))
	if err != nil {
		return nil, err
	}
	return &consultationv1.UpdateConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// ScheduleConsultation implements the RPC.
func (s *Server) ScheduleConsultation(ctx context.Context, r *consultationv1.ScheduleConsultationRequest) (*consultationv1.ScheduleConsultationResponse, error) {
	c, err := s.app.ScheduleConsultation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.ScheduleConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// ExtendConsultation implements the RPC.
func (s *Server) ExtendConsultation(ctx context.Context, r *consultationv1.ExtendConsultationRequest) (*consultationv1.ExtendConsultationResponse, error) {
	c, err := s.app.ExtendConsultation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion(), r.GetClosesAt().AsTime())
	if err != nil {
		return nil, err
	}
	return &consultationv1.ExtendConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// ArchiveConsultation implements the RPC.
func (s *Server) ArchiveConsultation(ctx context.Context, r *consultationv1.ArchiveConsultationRequest) (*consultationv1.ArchiveConsultationResponse, error) {
	c, err := s.app.ArchiveConsultation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	return &consultationv1.ArchiveConsultationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// ReviewTranslation implements the RPC.
func (s *Server) ReviewTranslation(ctx context.Context, r *consultationv1.ReviewTranslationRequest) (*consultationv1.ReviewTranslationResponse, error) {
	c, err := s.app.ReviewTranslation(ctx, auth.FromContext(ctx), r.GetId(), r.GetVersion(), r.GetTextPath(), r.GetLanguage(), r.GetText())
	if err != nil {
		return nil, err
	}
	return &consultationv1.ReviewTranslationResponse{Consultation: protoconv.Consultation(c)}, nil
}

// ListConsultations implements the RPC.
func (s *Server) ListConsultations(ctx context.Context, r *consultationv1.ListConsultationsRequest) (*consultationv1.ListConsultationsResponse, error) {
	f := store.ConsultationFilter{ThematicArea: r.GetThematicArea(), CoLeadCountry: r.GetColeadCountry()}
	if r.GetLanguage() != "" {
		lang, err := geo.Language(r.GetLanguage())
		if err != nil {
			return nil, apperr.Invalid("language", "%v", err)
		}
		f.Language = lang
	}
	for _, st := range r.GetStatuses() {
		f.Statuses = append(f.Statuses, protoconv.Status(st))
	}
	cs, next, err := s.app.ListConsultations(ctx, auth.FromContext(ctx), f, int(r.GetPageSize()), r.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &consultationv1.ListConsultationsResponse{NextPageToken: next}
	for _, c := range cs {
		out.Consultations = append(out.Consultations, protoconv.Consultation(c))
	}
	return out, nil
}
