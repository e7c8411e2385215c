package domain

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/geo"
)

// Status is where a consultation is in its lifecycle:
// draft → scheduled → open → closed → archived (scheduled may be skipped by
// opening a draft directly; a closed consultation may be reopened).
type Status string

// Consultation statuses, in lifecycle order.
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusOpen      Status = "open"
	StatusClosed    Status = "closed"
	StatusArchived  Status = "archived"
)

// TextOrigin says who wrote a text in one language.
type TextOrigin string

// Text origins.
const (
	OriginSource   TextOrigin = "source"
	OriginMachine  TextOrigin = "machine"
	OriginReviewed TextOrigin = "reviewed"
)

// LocalizedText is a text per BCP 47 language, written first in Source.
type LocalizedText struct {
	Source  string                `json:"source"`
	Texts   map[string]string     `json:"texts"`
	Origins map[string]TextOrigin `json:"origins,omitempty"`
}

// Missing lists the languages of langs that t has no text in.
func (t LocalizedText) Missing(langs []string) []string {
	if len(t.Texts) == 0 {
		return nil
	}
	var out []string
	for _, l := range langs {
		if _, ok := t.Texts[l]; !ok {
			out = append(out, l)
		}
	}
	return out
}

// Publication is how a submission is shown to the public.
type Publication string

// Publication modes.
const (
	PublicNamed     Publication = "public_named"
	PublicAnonymous Publication = "public_anonymous"
	Confidential    Publication = "confidential"
)

// QuestionKind is the kind of answer a question takes.
type QuestionKind string

// Question kinds.
const (
	KindText    QuestionKind = "text"
	KindChoice  QuestionKind = "choice"
	KindScale   QuestionKind = "scale"
	KindRanking QuestionKind = "ranking"
	KindFile    QuestionKind = "file"
)

// Option is one answer a choice or ranking question offers.
type Option struct {
	ID    string        `json:"id"`
	Label LocalizedText `json:"label"`
}

