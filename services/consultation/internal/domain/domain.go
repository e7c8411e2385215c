// Package domain holds the rules of dialogues and consultations: what a valid
// questionnaire is, who may manage what, and how a consultation moves through
// its lifecycle. It knows nothing of gRPC, protobuf or SQL.
package domain

import (
	"fmt"
	"slices"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/geo"
)

// DialogueStatus is where a dialogue is in its life.
type DialogueStatus string

// Dialogue statuses.
const (
	DialoguePlanned   DialogueStatus = "planned"
	DialogueHeld      DialogueStatus = "held"
	DialogueCancelled DialogueStatus = "cancelled"
)

// Dialogue is a bi-regional policy dialogue of one thematic area.
type Dialogue struct {
	ID              string
	ThematicArea    string
	Title           string
	CoLeadCountries []string
	StartsAt        time.Time
	EndsAt          time.Time // zero when unknown
	VenueCity       string
	VenueCountry    string
	Status          DialogueStatus
	Version         int64
	CreatedBy       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// NewDialogue checks a dialogue about to be scheduled by p at now.
func NewDialogue(p auth.Principal, d Dialogue, now time.Time) (Dialogue, error) {
	var errs apperr.List
	for i, c := range d.CoLeadCountries {
		if err := geo.Country(c); err != nil {
			errs.Add(fmt.Sprintf("colead_countries[%d]", i), "%v", err)
		}
	}
	if d.VenueCountry != "" {
		if err := geo.Country(d.VenueCountry); err != nil {
			errs.Add("venue_country", "%v", err)
		}
	}
	if !d.StartsAt.After(now) {
		errs.Add("starts_at", "must be in the future")
	}
	if !d.EndsAt.IsZero() && d.EndsAt.Before(d.StartsAt) {
		errs.Add("ends_at", "must not be before starts_at")
	}
	if err := errs.Err(); err != nil {
		return Dialogue{}, err
	}
	if p.Role == auth.RoleColead && !slices.Contains(d.CoLeadCountries, p.Country) {
		return Dialogue{}, apperr.Denied("a co-lead of %s may schedule only dialogues that %s co-leads", p.Country, p.Country)
	}
	d.Status = DialoguePlanned
	d.Version = 1
	d.CreatedBy = p.Subject
	d.CreatedAt, d.UpdatedAt = now, now
	return d, nil
}

// CanManage reports whether p may manage what countries co-lead: the
// secretariat always, a co-lead when their country is one of them.
func CanManage(p auth.Principal, countries []string) bool {
	switch p.Role {
	case auth.RoleSecretariat:
		return true
	case auth.RoleColead:
		return p.Country != "" && slices.Contains(countries, p.Country)
	}
	return false
}

// Status is where a consultation is in its lifecycle.
type Status string

// Consultation statuses, in lifecycle order.
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusOpen      Status = "open"
	StatusClosed    Status = "closed"
	StatusArchived  Status = "archived"
)

// LocalizedText is a text per BCP 47 language, written first in Source.
type LocalizedText struct {
	Source string            `json:"source"`
	Texts  map[string]string `json:"texts"`
}

// QuestionKind is the kind of answer a question takes.
type QuestionKind string

// Question kinds.
const (
	KindText   QuestionKind = "text"
	KindChoice QuestionKind = "choice"
)

// Option is one answer a choice question offers.
type Option struct {
	ID    string        `json:"id"`
	Label LocalizedText `json:"label"`
}

// Question is one item of a questionnaire.
type Question struct {
	ID       string        `json:"id"`
	Text     LocalizedText `json:"text"`
	Required bool          `json:"required"`
	Kind     QuestionKind  `json:"kind"`
	// Text questions.
	MaxLength int  `json:"max_length,omitempty"`
	Long      bool `json:"long,omitempty"`
	// Choice questions.
	Options    []Option `json:"options,omitempty"`
	Multiple   bool     `json:"multiple,omitempty"`
	MinChoices int      `json:"min_choices,omitempty"`
	MaxChoices int      `json:"max_choices,omitempty"`
}

