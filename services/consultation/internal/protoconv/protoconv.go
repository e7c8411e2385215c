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

var publications = map[domain.Publication]consultationv1.Publication{
	domain.PublicNamed:     consultationv1.Publication_PUBLICATION_PUBLIC_NAMED,
	domain.PublicAnonymous: consultationv1.Publication_PUBLICATION_PUBLIC_ANONYMOUS,
	domain.Confidential:    consultationv1.Publication_PUBLICATION_CONFIDENTIAL,
}

var origins = map[domain.TextOrigin]consultationv1.TextOrigin{
	domain.OriginSource:   consultationv1.TextOrigin_TEXT_ORIGIN_SOURCE,
	domain.OriginMachine:  consultationv1.TextOrigin_TEXT_ORIGIN_MACHINE,
	domain.OriginReviewed: consultationv1.TextOrigin_TEXT_ORIGIN_REVIEWED,
}

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var (
	dialogueStatusOf = invert(dialogueStatuses)
	statusOf         = invert(statuses)
	publicationOf    = invert(publications)
)

// DialogueStatus converts a status filter; UNSPECIFIED gives "".
func DialogueStatus(s consultationv1.DialogueStatus) domain.DialogueStatus {
	return dialogueStatusOf[s]
}

// Status converts a consultation status filter.
func Status(s consultationv1.ConsultationStatus) domain.Status { return statusOf[s] }

// Dialogue converts a dialogue to protobuf.
func Dialogue(d domain.Dialogue) *consultationv1.Dialogue {
	return &consultationv1.Dialogue{
		Id:              d.ID,
		ThematicArea:    d.ThematicArea,
		Title:           d.Title,
		ColeadCountries: d.CoLeadCountries,
		StartsAt:        Timestamp(d.StartsAt),
		EndsAt:          Timestamp(d.EndsAt),
		VenueCity:       d.VenueCity,
		VenueCountry:    d.VenueCountry,
		Status:          dialogueStatuses[d.Status],
		Version:         d.Version,
		CreateTime:      Timestamp(d.CreatedAt),
		UpdateTime:      Timestamp(d.UpdatedAt),
		ConsultationIds: d.ConsultationIDs,
	}
}

// DialogueFromCreate takes the fields a caller may set from a create request.
func DialogueFromCreate(r *consultationv1.CreateDialogueRequest) domain.Dialogue {
	return domain.Dialogue{
		ThematicArea: r.GetThematicArea(),
		Title:        r.GetTitle(),
		StartsAt:     timeOf(r.GetStartsAt()),
		EndsAt:       timeOf(r.GetEndsAt()),
		VenueCity:    r.GetVenueCity(),
		VenueCountry: r.GetVenueCountry(),
	}
}

// DialogueChanges takes the fields of an update request.
func DialogueChanges(r *consultationv1.UpdateDialogueRequest) domain.DialogueChanges {
	return domain.DialogueChanges{
		Title:        r.GetTitle(),
		StartsAt:     timeOf(r.GetStartsAt()),
		EndsAt:       timeOf(r.GetEndsAt()),
		VenueCity:    r.GetVenueCity(),
		VenueCountry: r.GetVenueCountry(),
	}
}

// Consultation converts a consultation to protobuf.
func Consultation(c domain.Consultation) *consultationv1.Consultation {
	qs := make([]*consultationv1.Question, len(c.Questions))
	for i, q := range c.Questions {
		qs[i] = question(q)
	}
	docs := make([]*consultationv1.Document, len(c.BackgroundDocuments))
	for i, d := range c.BackgroundDocuments {
		docs[i] = &consultationv1.Document{Title: text(d.Title), Url: d.URL}
	}
	return &consultationv1.Consultation{
		Id:                  c.ID,
		DialogueId:          c.DialogueID,
		ThematicArea:        c.ThematicArea,
		ColeadCountries:     c.CoLeadCountries,
		Title:               text(c.Title),
		Description:         text(c.Description),
		Languages:           c.Languages,
		Questions:           qs,
		Status:              statuses[c.Status],
		OpensAt:             Timestamp(c.OpensAt),
		ClosesAt:            Timestamp(c.ClosesAt),
		Version:             c.Version,
		CreateTime:          Timestamp(c.CreatedAt),
		UpdateTime:          Timestamp(c.UpdatedAt),
		BackgroundDocuments: docs,
		Audience:            c.Audience,
		DefaultPublication:  publications[c.DefaultPublication],
		QuestionsFrozen:     c.QuestionsFrozen,

		RequireEmailConfirmation: c.RequireEmailConfirmation,
	}
}

// draftFields are the editable fields that create and update requests share.
type draftFields interface {
	GetTitle() *consultationv1.LocalizedText
	GetDescription() *consultationv1.LocalizedText
	GetLanguages() []string
	GetQuestions() []*consultationv1.Question
	GetOpensAt() *timestamppb.Timestamp
	GetClosesAt() *timestamppb.Timestamp
	GetBackgroundDocuments() []*consultationv1.Document
	GetAudience() []string
	GetDefaultPublication() consultationv1.Publication
	GetRequireEmailConfirmation() bool
}

