package grpcapi

import (
	"context"

	"github.com/consulta-platform/consulta/pkg/auth"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// TranslationServer implements the internal
// submissionv1.SubmissionTranslationServiceServer.
type TranslationServer struct {
	submissionv1.UnimplementedSubmissionTranslationServiceServer
	app *app.App
}

// NewTranslationServer returns the internal translation API of a.
func NewTranslationServer(a *app.App) *TranslationServer { return &TranslationServer{app: a} }

var skipReasons = map[app.SkipReason]submissionv1.TranslationSkipReason{
	app.SkipErased:     submissionv1.TranslationSkipReason_TRANSLATION_SKIP_REASON_ERASED,
	app.SkipInactive:   submissionv1.TranslationSkipReason_TRANSLATION_SKIP_REASON_INACTIVE,
	app.SkipSuperseded: submissionv1.TranslationSkipReason_TRANSLATION_SKIP_REASON_SUPERSEDED,
}

// GetTextsForTranslation implements the RPC.
func (s *TranslationServer) GetTextsForTranslation(ctx context.Context, r *submissionv1.GetTextsForTranslationRequest) (*submissionv1.GetTextsForTranslationResponse, error) {
	w, err := s.app.TextsForTranslation(ctx, auth.FromContext(ctx), r.GetSubmissionId(), r.GetVersion())
	if err != nil {
		return nil, err
	}
	out := &submissionv1.GetTextsForTranslationResponse{SkipReason: skipReasons[w.Skip], SourceLanguage: w.SourceLanguage,
		TargetLanguages: w.Targets}
	for _, t := range w.Texts {
		st := &submissionv1.SourceText{QuestionId: t.QuestionID, Text: t.Text, DoneLanguages: t.Done}
		for _, l := range w.Targets {
			if e, ok := t.Memory[l]; ok {
				st.Memory = append(st.Memory, &submissionv1.MemoryTranslation{Language: l, Text: e.Text, Provider: e.Provider, Model: e.Model})
			}
		}
		out.Texts = append(out.Texts, st)
	}
	return out, nil
}

// RecordTranslations implements the RPC.
func (s *TranslationServer) RecordTranslations(ctx context.Context, r *submissionv1.RecordTranslationsRequest) (*submissionv1.RecordTranslationsResponse, error) {
	ts := make([]store.NewTranslation, len(r.GetTranslations()))
	for i, t := range r.GetTranslations() {
		ts[i] = store.NewTranslation{Translation: domain.Translation{QuestionID: t.GetQuestionId(), Language: t.GetLanguage(),
			Text: t.GetText(), Provider: t.GetProvider(), Model: t.GetModel()}, FromMemory: t.GetFromMemory()}
	}
	n, err := s.app.RecordTranslations(ctx, auth.FromContext(ctx), r.GetSubmissionId(), r.GetVersion(), ts)
	if err != nil {
		return nil, err
	}
	return &submissionv1.RecordTranslationsResponse{Recorded: int32(n)}, nil
}
