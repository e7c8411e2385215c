package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// ApplyConsultationEvent updates the read model from a consultation event;
// it runs inside the inbox transaction of the consumer. The read model takes
// an event only when it is newer than what it holds, so redelivered and
// reordered events converge on the source's state.
func ApplyConsultationEvent(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error {
	msg, err := events.Decode(env)
	if err != nil {
		return consumer.Permanent(err)
	}
	// Every consultation event but the worker's translations carries the
	// whole consultation after the change.
	ev, ok := msg.(interface {
		GetConsultation() *consultationv1.Consultation
	})
	if !ok {
		return nil // an event this read model does not need
	}
	pc := ev.GetConsultation()
	if pc == nil {
		return consumer.Permanent(fmt.Errorf("event %s (%s) carries no consultation", env.GetId(), env.GetType()))
	}
	return store.ApplyConsultation(ctx, tx, ReadModel(pc))
}

var statusNames = map[consultationv1.ConsultationStatus]string{
	consultationv1.ConsultationStatus_CONSULTATION_STATUS_DRAFT:     domain.StatusDraft,
	consultationv1.ConsultationStatus_CONSULTATION_STATUS_SCHEDULED: "scheduled",
	consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN:      domain.StatusOpen,
	consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED:    domain.StatusClosed,
	consultationv1.ConsultationStatus_CONSULTATION_STATUS_ARCHIVED:  "archived",
}

// ReadModel keeps what validation needs of a consultation.
func ReadModel(pc *consultationv1.Consultation) domain.Consultation {
	c := domain.Consultation{
		ID:           pc.GetId(),
		Version:      pc.GetVersion(),
		Status:       statusNames[pc.GetStatus()],
		ClosesAt:     pc.GetClosesAt().AsTime(),
		Languages:    pc.GetLanguages(),
		ThematicArea: pc.GetThematicArea(),
		Audience:     pc.GetAudience(),

		RequireEmailConfirmation: pc.GetRequireEmailConfirmation(),
	}
	if p := pc.GetDefaultPublication(); p != consultationv1.Publication_PUBLICATION_UNSPECIFIED {
		c.DefaultPublication = strings.ToLower(strings.TrimPrefix(p.String(), "PUBLICATION_"))
	}
	for _, q := range pc.GetQuestions() {
		dq := domain.Question{ID: q.GetId(), Required: q.GetRequired()}
		switch k := q.GetKind().(type) {
		case *consultationv1.Question_TextQuestion:
			dq.Kind = domain.KindText
			dq.MaxLength = int(k.TextQuestion.GetMaxLength())
		case *consultationv1.Question_ChoiceQuestion:
			dq.Kind = domain.KindChoice
			dq.Options = optionIDs(k.ChoiceQuestion.GetOptions())
			dq.Multiple = k.ChoiceQuestion.GetMultiple()
			dq.MinChoices = int(k.ChoiceQuestion.GetMinChoices())
			dq.MaxChoices = int(k.ChoiceQuestion.GetMaxChoices())
		case *consultationv1.Question_ScaleQuestion:
			dq.Kind = domain.KindScale
		case *consultationv1.Question_RankingQuestion:
			dq.Kind = domain.KindRanking
			dq.Options = optionIDs(k.RankingQuestion.GetOptions())
			dq.RankCount = int(k.RankingQuestion.GetRankCount())
		case *consultationv1.Question_FileQuestion:
			dq.Kind = domain.KindFile
			dq.MaxBytes = k.FileQuestion.GetMaxBytes()
		}
		c.Questions = append(c.Questions, dq)
	}
	return c
}

func optionIDs(os []*consultationv1.Option) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.GetId()
	}
	return out
}
