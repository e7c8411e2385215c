package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
)

var now = time.Now().UTC().Truncate(time.Second)

func es(s string) LocalizedText {
	return LocalizedText{Source: "es", Texts: map[string]string{"es": s}}
}

func validConsultation() Draft {
	return Draft{
		Title:     es("Título"),
		Languages: []string{"es", "pt-br"},
		Questions: []Question{
			{ID: "q1", Text: es("Uno"), Required: true, Kind: KindText, MaxLength: 100},
			{ID: "q2", Text: es("Dos"), Kind: KindChoice, Multiple: true, MaxChoices: 2,
				Options: []Option{{ID: "a", Label: es("A")}, {ID: "b", Label: es("B")}}},
		},
		ClosesAt: now.Add(48 * time.Hour),
	}
}

var (
	coLeads  = []string{"BR", "ES"}
	dialogue = Dialogue{ID: "d1", ThematicArea: "cybersecurity", CoLeadCountries: coLeads, Status: DialoguePlanned,
		StartsAt: now.Add(30 * 24 * time.Hour)}
)

func TestNewConsultationAcceptsAndCanonicalises(t *testing.T) {
	p := auth.Principal{Subject: "c", Role: auth.RoleColead, Country: "BR"}
	c, err := NewConsultation(p, dialogue, coLeads, validConsultation(), now)
	if err != nil {
		t.Fatalf("NewConsultation: %v", err)
	}
	if c.Languages[1] != "pt-BR" || c.Status != StatusDraft || c.Version != 1 || c.ThematicArea != "cybersecurity" {
		t.Errorf("got %+v", c)
	}
}

func TestNewConsultationRefusesBadInput(t *testing.T) {
	p := auth.Principal{Subject: "s", Role: auth.RoleSecretariat}
	cases := []struct {
		name   string
		mutate func(c *Draft)
		field  string
	}{
		{"deadline before opening", func(c *Draft) { c.OpensAt = c.ClosesAt.Add(time.Hour) }, "closes_at"},
		{"deadline in the past", func(c *Draft) { c.ClosesAt = now.Add(-time.Hour) }, "closes_at"},
		{"empty questionnaire", func(c *Draft) { c.Questions = nil }, "questions"},
		{"choice without options", func(c *Draft) { c.Questions[1].Options = nil }, "questions[1].choice_question.options"},
		{"ranking with one option", func(c *Draft) {
			c.Questions[1].Kind, c.Questions[1].Options = KindRanking, c.Questions[1].Options[:1]
		}, "questions[1].ranking_question.options"},
		{"scale point out of range", func(c *Draft) {
			c.Questions[1] = Question{ID: "s", Kind: KindScale, Text: es("Escala"), ScaleLabels: []ScaleLabel{{Value: 6, Label: es("Seis")}}}
		}, "questions[1].scale_question.labels[0].value"},
		{"file without a size limit", func(c *Draft) { c.Questions[1] = Question{ID: "f", Kind: KindFile, Text: es("Documento")} }, "questions[1].file_question.max_bytes"},
		{"deadline after the dialogue", func(c *Draft) { c.ClosesAt = dialogue.StartsAt.Add(time.Hour) }, "closes_at"},
		{"document without http URL", func(c *Draft) {
			c.BackgroundDocuments = []Document{{Title: es("Doc"), URL: "ftp://x"}}
		}, "background_documents[0].url"},
		{"not BCP 47", func(c *Draft) { c.Languages = []string{"es", "español!"} }, "languages[1]"},
		{"duplicated question ids", func(c *Draft) { c.Questions[1].ID = "q1" }, "questions[1].id"},
		{"text in a language not offered", func(c *Draft) { c.Title.Texts["fr"] = "Titre" }, "title.texts[fr]"},
		{"no text in the source language", func(c *Draft) { c.Title.Source = "pt-BR" }, "title.source_language"},
		{"max choices above options", func(c *Draft) { c.Questions[1].MaxChoices = 3 }, "questions[1].choice_question.max_choices"},
		{"text question without a limit", func(c *Draft) { c.Questions[0].MaxLength = 0 }, "questions[0].text_question.max_length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConsultation()
			tc.mutate(&c)
			_, err := NewConsultation(p, dialogue, coLeads, c, now)
			var list apperr.List
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an apperr.List", err)
			}
			for _, e := range list {
				if e.Field == tc.field {
					return
				}
			}
			t.Errorf("no error about %s in %v", tc.field, err)
		})
	}
}