// Draft takes the editable fields of a create or update request.
func Draft(r draftFields) domain.Draft {
	qs := make([]domain.Question, len(r.GetQuestions()))
	for i, q := range r.GetQuestions() {
		qs[i] = questionFromProto(q)
	}
	docs := make([]domain.Document, len(r.GetBackgroundDocuments()))
	for i, d := range r.GetBackgroundDocuments() {
		docs[i] = domain.Document{Title: textFromProto(d.GetTitle()), URL: d.GetUrl()}
	}
	return domain.Draft{
		Title:               textFromProto(r.GetTitle()),
		Description:         textFromProto(r.GetDescription()),
		Languages:           r.GetLanguages(),
		Questions:           qs,
		BackgroundDocuments: docs,
		Audience:            r.GetAudience(),
		DefaultPublication:  publicationOf[r.GetDefaultPublication()],
		OpensAt:             timeOf(r.GetOpensAt()),
		ClosesAt:            timeOf(r.GetClosesAt()),

		RequireEmailConfirmation: r.GetRequireEmailConfirmation(),
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
		out.Kind = &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{
			Options: options(q.Options), Multiple: q.Multiple, MinChoices: int32(q.MinChoices), MaxChoices: int32(q.MaxChoices),
		}}
	case domain.KindRanking:
		out.Kind = &consultationv1.Question_RankingQuestion{RankingQuestion: &consultationv1.RankingQuestion{
			Options: options(q.Options), RankCount: int32(q.RankCount),
		}}
	case domain.KindScale:
		labels := make([]*consultationv1.ScaleLabel, len(q.ScaleLabels))
		for i, l := range q.ScaleLabels {
			labels[i] = &consultationv1.ScaleLabel{Value: int32(l.Value), Label: text(l.Label)}
		}
		out.Kind = &consultationv1.Question_ScaleQuestion{ScaleQuestion: &consultationv1.ScaleQuestion{Labels: labels}}
	case domain.KindFile:
		out.Kind = &consultationv1.Question_FileQuestion{FileQuestion: &consultationv1.FileQuestion{MaxBytes: q.MaxBytes}}
	}
	return out
}

func options(os []domain.Option) []*consultationv1.Option {
	out := make([]*consultationv1.Option, len(os))
	for i, o := range os {
		out[i] = &consultationv1.Option{Id: o.ID, Label: text(o.Label)}
	}
	return out
}

func optionsFromProto(os []*consultationv1.Option) []domain.Option {
	out := make([]domain.Option, len(os))
	for i, o := range os {
		out[i] = domain.Option{ID: o.GetId(), Label: textFromProto(o.GetLabel())}
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
		out.Options = optionsFromProto(k.ChoiceQuestion.GetOptions())
		out.Multiple = k.ChoiceQuestion.GetMultiple()
		out.MinChoices = int(k.ChoiceQuestion.GetMinChoices())
		out.MaxChoices = int(k.ChoiceQuestion.GetMaxChoices())
	case *consultationv1.Question_RankingQuestion:
		out.Kind = domain.KindRanking
		out.Options = optionsFromProto(k.RankingQuestion.GetOptions())
		out.RankCount = int(k.RankingQuestion.GetRankCount())
	case *consultationv1.Question_ScaleQuestion:
		out.Kind = domain.KindScale
		for _, l := range k.ScaleQuestion.GetLabels() {
			out.ScaleLabels = append(out.ScaleLabels, domain.ScaleLabel{Value: int(l.GetValue()), Label: textFromProto(l.GetLabel())})
		}
	case *consultationv1.Question_FileQuestion:
		out.Kind = domain.KindFile
		out.MaxBytes = k.FileQuestion.GetMaxBytes()
	}
	return out
}

func text(t domain.LocalizedText) *consultationv1.LocalizedText {
	if len(t.Texts) == 0 {
		return nil
	}
	out := &consultationv1.LocalizedText{SourceLanguage: t.Source, Texts: maps.Clone(t.Texts)}
	if len(t.Origins) > 0 {
		out.Origins = make(map[string]consultationv1.TextOrigin, len(t.Origins))
		for lang, o := range t.Origins {
			out.Origins[lang] = origins[o]
		}
	}
	return out
}

// textFromProto ignores origins: callers do not set them, the domain does.
func textFromProto(t *consultationv1.LocalizedText) domain.LocalizedText {
	return domain.LocalizedText{Source: t.GetSourceLanguage(), Texts: maps.Clone(t.GetTexts())}
}

// Timestamp converts a time, the zero time to nil.
func Timestamp(t time.Time) *timestamppb.Timestamp {
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
