// Package domain holds the rules of submissions: what a valid answer to each
// kind of question is, and when a consultation takes submissions. The
// questionnaire it checks against comes from the service's own read model of
// consultations, never from a call to the consultation service.
package domain

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/geo"
)

// Consultation statuses as the read model holds them.
const (
	StatusDraft  = "draft"
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Question kinds.
const (
	KindText    = "text"
	KindChoice  = "choice"
	KindScale   = "scale"
	KindRanking = "ranking"
	KindFile    = "file"
)

// Question is what the read model keeps of a question: enough to validate.
type Question struct {
	ID         string   `json:"id"`
	Required   bool     `json:"required"`
	Kind       string   `json:"kind"`
	MaxLength  int      `json:"max_length,omitempty"`
	Options    []string `json:"options,omitempty"`
	Multiple   bool     `json:"multiple,omitempty"`
	MinChoices int      `json:"min_choices,omitempty"`
	MaxChoices int      `json:"max_choices,omitempty"`
	RankCount  int      `json:"rank_count,omitempty"`
	MaxBytes   int64    `json:"max_bytes,omitempty"`
}

// Consultation is the read model of a consultation.
type Consultation struct {
	ID        string     `json:"id"`
	Version   int64      `json:"version"`
	Status    string     `json:"status"`
	ClosesAt  time.Time  `json:"closes_at"`
	Languages []string   `json:"languages"`
	Questions []Question `json:"questions"`
	// ThematicArea is the area the consultation belongs to: the countries
	// that co-lead it now manage the consultation and read its submissions.
	// The co-lead countries an event carries are a copy that a change of
	// co-leads does not update, so the read model does not keep them.
	// Empty in a read model written before areas were recorded.
	ThematicArea string `json:"thematic_area,omitempty"`
	// Audience are the stakeholder types that may answer; empty means all.
	Audience []string `json:"audience,omitempty"`
	// DefaultPublication is how answers are published unless the respondent
	// chooses otherwise.
	DefaultPublication string `json:"default_publication,omitempty"`
	// RequireEmailConfirmation turns on double opt-in.
	RequireEmailConfirmation bool `json:"require_email_confirmation,omitempty"`
}

// ThematicArea is the read model of a thematic area: who co-leads it now.
type ThematicArea struct {
	ID      string
	CoLeads []string
	Version int64
}

// CoLeadBy reports whether country co-leads the area.
func (a ThematicArea) CoLeadBy(country string) bool {
	return country != "" && slices.Contains(a.CoLeads, country)
}

// Respondent is who answers.
type Respondent struct {
	StakeholderType  string `json:"stakeholder_type"`
	Country          string `json:"country"`
	Region           string `json:"region"`
	OrganisationName string `json:"organisation_name"`
	// PersonName and ContactEmail are personal data: they stay in this
	// service, and an erasure overwrites them.
	PersonName   string `json:"person_name"`
	ContactEmail string `json:"contact_email"`
	// TransparencyRegisterID is the organisation's number in the EU
	// Transparency Register.
	TransparencyRegisterID string `json:"transparency_register_id"`
}

// AnswerKind says which field of an Answer holds the answer.
type AnswerKind string

// Answer kinds, matching the question kinds (text for text questions...).
const (
	AnswerText    AnswerKind = "text"
	AnswerChoice  AnswerKind = "choice"
	AnswerScale   AnswerKind = "scale"
	AnswerRanking AnswerKind = "ranking"
	AnswerFile    AnswerKind = "file"
)

// Answer is the answer to one question.
type Answer struct {
	QuestionID string     `json:"question_id"`
	Kind       AnswerKind `json:"kind"`
	Text       string     `json:"text,omitempty"`
	// Options holds the chosen options of a choice answer, or the ranked
	// options of a ranking answer, most preferred first.
	Options []string `json:"options,omitempty"`
	Scale   int      `json:"scale,omitempty"`
	BlobID  string   `json:"blob_id,omitempty"`
}

// Accepts checks that c takes submissions at now.
func (c Consultation) Accepts(now time.Time) error {
	switch {
	case c.Status == StatusDraft:
		// Drafts are not public: do not confirm they exist.
		return apperr.NotFound("consultation_id", "consultation %s not found", c.ID)
	case c.Status != StatusOpen:
		return apperr.FailedPrecondition("consultation_id", "consultation %s is %s and takes no submissions", c.ID, c.Status)
	case !now.Before(c.ClosesAt):
		return apperr.FailedPrecondition("consultation_id", "consultation %s closed at %s", c.ID, c.ClosesAt.Format(time.RFC3339))
	}
	return nil
}

// FileAnswer is a file answer with the limit its question sets.
type FileAnswer struct {
	Field    string
	BlobID   string
	MaxBytes int64
}

// FileAnswers lists the file answers of s, for the caller to check against
// the documents it holds.
func (c Consultation) FileAnswers(s Submission) []FileAnswer {
	var out []FileAnswer
	for i, a := range s.Answers {
		if a.Kind != AnswerFile || a.BlobID == "" {
			continue
		}
		for _, q := range c.Questions {
			if q.ID == a.QuestionID && q.Kind == KindFile {
				out = append(out, FileAnswer{Field: fmt.Sprintf("answers[%d].file.blob_id", i), BlobID: a.BlobID, MaxBytes: q.MaxBytes})
			}
		}
	}
	return out
}

// MaxTextCharacters bounds the free text of one submission, all answers
// together. Each answer has its own limit (the question's, and at most
// 100,000 characters), but 300 answers at their limits would make a
// submission no reader can use and a record too large to store and relay:
// an anonymous caller meets this clear error first.
const MaxTextCharacters = 100_000

// Check validates s against the questionnaire of c and canonicalises its
// language. An empty language means the consultation's first language.
func (c Consultation) Check(s *Submission) error {
	var errs apperr.List
	total := 0
	for _, a := range s.Answers {
		total += utf8.RuneCountInString(a.Text)
	}
	if total > MaxTextCharacters {
		errs.Add("answers", "the answers hold %d characters of text in all; at most %d", total, MaxTextCharacters)
	}
	if err := geo.Country(s.Respondent.Country); err != nil {
		errs.Add("respondent.country", "%v", err)
	}
	if len(c.Audience) > 0 && !slices.Contains(c.Audience, s.Respondent.StakeholderType) {
		errs.Add("respondent.stakeholder_type", "this consultation asks %v, not %q", c.Audience, s.Respondent.StakeholderType)
	}
	if s.Language == "" && len(c.Languages) > 0 {
		s.Language = c.Languages[0]
	} else if lang, err := geo.Language(s.Language); err != nil {
		errs.Add("language", "%v", err)
	} else if !slices.Contains(c.Languages, lang) {
		errs.Add("language", "%s is not one of the consultation's languages %v", lang, c.Languages)
	} else {
		s.Language = lang
	}
	byID := make(map[string]Question, len(c.Questions))
	for _, q := range c.Questions {
		byID[q.ID] = q
	}
	answered := map[string]bool{}
	for i, a := range s.Answers {
		field := fmt.Sprintf("answers[%d]", i)
		q, ok := byID[a.QuestionID]
		if !ok {
			errs.Add(field+".question_id", "unknown question %q", a.QuestionID)
			continue
		}
		if answered[a.QuestionID] {
			errs.Add(field+".question_id", "question %q is answered twice", a.QuestionID)
			continue
		}
		answered[a.QuestionID] = !a.empty()
		checkAnswer(&errs, field, q, a)
	}
	for _, q := range c.Questions {
		if q.Required && !answered[q.ID] {
			errs.Add("answers", "question %q is required", q.ID)
		}
	}
	return errs.Err()
}

func (a Answer) empty() bool {
	return a.Text == "" && len(a.Options) == 0 && a.Scale == 0 && a.BlobID == ""
}

// answerKinds maps each question kind to the answer it takes.
var answerKinds = map[string]AnswerKind{
	KindText: AnswerText, KindChoice: AnswerChoice, KindScale: AnswerScale, KindRanking: AnswerRanking, KindFile: AnswerFile,
}

func checkAnswer(errs *apperr.List, field string, q Question, a Answer) {
	want, known := answerKinds[q.Kind]
	switch {
	case !known:
		errs.Add(field, "question %q has a kind this service does not know (%q)", q.ID, q.Kind)
		return
	case a.Kind != want:
		errs.Add(field, "question %q takes a %s answer, not %s", q.ID, want, a.Kind)
		return
	}
	switch q.Kind {
	case KindText:
		if !utf8.ValidString(a.Text) {
			errs.Add(field+".text", "is not valid UTF-8")
		} else if n := utf8.RuneCountInString(a.Text); q.MaxLength > 0 && n > q.MaxLength {
			errs.Add(field+".text", "%d characters is over the limit of %d for question %q", n, q.MaxLength, q.ID)
		}
	case KindChoice:
		checkOptionIDs(errs, field+".choice.option_ids", q, a.Options)
		n := len(a.Options)
		switch {
		case n == 0:
			// Unanswered; the required check reports it when it matters.
		case !q.Multiple && n > 1:
			errs.Add(field+".choice.option_ids", "question %q takes one option, got %d", q.ID, n)
		case q.Multiple && n < max(q.MinChoices, 1):
			errs.Add(field+".choice.option_ids", "question %q takes at least %d options, got %d", q.ID, max(q.MinChoices, 1), n)
		case q.Multiple && q.MaxChoices > 0 && n > q.MaxChoices:
			errs.Add(field+".choice.option_ids", "question %q takes at most %d options, got %d", q.ID, q.MaxChoices, n)
		}
	case KindRanking:
		checkOptionIDs(errs, field+".ranking.option_ids", q, a.Options)
		want := q.RankCount
		if want == 0 {
			want = len(q.Options)
		}
		if n := len(a.Options); n > 0 && n != want {
			errs.Add(field+".ranking.option_ids", "question %q ranks %d options, got %d", q.ID, want, n)
		}
	case KindScale:
		if a.Scale < 1 || a.Scale > 5 {
			errs.Add(field+".scale", "must be between 1 and 5")
		}
	case KindFile:
		// That the document exists, belongs to this consultation and fits
		// the question's size limit is checked against the store by the
		// caller (see FileAnswers).
		if a.BlobID == "" {
			errs.Add(field+".file.blob_id", "is required")
		}
	}
}

func checkOptionIDs(errs *apperr.List, field string, q Question, ids []string) {
	seen := map[string]bool{}
	for j, opt := range ids {
		switch {
		case !slices.Contains(q.Options, opt):
			errs.Add(fmt.Sprintf("%s[%d]", field, j), "question %q has no option %q", q.ID, opt)
		case seen[opt]:
			errs.Add(fmt.Sprintf("%s[%d]", field, j), "option %q appears twice", opt)
		}
		seen[opt] = true
	}
}
