// Package tasks defines the worker's Asynq tasks: their type names
// (<area>:<verb>), typed payloads, constructors with deterministic task ids,
// and handlers.
package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker/internal/translate"
)

// Task types.
const (
	TypeTranslateSubmission = "translation:translate"
	TypeSendDigest          = "digest:send"
)

// TranslateSubmission asks for the texts of a submission in the other
// languages of its consultation. It names the submission version and never
// holds a text: payloads sit in Redis, where an erasure would not reach
// them, so the job is to read the texts from the submission service when it
// runs (and find none once they are erased).
type TranslateSubmission struct {
	SubmissionID   string `json:"submission_id"`
	ConsultationID string `json:"consultation_id"`
	Version        int64  `json:"version"`
	Language       string `json:"language"`
	// TextAnswers is how many free-text answers there are to translate.
	TextAnswers int `json:"text_answers"`
}

// NewTranslateSubmission builds the job. Its id names the submission version,
// so a redelivered event enqueues nothing new while an edit (a new version)
// is translated again.
func NewTranslateSubmission(p TranslateSubmission) (jobs.Job, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return jobs.Job{}, fmt.Errorf("encode %s: %w", TypeTranslateSubmission, err)
	}
	return jobs.Job{
		Task: asynq.NewTask(TypeTranslateSubmission, b),
		ID:   TranslateSubmissionID(p.SubmissionID, p.Version),
	}, nil
}

// TranslateSubmissionID is the task id of the translation of one submission version.
func TranslateSubmissionID(submissionID string, version int64) string {
	return fmt.Sprintf("translate:submission:%s:v%d", submissionID, version)
}

// SendDigest sends the secretariat and co-leads a digest ahead of a dialogue.
type SendDigest struct {
	DialogueID string        `json:"dialogue_id"`
	StartsAt   time.Time     `json:"starts_at"`
	Lead       time.Duration `json:"lead"`
}

// NewSendDigest builds the digest job due Lead before StartsAt. The id names
// the dialogue, the lead and the start time, so a redelivered event changes
// nothing while a rescheduled dialogue gets new digests.
func NewSendDigest(p SendDigest) (jobs.Job, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return jobs.Job{}, fmt.Errorf("encode %s: %w", TypeSendDigest, err)
	}
	return jobs.Job{
		Task:      asynq.NewTask(TypeSendDigest, b),
		ID:        SendDigestID(p.DialogueID, p.Lead, p.StartsAt),
		ProcessAt: p.StartsAt.Add(-p.Lead),
	}, nil
}

// SendDigestID is the task id of one digest of a dialogue.
func SendDigestID(dialogueID string, lead time.Duration, startsAt time.Time) string {
	return fmt.Sprintf("digest:dialogue:%s:%s:%d", dialogueID, lead, startsAt.Unix())
}

// Handlers runs the tasks.
type Handlers struct {
	Logger *slog.Logger
	// Translator translates texts; nil when no machine translation is
	// configured.
	Translator translate.Translator
	// JetStream carries the events the tasks publish.
	JetStream jetstream.JetStream
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Dialogues, when set, is asked for the dialogue before a digest goes
	// out, so that a digest of a dialogue since moved or cancelled (one the
	// reconciler re-created while the change was on its way) is dropped.
	Dialogues DialogueReader
	// Submissions, when set, is the submission service's internal
	// translation API; without it submissions' texts are not translated.
	Submissions SubmissionTexts
}

// DialogueReader reads a dialogue from the consultation service.
type DialogueReader interface {
	GetDialogue(ctx context.Context, in *consultationv1.GetDialogueRequest, opts ...grpc.CallOption) (*consultationv1.GetDialogueResponse, error)
}

// Mux routes each task type to its handler.
func (h Handlers) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeTranslateSubmission, h.translateSubmission)
	mux.HandleFunc(TypeSendDigest, h.sendDigest)
	mux.HandleFunc(TypeTranslateConsultation, h.translateConsultation)
	return mux
}

// sendDigest will assemble and mail the digest (a later issue); for now it
// records that the digest fell due.
func (h Handlers) sendDigest(ctx context.Context, t *asynq.Task) error {
	var p SendDigest
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if h.Dialogues != nil {
		resp, err := h.Dialogues.GetDialogue(ctx, &consultationv1.GetDialogueRequest{Id: p.DialogueID})
		if err != nil {
			return fmt.Errorf("digest of dialogue %s: %w", p.DialogueID, err)
		}
		d := resp.GetDialogue()
		if d.GetStatus() != consultationv1.DialogueStatus_DIALOGUE_STATUS_PLANNED || !d.GetStartsAt().AsTime().Equal(p.StartsAt) {
			h.Logger.InfoContext(ctx, "digest dropped: the dialogue moved or was cancelled", "dialogue_id", p.DialogueID,
				"starts_at", p.StartsAt, "lead", p.Lead)
			return nil
		}
	}
	h.Logger.InfoContext(ctx, "digest due", "dialogue_id", p.DialogueID, "starts_at", p.StartsAt, "lead", p.Lead)
	return nil
}