// Consultation is a questionnaire put to stakeholders ahead of a dialogue.
type Consultation struct {
	ID              string        `json:"id"`
	DialogueID      string        `json:"dialogue_id"`
	ThematicArea    string        `json:"thematic_area"`
	CoLeadCountries []string      `json:"colead_countries"`
	Title           LocalizedText `json:"title"`
	Description     LocalizedText `json:"description"`
	Languages       []string      `json:"languages"`
	Questions       []Question    `json:"questions"`
	Status          Status        `json:"status"`
	OpensAt         time.Time     `json:"opens_at"`
	ClosesAt        time.Time     `json:"closes_at"`
	Version         int64         `json:"version"`
	CreatedBy       string        `json:"created_by"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
}

// NewConsultation checks a consultation drafted by p for dialogue d at now,
// canonicalising its language tags.
func NewConsultation(p auth.Principal, d Dialogue, c Consultation, now time.Time) (Consultation, error) {
	if !CanManage(p, d.CoLeadCountries) {
		return Consultation{}, apperr.Denied("only the secretariat or a co-lead of %v may draft consultations for dialogue %s", d.CoLeadCountries, d.ID)
	}
	if d.Status == DialogueCancelled {
		return Consultation{}, apperr.FailedPrecondition("dialogue_id", "dialogue %s is cancelled", d.ID)
	}
	var errs apperr.List
	c.Languages = canonicalLanguages(&errs, "languages", c.Languages)
	c.Title = checkText(&errs, "title", c.Title, c.Languages, true)
	c.Description = checkText(&errs, "description", c.Description, c.Languages, false)
	checkQuestions(&errs, c.Questions, c.Languages)
	if !c.OpensAt.IsZero() && !c.ClosesAt.After(c.OpensAt) {
		errs.Add("closes_at", "must be after opens_at (%s)", c.OpensAt.Format(time.RFC3339))
	}
	if !c.ClosesAt.After(now) {
		errs.Add("closes_at", "must be in the future")
	}
	if err := errs.Err(); err != nil {
		return Consultation{}, err
	}
	c.DialogueID = d.ID
	c.ThematicArea = d.ThematicArea
	c.CoLeadCountries = slices.Clone(d.CoLeadCountries)
	c.Status = StatusDraft
	c.Version = 1
	c.CreatedBy = p.Subject
	c.CreatedAt, c.UpdatedAt = now, now
	return c, nil
}

func canonicalLanguages(errs *apperr.List, field string, tags []string) []string {
	out := make([]string, 0, len(tags))
	for i, tag := range tags {
		canon, err := geo.Language(tag)
		if err != nil {
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "%v", err)
			continue
		}
		if slices.Contains(out, canon) {
			errs.Add(fmt.Sprintf("%s[%d]", field, i), "language %s is listed twice", canon)
			continue
		}
		out = append(out, canon)
	}
	return out
}

// checkText canonicalises the tags of t and checks that it is written in one
// of the consultation's languages.
func checkText(errs *apperr.List, field string, t LocalizedText, languages []string, required bool) LocalizedText {
	if len(t.Texts) == 0 {
		if required {
			errs.Add(field, "is required")
		}
		return t
	}
	out := LocalizedText{Texts: make(map[string]string, len(t.Texts))}
	src, err := geo.Language(t.Source)
	if err != nil {
		errs.Add(field+".source_language", "%v", err)
		return t
	}
	out.Source = src
	for tag, text := range t.Texts {
		canon, err := geo.Language(tag)
		if err != nil {
			errs.Add(fmt.Sprintf("%s.texts[%s]", field, tag), "%v", err)
			continue
		}
		if !slices.Contains(languages, canon) {
			errs.Add(fmt.Sprintf("%s.texts[%s]", field, tag), "language %s is not one of the consultation's languages %v", canon, languages)
			continue
		}
		out.Texts[canon] = text
	}
	if _, ok := out.Texts[src]; !ok {
		errs.Add(field+".source_language", "no text in the source language %s", src)
	}
	return out
}

func checkQuestions(errs *apperr.List, qs []Question, languages []string) {
	if len(qs) == 0 {
		errs.Add("questions", "a consultation needs at least one question")
	}
	seen := map[string]int{}
	for i := range qs {
		q := &qs[i]
		field := fmt.Sprintf("questions[%d]", i)
		if first, dup := seen[q.ID]; dup {
			errs.Add(field+".id", "duplicate question id %q (also questions[%d])", q.ID, first)
		}
		seen[q.ID] = i
		q.Text = checkText(errs, field+".text", q.Text, languages, true)
		switch q.Kind {
		case KindText:
			if q.MaxLength <= 0 {
				errs.Add(field+".text_question.max_length", "must be positive")
			}
		case KindChoice:
			checkChoice(errs, field+".choice_question", q, languages)
		default:
			errs.Add(field, "question kind is required")
		}
	}
}

func checkChoice(errs *apperr.List, field string, q *Question, languages []string) {
	if len(q.Options) == 0 {
		errs.Add(field+".options", "a choice question needs at least one option")
		return
	}
	seen := map[string]bool{}
	for j := range q.Options {
		o := &q.Options[j]
		if seen[o.ID] {
			errs.Add(fmt.Sprintf("%s.options[%d].id", field, j), "duplicate option id %q", o.ID)
		}
		seen[o.ID] = true
		o.Label = checkText(errs, fmt.Sprintf("%s.options[%d].label", field, j), o.Label, languages, true)
	}
	if !q.Multiple {
		if q.MinChoices > 1 || q.MaxChoices > 1 {
			errs.Add(field, "a single-choice question cannot set min_choices or max_choices above 1")
		}
		return
	}
	if q.MaxChoices > len(q.Options) {
		errs.Add(field+".max_choices", "%d is more than the %d options", q.MaxChoices, len(q.Options))
	}
	if q.MaxChoices > 0 && q.MinChoices > q.MaxChoices {
		errs.Add(field+".min_choices", "%d is more than max_choices %d", q.MinChoices, q.MaxChoices)
	}
}

// Open opens c for submissions at now.
func (c *Consultation) Open(now time.Time) error {
	if c.Status != StatusDraft && c.Status != StatusScheduled {
		return apperr.FailedPrecondition("id", "consultation %s is %s; only a draft or scheduled consultation can be opened", c.ID, c.Status)
	}
	if !c.ClosesAt.After(now) {
		return apperr.FailedPrecondition("closes_at", "deadline %s has passed; extend it before opening", c.ClosesAt.Format(time.RFC3339))
	}
	c.Status = StatusOpen
	c.touch(now)
	return nil
}

// Close stops c taking submissions at now.
func (c *Consultation) Close(now time.Time) error {
	if c.Status != StatusOpen {
		return apperr.FailedPrecondition("id", "consultation %s is %s; only an open consultation can be closed", c.ID, c.Status)
	}
	c.Status = StatusClosed
	c.touch(now)
	return nil
}

func (c *Consultation) touch(now time.Time) {
	c.Version++
	c.UpdatedAt = now
}

// CheckVersion implements optimistic concurrency: want 0 skips the check.
func (c *Consultation) CheckVersion(want int64) error {
	if want != 0 && want != c.Version {
		return apperr.Conflict("version", "consultation %s is at version %d, not %d: reload and retry", c.ID, c.Version, want)
	}
	return nil
}

// VisibleTo reports whether p may read c: drafts only by those who manage it.
func (c *Consultation) VisibleTo(p auth.Principal) bool {
	if c.Status == StatusDraft {
		return CanManage(p, c.CoLeadCountries)
	}
	return true
}