func TestOnlyCoLeadsOfTheDialogueDraft(t *testing.T) {
	for _, p := range []auth.Principal{
		{Subject: "x", Role: auth.RoleColead, Country: "MX"},
		{Subject: "y", Role: auth.RoleStakeholder},
		{Role: auth.RolePublic},
	} {
		_, err := NewConsultation(p, dialogue, coLeads, validConsultation(), now)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.KindDenied {
			t.Errorf("%+v: err = %v, want denied", p, err)
		}
	}
}

func newDraft(t *testing.T) Consultation {
	t.Helper()
	c, err := NewConsultation(auth.Principal{Role: auth.RoleSecretariat}, dialogue, coLeads, validConsultation(), now)
	if err != nil {
		t.Fatal(err)
	}
	c.ID = "c1"
	return c
}

func TestLifecycle(t *testing.T) {
	c := newDraft(t)
	if err := c.Close(now); err == nil {
		t.Error("closing a draft succeeded")
	}
	if err := c.CheckVersion(2); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("stale version: %v", err)
	}
	if err := c.Schedule(now); err == nil {
		t.Error("scheduling without opens_at succeeded")
	}
	c.OpensAt = now.Add(time.Hour)
	if err := c.Schedule(now); err != nil || c.Status != StatusScheduled || c.Version != 2 {
		t.Fatalf("schedule: %v, %+v", err, c)
	}
	published, err := c.Open(now.Add(time.Hour))
	if err != nil || published || c.Status != StatusOpen || c.Version != 3 {
		t.Fatalf("open: %v, published=%v, %+v", err, published, c)
	}
	if _, err := c.Open(now); err == nil {
		t.Error("opening twice succeeded")
	}
	if _, err := c.Extend(c.ClosesAt.Add(-time.Minute), dialogue, now); err == nil {
		t.Error("an earlier deadline was accepted as an extension")
	}
	if _, err := c.Extend(dialogue.StartsAt.Add(time.Hour), dialogue, now); err == nil {
		t.Error("a deadline after the dialogue started was accepted")
	}
	reopened, err := c.Extend(c.ClosesAt.Add(24*time.Hour), dialogue, now)
	if err != nil || reopened {
		t.Fatalf("extend: %v, reopened=%v", err, reopened)
	}
	if err := c.Close(now); err != nil || c.Status != StatusClosed {
		t.Fatalf("close: %v, %+v", err, c)
	}
	reopened, err = c.Extend(now.Add(48*time.Hour), dialogue, now)
	if err != nil || !reopened || c.Status != StatusOpen {
		t.Fatalf("reopen: %v, reopened=%v, %+v", err, reopened, c)
	}
	if err := c.Archive(now); err == nil {
		t.Error("archiving an open consultation succeeded")
	}
	_ = c.Close(now)
	if err := c.Archive(now); err != nil || c.Status != StatusArchived {
		t.Fatalf("archive: %v", err)
	}
	if _, err := c.Extend(now.Add(time.Hour), dialogue, now); err == nil {
		t.Error("an archived consultation was reopened")
	}

	late := newDraft(t)
	late.ClosesAt = now.Add(-time.Minute)
	if _, err := late.Open(now); err == nil {
		t.Error("opening past the deadline succeeded")
	}
	direct := newDraft(t)
	if published, err := direct.Open(now); err != nil || !published {
		t.Errorf("opening a draft directly: %v, published=%v", err, published)
	}
}

func TestQuestionsFreezeAfterFirstSubmission(t *testing.T) {
	c := newDraft(t)
	if _, err := c.Open(now); err != nil {
		t.Fatal(err)
	}
	if !c.FreezeQuestions(now) || c.FreezeQuestions(now) {
		t.Fatal("FreezeQuestions should change the consultation once")
	}
	edit := validConsultation()
	edit.Questions[0].Text = es("Uno, mejor escrito")
	if _, err := c.Edit(edit, dialogue, now); err != nil {
		t.Errorf("fixing a question's wording after freezing: %v", err)
	}
	edit.Questions[0].MaxLength = 50
	_, err := c.Edit(edit, dialogue, now)
	var e *apperr.Error
	if !errors.As(err, &e) || e.Kind != apperr.KindFailedPrecondition || e.Field != "questions" {
		t.Errorf("changing a frozen question: %v", err)
	}
	edit = validConsultation()
	edit.ClosesAt = edit.ClosesAt.Add(time.Hour)
	if _, err := c.Edit(edit, dialogue, now); err == nil {
		t.Error("an open consultation's deadline moved through Edit")
	}
}

