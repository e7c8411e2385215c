// Package protoconv converts between the consultation domain and its protobuf
// messages, used both by the gRPC API and by the events the service emits.
package protoconv

import (
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
)

var dialogueStatuses = map[domain.DialogueStatus]consultationv1.DialogueStatus{
	domain.DialoguePlanned:   consultationv1.DialogueStatus_DIALOGUE_STATUS_PLANNED,
	domain.DialogueHeld:      consultationv1.DialogueStatus_DIALOGUE_STATUS_HELD,
	domain.DialogueCancelled: consultationv1.DialogueStatus_DIALOGUE_STATUS_CANCELLED,
}

var statuses = map[domain.Status]consultationv1.ConsultationStatus{
	domain.StatusDraft:     consultationv1.ConsultationStatus_CONSULTATION_STATUS_DRAFT,
	domain.StatusScheduled: consultationv1.ConsultationStatus_CONSULTATION_STATUS_SCHEDULED,
	domain.StatusOpen:      consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN,
	domain.StatusClosed:    consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED,
	domain.StatusArchived:  consultationv1.ConsultationStatus_CONSULTATION_STATUS_ARCHIVED,
}

// Dialogue converts a dialogue to protobuf.
func Dialogue(d domain.Dialogue) *consultationv1.Dialogue {
	return &consultationv1.Dialogue{
		Id:              d.ID,
		ThematicArea:    d.ThematicArea,
		Title:           d.Title,
		ColeadCountries: d.CoLeadCountries,
		StartsAt:        ts(d.StartsAt),
		EndsAt:          ts(d.EndsAt),
		VenueCity:       d.VenueCity,
		VenueCountry:    d.VenueCountry,
		Status:          dialogueStatuses[d.Status],
		Version:         d.Version,
		CreateTime:      ts(d.CreatedAt),
		UpdateTime:      ts(d.UpdatedAt),
	}
}

// DialogueFromCreate takes the fields a caller may set from a create request.
func DialogueFromCreate(r *consultationv1.CreateDialogueRequest) domain.Dialogue {
	return domain.Dialogue{
		ThematicArea:    r.GetThematicArea(),
		Title:           r.GetTitle(),
		CoLeadCountries: r.GetColeadCountries(),
		StartsAt:        timeOf(r.GetStartsAt()),
		EndsAt:          timeOf(r.GetEndsAt()),
		VenueCity:       r.GetVenueCity(),
		VenueCountry:    r.GetVenueCountry(),
	}
}

// Consultation converts a consultation to protobuf.
func Consultation(c domain.Consultation) *consultationv1.Consultation {
	qs := make([]*consultationv1.Question, len(c.Questions))
	for i, q := range c.Questions {
		qs[i] = question(q)
	}
	return &consultationv1.Consultation{
		Id:              c.ID,
		DialogueId:      c.DialogueID,
		ThematicArea:    c.ThematicArea,
		ColeadCountries: c.CoLeadCountries,
		Title:           text(c.Title),
		Description:     text(c.Description),
		Languages:       c.Languages,
		Questions:       qs,
		Status:          statuses[c.Status],
		OpensAt:         ts(c.OpensAt),
		ClosesAt:        ts(c.ClosesAt),
		Version:         c.Version,
		CreateTime:      ts(c.CreatedAt),
		UpdateTime:      ts(c.UpdatedAt),
	}
}

// ConsultationFromCreate takes the fields a caller may set from a create request.
func ConsultationFromCreate(r *consultationv1.CreateConsultationRequest) domain.Consultation {
	qs := make([]domain.Question, len(r.GetQuestions()))
	for i, q := range r.GetQuestions() {
		qs[i] = questionFromProto(q)
	}
	return domain.Consultation{
		DialogueID:  r.GetDialogueId(),
		Title:       textFromProto(r.GetTitle()),
		Description: textFromProto(r.GetDescription()),
		Languages:   r.GetLanguages(),
		Questions:   qs,
		OpensAt:     timeOf(r.GetOpensAt()),
		ClosesAt:    timeOf(r.GetClosesAt()),
	}
}

func question(q domain.Question) *consultationv1.Question {
	out := &consultationv1.Question{Id: q.ID, Text: text(q.Text), Required: q.Required}
	switch q.Kind {
	case domain.KindText:
		out.Kind = &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{
			MaxLength: int32(q.MaxLength), Long: q.Long,
		}}
	case domain.KindChoice:
		opts := make([]*consultationv1.Option, len(q.Options))
		for i, o := range q.Options {
			opts[i] = &consultationv1.Option{Id: o.ID, Label: text(o.Label)}
		}
		out.Kind = &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{
			Options: opts, Multiple: q.Multiple, MinChoices: int32(q.MinChoices), MaxChoices: int32(q.MaxChoices),
		}}
	}
	return out
}

func questionFromProto(q *consultationv1.Question) domain.Question {
	out := domain.Question{ID: q.GetId(), Text: textFromProto(q.GetText()), Required: q.GetRequired()}
	switch k := q.GetKind().(type) {
	case *consultationv1.Question_TextQuestion:
		out.Kind = domain.KindText
		out.MaxLength = int(k.TextQuestion.GetMaxLength())
		out.Long = k.TextQuestion.GetLong()
	case *consultationv1.Question_ChoiceQuestion:
		out.Kind = domain.KindChoice
		for _, o := range k.ChoiceQuestion.GetOptions() {
			out.Options = append(out.Options, domain.Option{ID: o.GetId(), Label: textFromProto(o.GetLabel())})
		}
		out.Multiple = k.ChoiceQuestion.GetMultiple()
		out.MinChoices = int(k.ChoiceQuestion.GetMinChoices())
		out.MaxChoices = int(k.ChoiceQuestion.GetMaxChoices())
	}
	return out
}

func text(t domain.LocalizedText) *consultationv1.LocalizedText {
	if len(t.Texts) == 0 {
		return nil
	}
	return &consultationv1.LocalizedText{SourceLanguage: t.Source, Texts: maps.Clone(t.Texts)}
}

func textFromProto(t *consultationv1.LocalizedText) domain.LocalizedText {
	return domain.LocalizedText{Source: t.GetSourceLanguage(), Texts: maps.Clone(t.GetTexts())}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}
