package app

import (
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// Snapshot is a submission as events carry it: no personal data and no free
// text at all, whoever the respondent is. No contact address, no person's
// name, no organisation name (an organisation's name is not personal data,
// but one rule for every respondent cannot go wrong), no text of an answer
// and no document reference: only which questions were answered, the
// options of closed questions, and the length of each text. The stream
// keeps its messages for its whole retention; what is not in it need not be
// erased from it. A confidential submission carries no answers at all: it
// leaves the service only as counts.
func Snapshot(s domain.Submission) *submissionv1.SubmissionSnapshot {
	out := &submissionv1.SubmissionSnapshot{
		Id:              s.ID,
		ConsultationId:  s.ConsultationID,
		StakeholderType: s.Respondent.StakeholderType,
		Country:         s.Respondent.Country,
		Region:          s.Respondent.Region,
		Language:        s.Language,
		Version:         s.Version,
		CreateTime:      timestamppb.New(s.CreatedAt),
		UpdateTime:      timestamppb.New(s.UpdatedAt),
		Status:          StatusToProto(s.Status),
		Publication:     PublicationToProto(s.Publication),
	}
	if s.Publication != domain.Confidential {
		out.Answered = answered(s.Answers)
	}
	return out
}

// answered says which questions the answers answer, and how where that is
// no free text.
func answered(as []domain.Answer) []*submissionv1.AnsweredQuestion {
	out := make([]*submissionv1.AnsweredQuestion, 0, len(as))
	for _, a := range as {
		q := &submissionv1.AnsweredQuestion{QuestionId: a.QuestionID}
		switch a.Kind {
		case domain.AnswerText:
			q.Value = &submissionv1.AnsweredQuestion_Text{Text: &submissionv1.TextAnswered{Characters: int32(utf8.RuneCountInString(a.Text))}}
		case domain.AnswerChoice:
			q.Value = &submissionv1.AnsweredQuestion_Choice{Choice: &submissionv1.Choice{OptionIds: a.Options}}
		case domain.AnswerScale:
			q.Value = &submissionv1.AnsweredQuestion_Scale{Scale: int32(a.Scale)}
		case domain.AnswerRanking:
			q.Value = &submissionv1.AnsweredQuestion_Ranking{Ranking: &submissionv1.Ranking{OptionIds: a.Options}}
		case domain.AnswerFile:
			q.Value = &submissionv1.AnsweredQuestion_File{File: &submissionv1.FileAnswered{}}
		}
		out = append(out, q)
	}
	return out
}

var statuses = map[domain.Status]submissionv1.SubmissionStatus{
	domain.StatusPendingConfirmation: submissionv1.SubmissionStatus_SUBMISSION_STATUS_PENDING_CONFIRMATION,
	domain.StatusActive:              submissionv1.SubmissionStatus_SUBMISSION_STATUS_ACTIVE,
	domain.StatusWithdrawn:           submissionv1.SubmissionStatus_SUBMISSION_STATUS_WITHDRAWN,
	domain.StatusExpired:             submissionv1.SubmissionStatus_SUBMISSION_STATUS_EXPIRED,
}

// StatusToProto converts a status.
func StatusToProto(s domain.Status) submissionv1.SubmissionStatus { return statuses[s] }

var publications = map[domain.Publication]consultationv1.Publication{
	domain.PublicNamed:     consultationv1.Publication_PUBLICATION_PUBLIC_NAMED,
	domain.PublicAnonymous: consultationv1.Publication_PUBLICATION_PUBLIC_ANONYMOUS,
	domain.Confidential:    consultationv1.Publication_PUBLICATION_CONFIDENTIAL,
}

// PublicationToProto converts a publication choice.
func PublicationToProto(p domain.Publication) consultationv1.Publication { return publications[p] }

// PublicationFromProto converts a publication choice; unspecified gives "".
func PublicationFromProto(p consultationv1.Publication) domain.Publication {
	for k, v := range publications {
		if v == p {
			return k
		}
	}
	return ""
}

var languageSources = map[domain.LanguageSource]submissionv1.LanguageSource{
	domain.LanguageDeclared: submissionv1.LanguageSource_LANGUAGE_SOURCE_DECLARED,
	domain.LanguageDetected: submissionv1.LanguageSource_LANGUAGE_SOURCE_DETECTED,
	domain.LanguageDefault:  submissionv1.LanguageSource_LANGUAGE_SOURCE_DEFAULT,
}

// ReceiptToProto converts a receipt; nil stays nil.
func ReceiptToProto(r *domain.Receipt) *submissionv1.Receipt {
	if r == nil {
		return nil
	}
	return &submissionv1.Receipt{
		ReceiptId: r.ID, ConsultationId: r.ConsultationID, SubmissionId: r.SubmissionID, Version: r.Version,
		ContentDigest: domain.Hex(r.ContentDigest), PreviousDigest: domain.Hex(r.PreviousDigest),
		ChainDigest: domain.Hex(r.ChainDigest), Sequence: r.Sequence, IssueTime: timestamppb.New(r.IssuedAt),
	}
}

// SubmissionToProto converts a submission as the caller may see it.
func SubmissionToProto(s domain.Submission) *submissionv1.Submission {
	r := s.Respondent
	out := &submissionv1.Submission{
		Id:             s.ID,
		ConsultationId: s.ConsultationID,
		Respondent: &submissionv1.Respondent{
			StakeholderType: r.StakeholderType, Country: r.Country, Region: r.Region, OrganisationName: r.OrganisationName,
			ContactEmail: r.ContactEmail, PersonName: r.PersonName, TransparencyRegisterId: r.TransparencyRegisterID,
		},
		Language:       s.Language,
		LanguageSource: languageSources[s.LanguageSource],
		Answers:        AnswersToProto(s.Answers),
		Version:        s.Version,
		CreateTime:     timestamppb.New(s.CreatedAt),
		UpdateTime:     timestamppb.New(s.UpdatedAt),
		Publication:    PublicationToProto(s.Publication),
		Status:         StatusToProto(s.Status),
		Receipt:        ReceiptToProto(s.Receipt),
		Translations:   TranslationsToProto(s.Translations),
	}
	return out
}

var translationKinds = map[domain.TranslationKind]submissionv1.TranslationKind{
	domain.TranslationMachine: submissionv1.TranslationKind_TRANSLATION_KIND_MACHINE,
	domain.TranslationHuman:   submissionv1.TranslationKind_TRANSLATION_KIND_HUMAN,
}

// TranslationsToProto converts translations to protobuf.
func TranslationsToProto(ts []domain.Translation) []*submissionv1.TextTranslation {
	if len(ts) == 0 {
		return nil
	}
	out := make([]*submissionv1.TextTranslation, len(ts))
	for i, t := range ts {
		out[i] = &submissionv1.TextTranslation{QuestionId: t.QuestionID, Language: t.Language, Text: t.Text,
			Kind: translationKinds[t.Kind], Provider: t.Provider, Model: t.Model, TranslateTime: timestamppb.New(t.TranslatedAt)}
	}
	return out
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