func TestTranslationOrigins(t *testing.T) {
	c := newDraft(t)
	if got := c.Title.Origins["es"]; got != OriginSource {
		t.Errorf("source origin = %q", got)
	}
	if err := c.SetTranslation("title", "pt-br", "Título (máquina)", OriginMachine, now); err != nil {
		t.Fatal(err)
	}
	if c.Title.Origins["pt-BR"] != OriginMachine {
		t.Errorf("origins = %v", c.Title.Origins)
	}
	if err := c.SetTranslation("title", "pt-BR", "Título", OriginReviewed, now); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTranslation("title", "pt-BR", "Outra máquina", OriginMachine, now); err != nil {
		t.Fatal(err)
	}
	if c.Title.Texts["pt-BR"] != "Título" || c.Title.Origins["pt-BR"] != OriginReviewed {
		t.Errorf("a machine text replaced a reviewed one: %v %v", c.Title.Texts, c.Title.Origins)
	}
	if err := c.SetTranslation("questions/q2/options/a/label", "pt-BR", "A", OriginReviewed, now); err != nil {
		t.Errorf("option label: %v", err)
	}
	for _, bad := range []struct{ path, lang string }{{"title", "es"}, {"title", "fr"}, {"questions/nope/text", "pt-BR"}, {"subtitle", "pt-BR"}} {
		if err := c.SetTranslation(bad.path, bad.lang, "x", OriginReviewed, now); err == nil {
			t.Errorf("SetTranslation(%s, %s) succeeded", bad.path, bad.lang)
		}
	}
	// An edit that sends the reviewed text back unchanged keeps its origin.
	edit := validConsultation()
	edit.Title.Texts["pt-BR"] = "Título"
	if _, err := c.Edit(edit, dialogue, now); err != nil {
		t.Fatal(err)
	}
	if c.Title.Origins["pt-BR"] != OriginReviewed {
		t.Errorf("origin after a round trip = %q", c.Title.Origins["pt-BR"])
	}
	if missing := c.Questions[0].Text.Missing(c.Languages); len(missing) != 1 || missing[0] != "pt-BR" {
		t.Errorf("missing = %v", missing)
	}
}

func TestNewDialogue(t *testing.T) {
	d := Dialogue{ThematicArea: "ai_hpc", Title: "AI", StartsAt: now.Add(time.Hour)}
	if _, err := NewDialogue(auth.Principal{Role: auth.RoleColead, Country: "MX"}, d, coLeads, now); err == nil {
		t.Error("a co-lead of another country scheduled a dialogue")
	}
	if _, err := NewDialogue(auth.Principal{Role: auth.RoleSecretariat}, d, nil, now); err == nil {
		t.Error("a dialogue of an area without co-leads was scheduled")
	}
	got, err := NewDialogue(auth.Principal{Subject: "c", Role: auth.RoleColead, Country: "ES"}, d, coLeads, now)
	if err != nil || got.Status != DialoguePlanned || got.Version != 1 || !slices.Equal(got.CoLeadCountries, coLeads) {
		t.Fatalf("NewDialogue: %v %+v", err, got)
	}
	bad := d
	bad.VenueCountry = "XX"
	bad.StartsAt = now.Add(-time.Hour)
	_, err = NewDialogue(auth.Principal{Role: auth.RoleSecretariat}, bad, coLeads, now)
	if err == nil || !strings.Contains(err.Error(), "venue_country") || !strings.Contains(err.Error(), "starts_at") {
		t.Errorf("err = %v, want venue_country and starts_at", err)
	}
	if err := got.Update(DialogueChanges{Title: "AI 2", StartsAt: now.Add(2 * time.Hour)}, now); err != nil || got.Version != 2 {
		t.Errorf("update: %v", err)
	}
	held := got
	if held.MarkHeld(now) {
		t.Error("a dialogue still ahead was marked held")
	}
	if !held.MarkHeld(now.Add(3*time.Hour)) || held.Status != DialogueHeld || held.MarkHeld(now.Add(4*time.Hour)) {
		t.Errorf("mark held: %+v", held)
	}
	if err := got.Cancel(now); err != nil || got.Status != DialogueCancelled {
		t.Errorf("cancel: %v", err)
	}
	if err := got.Update(DialogueChanges{Title: "AI 3", StartsAt: now.Add(3 * time.Hour)}, now); err == nil {
		t.Error("a cancelled dialogue was updated")
	}
}
