package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker/internal/translate"
)

// TypeTranslateConsultation translates the texts of a published consultation
// into one of its languages.
const TypeTranslateConsultation = "translation:consultation"

// TranslateConsultation asks for the texts of one consultation version that
// are missing in Language.
type TranslateConsultation struct {
	ConsultationID string       `json:"consultation_id"`
	Version        int64        `json:"version"`
	Language       string       `json:"language"`
	Texts          []SourceText `json:"texts"`
}

// SourceText is one text to translate: where it is in the consultation (see
// ReviewTranslationRequest.text_path) and what it says in its source language.
type SourceText struct {
	Path           string `json:"path"`
	SourceLanguage string `json:"source_language"`
	SourceText     string `json:"source_text"`
}

// NewTranslateConsultation builds the job. Its id names the consultation
// version and the language, so a redelivered event enqueues nothing new.
func NewTranslateConsultation(p TranslateConsultation) (jobs.Job, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return jobs.Job{}, fmt.Errorf("encode %s: %w", TypeTranslateConsultation, err)
	}
	return jobs.Job{
		Task: asynq.NewTask(TypeTranslateConsultation, b),
		ID:   TranslateConsultationID(p.ConsultationID, p.Version, p.Language),
	}, nil
}

// TranslateConsultationID is the task id of the translation of one
// consultation version into one language.
func TranslateConsultationID(consultationID string, version int64, lang string) string {
	return fmt.Sprintf("translate:consultation:%s:v%d:%s", consultationID, version, lang)
}

// taskEventNamespace derives event ids from task ids (UUIDv5).
var taskEventNamespace = uuid.MustParse("6f1f2a9c-3c4e-4d7a-9b1e-2f0c8e5a7d31")

// TaskEventID is the id of the event a task publishes, derived from the task
// id: a retried task publishes the same id, which JetStream drops as a
// duplicate within its window and consumers' inboxes drop after it.
func TaskEventID(taskID string) string {
	return uuid.NewSHA1(taskEventNamespace, []byte(taskID)).String()
}

// translateConsultation translates the texts, grouped by source language,
// and publishes them as one ConsultationTranslatedEvent. Without a
// translator it completes without publishing: the texts wait for a review.
func (h Handlers) translateConsultation(ctx context.Context, t *asynq.Task) error {
	var p TranslateConsultation
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	taskID := TranslateConsultationID(p.ConsultationID, p.Version, p.Language)
	log := h.Logger.With("task_id", taskID, "consultation_id", p.ConsultationID, "version", p.Version, "language", p.Language)
	if h.Translator == nil {
		log.InfoContext(ctx, "no machine translator configured; texts stay untranslated until reviewed", "texts", len(p.Texts))
		return nil
	}
	if len(p.Texts) == 0 {
		return nil
	}
	ev := &consultationv1.ConsultationTranslatedEvent{
		ConsultationId: p.ConsultationID,
		BasedOnVersion: p.Version,
		Language:       p.Language,
	}
	// One call per source language, in the order the languages first appear.
	var order []string
	bySource := map[string][]SourceText{}
	for _, st := range p.Texts {
		if _, ok := bySource[st.SourceLanguage]; !ok {
			order = append(order, st.SourceLanguage)
		}
		bySource[st.SourceLanguage] = append(bySource[st.SourceLanguage], st)
	}
	for _, from := range order {
		group := bySource[from]
		in := make([]string, len(group))
		for i, st := range group {
			in[i] = st.SourceText
		}
		out, err := h.Translator.Translate(ctx, in, from, p.Language)
		if err == nil && len(out) != len(in) {
			err = fmt.Errorf("%d translations for %d texts", len(out), len(in))
		}
		if err != nil {
			err = fmt.Errorf("translate consultation %s v%d %s→%s: %w", p.ConsultationID, p.Version, from, p.Language, err)
			if translate.IsPermanent(err) {
				return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
			}
			return err
		}
		for i, st := range group {
			ev.Texts = append(ev.Texts, &consultationv1.TranslatedText{
				Path:           st.Path,
				SourceLanguage: st.SourceLanguage,
				SourceText:     st.SourceText,
				Text:           out[i],
			})
		}
	}
	if err := h.publish(ctx, taskID, events.Aggregate{Type: "consultation", ID: p.ConsultationID, Version: p.Version}, ev); err != nil {
		return err
	}
	log.InfoContext(ctx, "consultation translated", "texts", len(ev.Texts))
	return nil
}

// publish sends ev on JetStream under an id derived from taskID.
func (h Handlers) publish(ctx context.Context, taskID string, agg events.Aggregate, ev *consultationv1.ConsultationTranslatedEvent) error {
	if h.JetStream == nil {
		return fmt.Errorf("%s: no JetStream to publish on", taskID)
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	env, err := events.New(events.ConsultationTranslated, agg, ev, now().UTC())
	if err != nil {
		return err
	}
	env.Id = TaskEventID(taskID)
	data, err := events.Marshal(env)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(events.ConsultationTranslated)
	msg.Data = data
	msg.Header.Set(events.HeaderType, events.ConsultationTranslated)
	if _, err := h.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(env.GetId())); err != nil {
		return fmt.Errorf("%s: publish %s: %w", taskID, events.ConsultationTranslated, err)
	}
	return nil
}
