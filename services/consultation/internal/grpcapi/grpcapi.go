// Package grpcapi is the consultation service's gRPC edge: it converts
// requests to domain values, calls the use cases, and translates domain
// errors to status codes.
package grpcapi

import (
	"context"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
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
	c, err := s.app.CreateConsultation(ctx, auth.FromContext(ctx), protoconv.ConsultationFromCreate(r))
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
