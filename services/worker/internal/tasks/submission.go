package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hibiken/asynq"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/worker/internal/translate"
)

// SubmissionTexts is the submission service's internal translation API,
// called with the service identity.
type SubmissionTexts interface {
	GetTextsForTranslation(ctx context.Context, in *submissionv1.GetTextsForTranslationRequest, opts ...grpc.CallOption) (*submissionv1.GetTextsForTranslationResponse, error)
	RecordTranslations(ctx context.Context, in *submissionv1.RecordTranslationsRequest, opts ...grpc.CallOption) (*submissionv1.RecordTranslationsResponse, error)
}

// translateSubmission reads the texts of one submission version from the
// submission service, translates those not yet translated and not in the
// translation memory into each other language of the consultation (one
// Translator call per target language), and records the results there. The
// texts pass through memory only: the payload names the version, and
// nothing the job logs holds a text. A version erased, withdrawn or
// replaced meanwhile is skipped; a repeated run records nothing new.
func (h Handlers) translateSubmission(ctx context.Context, t *asynq.Task) error {
	var p TranslateSubmission
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	log := h.Logger.With("task_id", TranslateSubmissionID(p.SubmissionID, p.Version), "submission_id", p.SubmissionID,
		"version", p.Version)
	if h.Translator == nil || h.Submissions == nil {
		log.InfoContext(ctx, "submission texts stay untranslated: no machine translator or no submission service configured",
			"text_answers", p.TextAnswers)
		return nil
	}
	if p.TextAnswers == 0 {
		return nil
	}
	work, err := h.Submissions.GetTextsForTranslation(ctx, &submissionv1.GetTextsForTranslationRequest{
		SubmissionId: p.SubmissionID, Version: p.Version})
	if status.Code(err) == codes.NotFound || status.Code(err) == codes.InvalidArgument {
		log.InfoContext(ctx, "submission version to translate not found", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("texts of submission %s v%d: %w", p.SubmissionID, p.Version, err)
	}
	if r := work.GetSkipReason(); r != submissionv1.TranslationSkipReason_TRANSLATION_SKIP_REASON_UNSPECIFIED {
		log.InfoContext(ctx, "submission translation skipped", "reason", r.String())
		return nil
	}
	from := work.GetSourceLanguage()
	var record []*submissionv1.RecordedTranslation
	for _, to := range work.GetTargetLanguages() {
		var miss []*submissionv1.SourceText
		for _, st := range work.GetTexts() {
			if slices.Contains(st.GetDoneLanguages(), to) {
				continue
			}
			if i := slices.IndexFunc(st.GetMemory(), func(m *submissionv1.MemoryTranslation) bool { return m.GetLanguage() == to }); i >= 0 {
				m := st.GetMemory()[i]
				record = append(record, &submissionv1.RecordedTranslation{QuestionId: st.GetQuestionId(), Language: to,
					Text: m.GetText(), Provider: m.GetProvider(), Model: m.GetModel(), FromMemory: true})
				continue
			}
			miss = append(miss, st)
		}
		if len(miss) == 0 {
			continue
		}
		in := make([]string, len(miss))
		for i, st := range miss {
			in[i] = st.GetText()
		}
		out, err := h.Translator.Translate(ctx, in, from, to)
		if err == nil && len(out) != len(in) {
			err = fmt.Errorf("%d translations for %d texts", len(out), len(in))
		}
		if err != nil {
			err = fmt.Errorf("translate submission %s v%d %s→%s: %w", p.SubmissionID, p.Version, from, to, err)
			if translate.IsPermanent(err) {
				return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
			}
			return err
		}
		pv := translate.ProvenanceOf(h.Translator, from, to)
		for i, st := range miss {
			record = append(record, &submissionv1.RecordedTranslation{QuestionId: st.GetQuestionId(), Language: to,
				Text: out[i], Provider: pv.Provider, Model: pv.Model})
		}
	}
	if len(record) == 0 {
		return nil
	}
	resp, err := h.Submissions.RecordTranslations(ctx, &submissionv1.RecordTranslationsRequest{
		SubmissionId: p.SubmissionID, Version: p.Version, Translations: record})
	if status.Code(err) == codes.FailedPrecondition {
		log.InfoContext(ctx, "submission erased while it was translated; nothing recorded")
		return nil
	}
	if err != nil {
		return fmt.Errorf("record translations of submission %s v%d: %w", p.SubmissionID, p.Version, err)
	}
	log.InfoContext(ctx, "submission translated", "translations", len(record), "recorded", resp.GetRecorded())
	return nil
}
