// Package app is the submission service's use cases: accepting a submission
// against the read model of its consultation, reading submissions, and keeping
// that read model current from consultation events.
package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// App runs the use cases.
type App struct {
	store *store.Store
	now   func() time.Time
}

// New returns the use cases on st; now is the clock (time.Now when nil).
func New(st *store.Store, now func() time.Time) *App {
	if now == nil {
		now = time.Now
	}
	return &App{store: st, now: now}
}

// Submit accepts sub from p when its consultation is open and every answer
// fits the questionnaire; nothing is written otherwise.
func (a *App) Submit(ctx context.Context, p auth.Principal, sub domain.Submission) (domain.Submission, error) {
	c, err := a.store.Consultation(ctx, sub.ConsultationID)
	if err != nil {
		return sub, err
	}
	now := a.now().UTC()
	if err := c.Accepts(now); err != nil {
		return sub, err
	}
	if err := c.Check(&sub); err != nil {
		return sub, err
	}
	ok, err := a.store.StakeholderTypeExists(ctx, sub.Respondent.StakeholderType)
	if err != nil {
		return sub, err
	}
	if !ok {
		return sub, apperr.Invalid("respondent.stakeholder_type", "unknown stakeholder type %q", sub.Respondent.StakeholderType)
	}
	if sub.Respondent.Region, err = a.store.Region(ctx, sub.Respondent.Country); err != nil {
		return sub, err
	}
	sub.ID = uuid.Must(uuid.NewV7()).String()
	sub.Version = 1
	sub.CreatedAt = now
	if p.Role != auth.RolePublic {
		sub.CreatedBy = p.Subject
	}
	ev, err := events.New(events.SubmissionReceived,
		events.Aggregate{Type: "submission", ID: sub.ID, Version: sub.Version},
		&submissionv1.SubmissionReceivedEvent{Submission: Snapshot(sub)}, now)
	if err != nil {
		return sub, err
	}
	if err := a.store.CreateSubmission(ctx, sub, ev); err != nil {
		return sub, err
	}
	return sub, nil
}

// Get returns submission id to the secretariat, to co-leads of its
// consultation and to the stakeholder who made it.
func (a *App) Get(ctx context.Context, p auth.Principal, id string) (domain.Submission, error) {
	sub, err := a.store.Submission(ctx, id)
	if err != nil {
		return sub, err
	}
	switch {
	case p.Role == auth.RoleSecretariat:
		return sub, nil
	case p.Role == auth.RoleColead:
		c, err := a.store.Consultation(ctx, sub.ConsultationID)
		if err != nil {
			return sub, err
		}
		if slices.Contains(c.CoLeadCountries, p.Country) {
			return sub, nil
		}
	case p.Subject != "" && p.Subject == sub.CreatedBy:
		return sub, nil
	}
	// Do not confirm that a submission the caller may not see exists.
	return domain.Submission{}, apperr.NotFound("id", "submission %s not found", id)
}

// consultationPayloads are the consultation events the read model follows;
// each carries the whole consultation after the change.
var consultationPayloads = map[string]func() consultationCarrier{
	events.ConsultationDrafted:   func() consultationCarrier { return &consultationv1.ConsultationDraftedEvent{} },
	events.ConsultationPublished: func() consultationCarrier { return &consultationv1.ConsultationPublishedEvent{} },
	events.ConsultationOpened:    func() consultationCarrier { return &consultationv1.ConsultationOpenedEvent{} },
	events.ConsultationUpdated:   func() consultationCarrier { return &consultationv1.ConsultationUpdatedEvent{} },
	events.ConsultationClosed:    func() consultationCarrier { return &consultationv1.ConsultationClosedEvent{} },
	events.ConsultationArchived:  func() consultationCarrier { return &consultationv1.ConsultationArchivedEvent{} },
}

type consultationCarrier interface {
	proto.Message
	GetConsultation() *consultationv1.Consultation
}

// ApplyConsultationEvent updates the read model from a consultation event;
// it runs inside the inbox transaction of the consumer. The read model takes
// an event only when it is newer than what it holds, so redelivered and
// reordered events converge on the source's state.
func ApplyConsultationEvent(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error {
	newPayload, ok := consultationPayloads[env.GetType()]
	if !ok {
		return nil // an event this read model does not need
	}
	ev := newPayload()
	if err := events.Payload(env, ev); err != nil {
		return consumer.Permanent(err)
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
		ID:              pc.GetId(),
		Version:         pc.GetVersion(),
		Status:          statusNames[pc.GetStatus()],
		ClosesAt:        pc.GetClosesAt().AsTime(),
		Languages:       pc.GetLanguages(),
		CoLeadCountries: pc.GetColeadCountries(),
		Audience:        pc.GetAudience(),
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

// Snapshot is a submission as events carry it: without contact data.
func Snapshot(s domain.Submission) *submissionv1.SubmissionSnapshot {
	return &submissionv1.SubmissionSnapshot{
		Id:               s.ID,
		ConsultationId:   s.ConsultationID,
		StakeholderType:  s.Respondent.StakeholderType,
		Country:          s.Respondent.Country,
		Region:           s.Respondent.Region,
		OrganisationName: s.Respondent.OrganisationName,
		Language:         s.Language,
		Answers:          AnswersToProto(s.Answers),
		Version:          s.Version,
		CreateTime:       timestamppb.New(s.CreatedAt),
	}
}

// AnswersToProto converts answers to protobuf.
func AnswersToProto(as []domain.Answer) []*submissionv1.Answer {
	out := make([]*submissionv1.Answer, len(as))
	for i, a := range as {
		pa := &submissionv1.Answer{QuestionId: a.QuestionID}
		switch a.Kind {
		case domain.AnswerText:
			pa.Value = &submissionv1.Answer_Text{Text: a.Text}
		case domain.AnswerChoice:
			pa.Value = &submissionv1.Answer_Choice{Choice: &submissionv1.Choice{OptionIds: a.Options}}
		case domain.AnswerScale:
			pa.Value = &submissionv1.Answer_Scale{Scale: int32(a.Scale)}
		case domain.AnswerRanking:
			pa.Value = &submissionv1.Answer_Ranking{Ranking: &submissionv1.Ranking{OptionIds: a.Options}}
		case domain.AnswerFile:
			pa.Value = &submissionv1.Answer_File{File: &submissionv1.FileRef{BlobId: a.BlobID}}
		}
		out[i] = pa
	}
	return out
}

// AnswersFromProto converts answers from protobuf.
func AnswersFromProto(pas []*submissionv1.Answer) []domain.Answer {
	out := make([]domain.Answer, len(pas))
	for i, pa := range pas {
		a := domain.Answer{QuestionID: pa.GetQuestionId()}
		switch v := pa.GetValue().(type) {
		case *submissionv1.Answer_Text:
			a.Kind, a.Text = domain.AnswerText, v.Text
		case *submissionv1.Answer_Choice:
			a.Kind, a.Options = domain.AnswerChoice, v.Choice.GetOptionIds()
		case *submissionv1.Answer_Scale:
			a.Kind, a.Scale = domain.AnswerScale, int(v.Scale)
		case *submissionv1.Answer_Ranking:
			a.Kind, a.Options = domain.AnswerRanking, v.Ranking.GetOptionIds()
		case *submissionv1.Answer_File:
			a.Kind, a.BlobID = domain.AnswerFile, v.File.GetBlobId()
		}
		out[i] = a
	}
	return out
}