// ScaleLabel names one point of a 1–5 scale.
type ScaleLabel struct {
	Value int           `json:"value"`
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
	// Choice and ranking questions.
	Options    []Option `json:"options,omitempty"`
	Multiple   bool     `json:"multiple,omitempty"`
	MinChoices int      `json:"min_choices,omitempty"`
	MaxChoices int      `json:"max_choices,omitempty"`
	// Ranking questions: how many options must be ranked (0 means all).
	RankCount int `json:"rank_count,omitempty"`
	// Scale questions.
	ScaleLabels []ScaleLabel `json:"scale_labels,omitempty"`
	// File questions.
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

// Document is a background document.
type Document struct {
	Title LocalizedText `json:"title"`
	URL   string        `json:"url"`
}

// Consultation is a questionnaire put to stakeholders ahead of a dialogue.
type Consultation struct {
	ID                  string        `json:"id"`
	DialogueID          string        `json:"dialogue_id"`
	ThematicArea        string        `json:"thematic_area"`
	CoLeadCountries     []string      `json:"colead_countries"`
	Title               LocalizedText `json:"title"`
	Description         LocalizedText `json:"description"`
	Languages           []string      `json:"languages"`
	Questions           []Question    `json:"questions"`
	BackgroundDocuments []Document    `json:"background_documents,omitempty"`
	Audience            []string      `json:"audience,omitempty"`
	DefaultPublication  Publication   `json:"default_publication"`
	// RequireEmailConfirmation turns on double opt-in for submissions.
	RequireEmailConfirmation bool      `json:"require_email_confirmation,omitempty"`
	QuestionsFrozen          bool      `json:"questions_frozen,omitempty"`
	Status                   Status    `json:"status"`
	OpensAt                  time.Time `json:"opens_at"`
	ClosesAt                 time.Time `json:"closes_at"`
	Version                  int64     `json:"version"`
	CreatedBy                string    `json:"created_by"`
	CreatedAt                time.Time `json:"created_at"`
	UpdatedAt                time.Time `json:"updated_at"`
}

// Draft is what a co-lead writes: the editable fields of a consultation.
type Draft struct {
	Title               LocalizedText
	Description         LocalizedText
	Languages           []string
	Questions           []Question
	BackgroundDocuments []Document
	Audience            []string
	DefaultPublication  Publication
	OpensAt             time.Time
	ClosesAt            time.Time
	// RequireEmailConfirmation turns on double opt-in for submissions.
	RequireEmailConfirmation bool
}

// NewConsultation checks a consultation drafted by p for dialogue d at now.
// coLeads are the countries co-leading the dialogue's thematic area.
func NewConsultation(p auth.Principal, d Dialogue, coLeads []string, dr Draft, now time.Time) (Consultation, error) {
	if !CanManage(p, coLeads) {
		return Consultation{}, apperr.Denied("only the secretariat or a co-lead of %s (%v) may draft its consultations", d.ThematicArea, coLeads)
	}
	if d.Status != DialoguePlanned {
		return Consultation{}, apperr.FailedPrecondition("dialogue_id", "dialogue %s is %s; consultations are drafted for planned dialogues", d.ID, d.Status)
	}
	c := Consultation{
		DialogueID:      d.ID,
		ThematicArea:    d.ThematicArea,
		CoLeadCountries: slices.Clone(coLeads),
		Status:          StatusDraft,
		Version:         1,
		CreatedBy:       p.Subject,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	if err := c.apply(dr, d, now, false); err != nil {
		return Consultation{}, err
	}
	return c, nil
}

// Edit replaces the editable fields of c with dr. Texts keep their origin
// when unchanged; a changed text in another language than the source counts
// as reviewed. Questions are frozen once the first submission arrived, and
// the dates of an open consultation move only through Extend. It reports
// whether anything changed.
func (c *Consultation) Edit(dr Draft, d Dialogue, now time.Time) (changed bool, err error) {
	switch c.Status {
	case StatusDraft, StatusScheduled, StatusOpen:
	default:
		return false, apperr.FailedPrecondition("id", "consultation %s is %s and can no longer be edited", c.ID, c.Status)
	}
	if c.Status == StatusOpen && (!dr.ClosesAt.Equal(c.ClosesAt) || !dr.OpensAt.Equal(c.OpensAt)) {
		return false, apperr.FailedPrecondition("closes_at", "consultation %s is open: move its deadline with ExtendConsultation", c.ID)
	}
	next := *c
	if err := next.apply(dr, d, now, true); err != nil {
		return false, err
	}
	if c.QuestionsFrozen && !sameQuestions(c.Questions, next.Questions) {
		return false, apperr.FailedPrecondition("questions", "the questions of consultation %s are frozen since its first submission; texts of other fields can still change", c.ID)
	}
	if c.Status == StatusScheduled && !next.OpensAt.After(now) {
		return false, apperr.Invalid("opens_at", "a scheduled consultation must open in the future")
	}
	if reflect.DeepEqual(next, *c) {
		// Applying the same file twice changes nothing, not even the version.
		return false, nil
	}
	*c = next
	c.touch(now)
	return true, nil
}

// apply checks dr and copies it into c, canonicalising language tags and
// recording where each text came from.
func (c *Consultation) apply(dr Draft, d Dialogue, now time.Time, editing bool) error {
	var errs apperr.List
	langs := canonicalLanguages(&errs, "languages", dr.Languages)
	prev := c
	if !editing {
		prev = &Consultation{}
	}
	title := checkText(&errs, "title", dr.Title, langs, true, prev.Title)
	description := checkText(&errs, "description", dr.Description, langs, false, prev.Description)
	questions := checkQuestions(&errs, dr.Questions, langs, prev.Questions)
	docs := make([]Document, len(dr.BackgroundDocuments))
	for i, doc := range dr.BackgroundDocuments {
		var prevTitle LocalizedText
		if i < len(prev.BackgroundDocuments) {
			prevTitle = prev.BackgroundDocuments[i].Title
		}
		docs[i] = Document{URL: doc.URL, Title: checkText(&errs, fmt.Sprintf("background_documents[%d].title", i), doc.Title, langs, true, prevTitle)}
		if !strings.HasPrefix(doc.URL, "https://") && !strings.HasPrefix(doc.URL, "http://") {
			errs.Add(fmt.Sprintf("background_documents[%d].url", i), "must be an http or https URL")
		}
	}
	if !dr.OpensAt.IsZero() && !dr.ClosesAt.After(dr.OpensAt) {
		errs.Add("closes_at", "must be after opens_at (%s)", dr.OpensAt.Format(time.RFC3339))
	}
	if !dr.ClosesAt.After(now) {
		errs.Add("closes_at", "must be in the future")
	}
	if dr.ClosesAt.After(d.StartsAt) {
		errs.Add("closes_at", "must not be after the dialogue starts (%s): consultations come before their dialogue", d.StartsAt.Format(time.RFC3339))
	}
	pub := dr.DefaultPublication
	if pub == "" {
		pub = PublicNamed
	}
	if err := errs.Err(); err != nil {
		return err
	}
	c.Languages, c.Title, c.Description, c.Questions = langs, title, description, questions
	c.BackgroundDocuments, c.Audience, c.DefaultPublication = docs, slices.Clone(dr.Audience), pub
	c.OpensAt, c.ClosesAt = dr.OpensAt, dr.ClosesAt
	c.RequireEmailConfirmation = dr.RequireEmailConfirmation
	return nil
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
	if len(tags) == 0 {
		errs.Add(field, "at least one language is required")
	}
	return out
}

// checkText canonicalises the tags of t, checks that it is written in the
// consultation's languages, and sets the origin of each text: SOURCE for the
// source language; for the others the previous origin when the text is
// unchanged, else REVIEWED (a person wrote it).
func checkText(errs *apperr.List, field string, t LocalizedText, languages []string, required bool, prev LocalizedText) LocalizedText {
	if len(t.Texts) == 0 {
		if required {
			errs.Add(field, "is required")
		}
		return LocalizedText{}
	}
	out := LocalizedText{Texts: make(map[string]string, len(t.Texts)), Origins: make(map[string]TextOrigin, len(t.Texts))}
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
		switch {
		case canon == src:
			out.Origins[canon] = OriginSource
		case prev.Texts[canon] == text && prev.Origins[canon] != "" && prev.Source == src:
			out.Origins[canon] = prev.Origins[canon]
		default:
			out.Origins[canon] = OriginReviewed
		}
	}
	if _, ok := out.Texts[src]; !ok {
		errs.Add(field+".source_language", "no text in the source language %s", src)
	}
	return out
}

func checkQuestions(errs *apperr.List, qs []Question, languages []string, prev []Question) []Question {
	if len(qs) == 0 {
		errs.Add("questions", "a consultation needs at least one question")
	}
	prevByID := map[string]Question{}
	for _, q := range prev {
		prevByID[q.ID] = q
	}
	out := make([]Question, len(qs))
	seen := map[string]int{}
	for i, q := range qs {
		field := fmt.Sprintf("questions[%d]", i)
		if first, dup := seen[q.ID]; dup {
			errs.Add(field+".id", "duplicate question id %q (also questions[%d])", q.ID, first)
		}
		seen[q.ID] = i
		p := prevByID[q.ID]
		q.Text = checkText(errs, field+".text", q.Text, languages, true, p.Text)
		switch q.Kind {
		case KindText:
			if q.MaxLength <= 0 {
				errs.Add(field+".text_question.max_length", "must be positive")
			}
		case KindChoice:
			q.Options = checkOptions(errs, field+".choice_question", q.Options, languages, p.Options, 1)
			checkChoiceCounts(errs, field+".choice_question", q)
		case KindRanking:
			q.Options = checkOptions(errs, field+".ranking_question", q.Options, languages, p.Options, 2)
			if q.RankCount > len(q.Options) {
				errs.Add(field+".ranking_question.rank_count", "%d is more than the %d options", q.RankCount, len(q.Options))
			}
		case KindScale:
			q.ScaleLabels = checkScaleLabels(errs, field+".scale_question", q.ScaleLabels, languages, p.ScaleLabels)
		case KindFile:
			if q.MaxBytes <= 0 {
				errs.Add(field+".file_question.max_bytes", "must be positive")
			}
		default:
			errs.Add(field, "question kind is required")
		}
		out[i] = q
	}
	return out
}

func checkOptions(errs *apperr.List, field string, opts []Option, languages []string, prev []Option, min int) []Option {
	if len(opts) < min {
		errs.Add(field+".options", "needs at least %d option(s), got %d", min, len(opts))
		return opts
	}
	prevByID := map[string]Option{}
	for _, o := range prev {
		prevByID[o.ID] = o
	}
	out := make([]Option, len(opts))
	seen := map[string]bool{}
	for j, o := range opts {
		if seen[o.ID] {
			errs.Add(fmt.Sprintf("%s.options[%d].id", field, j), "duplicate option id %q", o.ID)
		}
		seen[o.ID] = true
		o.Label = checkText(errs, fmt.Sprintf("%s.options[%d].label", field, j), o.Label, languages, true, prevByID[o.ID].Label)
		out[j] = o
	}
	return out
}

func checkChoiceCounts(errs *apperr.List, field string, q Question) {
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

func checkScaleLabels(errs *apperr.List, field string, labels []ScaleLabel, languages []string, prev []ScaleLabel) []ScaleLabel {
	prevByValue := map[int]LocalizedText{}
	for _, l := range prev {
		prevByValue[l.Value] = l.Label
	}
	out := make([]ScaleLabel, len(labels))
	seen := map[int]bool{}
	for j, l := range labels {
		f := fmt.Sprintf("%s.labels[%d]", field, j)
		if l.Value < 1 || l.Value > 5 {
			errs.Add(f+".value", "must be between 1 and 5")
		}
		if seen[l.Value] {
			errs.Add(f+".value", "point %d is labelled twice", l.Value)
		}
		seen[l.Value] = true
		l.Label = checkText(errs, f+".label", l.Label, languages, true, prevByValue[l.Value])
		out[j] = l
	}
	return out
}

// sameQuestions reports whether two questionnaires ask the same things:
// same ids, kinds, requirements, limits and options, in the same order.
// Texts may differ (a typo fixed, a translation reviewed).
func sameQuestions(a, b []Question) bool {
	return slices.EqualFunc(a, b, func(x, y Question) bool {
		return x.ID == y.ID && x.Kind == y.Kind && x.Required == y.Required && x.MaxLength == y.MaxLength &&
			x.Multiple == y.Multiple && x.MinChoices == y.MinChoices && x.MaxChoices == y.MaxChoices &&
			x.RankCount == y.RankCount && x.MaxBytes == y.MaxBytes &&
			slices.EqualFunc(x.Options, y.Options, func(o, p Option) bool { return o.ID == p.ID }) &&
			slices.EqualFunc(x.ScaleLabels, y.ScaleLabels, func(o, p ScaleLabel) bool { return o.Value == p.Value })
	})
}

// Schedule publishes a draft: it opens by itself at OpensAt.
func (c *Consultation) Schedule(now time.Time) error {
	if c.Status != StatusDraft {
		return apperr.FailedPrecondition("id", "consultation %s is %s; only a draft can be scheduled", c.ID, c.Status)
	}
	if c.OpensAt.IsZero() || !c.OpensAt.After(now) {
		return apperr.FailedPrecondition("opens_at", "set an opening time in the future before scheduling (or open it now)")
	}
	c.Status = StatusScheduled
	c.touch(now)
	return nil
}

// Open opens c for submissions at now. It reports whether c was a draft,
// which makes the opening also its publication.
func (c *Consultation) Open(now time.Time) (published bool, err error) {
	if c.Status != StatusDraft && c.Status != StatusScheduled {
		return false, apperr.FailedPrecondition("id", "consultation %s is %s; only a draft or scheduled consultation can be opened", c.ID, c.Status)
	}
	if !c.ClosesAt.After(now) {
		return false, apperr.FailedPrecondition("closes_at", "deadline %s has passed; change it before opening", c.ClosesAt.Format(time.RFC3339))
	}
	published = c.Status == StatusDraft
	c.Status = StatusOpen
	c.touch(now)
	return published, nil
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

// Extend moves the deadline of an open consultation later, or reopens a
// closed one until closesAt. Either way the new deadline must come before
// the dialogue starts. It reports whether c was reopened.
func (c *Consultation) Extend(closesAt time.Time, d Dialogue, now time.Time) (reopened bool, err error) {
	switch c.Status {
	case StatusOpen:
		if !closesAt.After(c.ClosesAt) {
			return false, apperr.Invalid("closes_at", "an extension must be later than the current deadline %s", c.ClosesAt.Format(time.RFC3339))
		}
	case StatusClosed:
		if d.Status != DialoguePlanned {
			return false, apperr.FailedPrecondition("id", "dialogue %s is %s: its consultations cannot reopen", d.ID, d.Status)
		}
		if !closesAt.After(now) {
			return false, apperr.Invalid("closes_at", "a reopened consultation needs a deadline in the future")
		}
		reopened = true
	default:
		return false, apperr.FailedPrecondition("id", "consultation %s is %s; only an open or closed consultation can be extended", c.ID, c.Status)
	}
	if closesAt.After(d.StartsAt) {
		return false, apperr.Invalid("closes_at", "must not be after the dialogue starts (%s)", d.StartsAt.Format(time.RFC3339))
	}
	c.ClosesAt = closesAt
	if reopened {
		c.Status = StatusOpen
	}
	c.touch(now)
	return reopened, nil
}

// Archive retires a closed consultation.
func (c *Consultation) Archive(now time.Time) error {
	if c.Status != StatusClosed {
		return apperr.FailedPrecondition("id", "consultation %s is %s; only a closed consultation can be archived", c.ID, c.Status)
	}
	c.Status = StatusArchived
	c.touch(now)
	return nil
}

// FreezeQuestions records that the first submission arrived. It reports
// whether anything changed.
func (c *Consultation) FreezeQuestions(now time.Time) bool {
	if c.QuestionsFrozen {
		return false
	}
	c.QuestionsFrozen = true
	c.touch(now)
	return true
}

// Translation is a text for the text at Path (see textAt) in some language.
type Translation struct {
	Path string
	Text string
}

// SetTranslation stores text as the translation of the text at path in lang,
// from origin (MACHINE or REVIEWED).
func (c *Consultation) SetTranslation(path, lang, text string, origin TextOrigin, now time.Time) error {
	_, err := c.SetTranslations(lang, origin, []Translation{{Path: path, Text: text}}, now)
	return err
}

// SetTranslations stores ts as translations in lang from origin and reports
// how many texts changed; the consultation's version moves once, whatever
// the count. A machine text never replaces a reviewed one or the source, and
// a text already equal to what is stored is no change.
func (c *Consultation) SetTranslations(lang string, origin TextOrigin, ts []Translation, now time.Time) (changed int, err error) {
	canon, err := geo.Language(lang)
	if err != nil {
		return 0, apperr.Invalid("language", "%v", err)
	}
	if !slices.Contains(c.Languages, canon) {
		return 0, apperr.Invalid("language", "%s is not one of the consultation's languages %v", canon, c.Languages)
	}
	if c.Status == StatusArchived {
		return 0, apperr.FailedPrecondition("id", "consultation %s is archived", c.ID)
	}
	for _, tr := range ts {
		t, err := c.textAt(tr.Path)
		if err != nil {
			return 0, err
		}
		if canon == t.Source {
			return 0, apperr.Invalid("language", "%s is the source language of %s; edit the source with UpdateConsultation", canon, tr.Path)
		}
		switch {
		case origin == OriginMachine && t.Origins[canon] == OriginReviewed:
			continue
		case t.Texts[canon] == tr.Text && t.Origins[canon] == origin:
			continue
		}
		if t.Origins == nil {
			t.Origins = map[string]TextOrigin{}
		}
		t.Texts[canon] = tr.Text
		t.Origins[canon] = origin
		changed++
	}
	if changed > 0 {
		c.touch(now)
	}
	return changed, nil
}

// textAt finds the text a path names (see ReviewTranslationRequest.text_path).
func (c *Consultation) textAt(path string) (*LocalizedText, error) {
	notFound := apperr.Invalid("text_path", "consultation %s has no text at %q", c.ID, path)
	parts := strings.Split(path, "/")
	switch {
	case path == "title":
		return &c.Title, nil
	case path == "description" && len(c.Description.Texts) > 0:
		return &c.Description, nil
	case len(parts) == 3 && parts[0] == "background_documents" && parts[2] == "title":
		i, err := strconv.Atoi(parts[1])
		if err != nil || i < 0 || i >= len(c.BackgroundDocuments) {
			return nil, notFound
		}
		return &c.BackgroundDocuments[i].Title, nil
	case len(parts) >= 3 && parts[0] == "questions":
		qi := slices.IndexFunc(c.Questions, func(q Question) bool { return q.ID == parts[1] })
		if qi < 0 {
			return nil, notFound
		}
		q := &c.Questions[qi]
		switch {
		case len(parts) == 3 && parts[2] == "text":
			return &q.Text, nil
		case len(parts) == 5 && parts[2] == "options" && parts[4] == "label":
			oi := slices.IndexFunc(q.Options, func(o Option) bool { return o.ID == parts[3] })
			if oi >= 0 {
				return &q.Options[oi].Label, nil
			}
		case len(parts) == 4 && parts[2] == "labels":
			v, _ := strconv.Atoi(parts[3])
			li := slices.IndexFunc(q.ScaleLabels, func(l ScaleLabel) bool { return l.Value == v })
			if li >= 0 {
				return &q.ScaleLabels[li].Label, nil
			}
		}
	}
	return nil, notFound
}

// TextPaths lists every text of c with its path, for translation requests.
func (c *Consultation) TextPaths() map[string]LocalizedText {
	out := map[string]LocalizedText{"title": c.Title}
	if len(c.Description.Texts) > 0 {
		out["description"] = c.Description
	}
	for i, d := range c.BackgroundDocuments {
		out[fmt.Sprintf("background_documents/%d/title", i)] = d.Title
	}
	for _, q := range c.Questions {
		out["questions/"+q.ID+"/text"] = q.Text
		for _, o := range q.Options {
			out["questions/"+q.ID+"/options/"+o.ID+"/label"] = o.Label
		}
		for _, l := range q.ScaleLabels {
			out[fmt.Sprintf("questions/%s/labels/%d", q.ID, l.Value)] = l.Label
		}
	}
	return out
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
