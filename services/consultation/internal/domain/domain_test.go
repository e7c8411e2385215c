package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func es(s string) LocalizedText {
	return LocalizedText{Source: "es", Texts: map[string]string{"es": s}}
}

func validConsultation() Consultation {
	return Consultation{
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

var dialogue = Dialogue{ID: "d1", ThematicArea: "cybersecurity", CoLeadCountries: []string{"BR", "ES"}, Status: DialoguePlanned}

func TestNewConsultationAcceptsAndCanonicalises(t *testing.T) {
	p := auth.Principal{Subject: "c", Role: auth.RoleColead, Country: "BR"}
	c, err := NewConsultation(p, dialogue, validConsultation(), now)
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
		mutate func(c *Consultation)
		field  string
	}{
		{"deadline before opening", func(c *Consultation) { c.OpensAt = c.ClosesAt.Add(time.Hour) }, "closes_at"},
		{"deadline in the past", func(c *Consultation) { c.ClosesAt = now.Add(-time.Hour) }, "closes_at"},
		{"empty questionnaire", func(c *Consultation) { c.Questions = nil }, "questions"},
		{"choice without options", func(c *Consultation) { c.Questions[1].Options = nil }, "questions[1].choice_question.options"},
		{"not BCP 47", func(c *Consultation) { c.Languages = []string{"es", "español!"} }, "languages[1]"},
		{"duplicated question ids", func(c *Consultation) { c.Questions[1].ID = "q1" }, "questions[1].id"},
		{"text in a language not offered", func(c *Consultation) { c.Title.Texts["fr"] = "Titre" }, "title.texts[fr]"},
		{"no text in the source language", func(c *Consultation) { c.Title.Source = "pt-BR" }, "title.source_language"},
		{"max choices above options", func(c *Consultation) { c.Questions[1].MaxChoices = 3 }, "questions[1].choice_question.max_choices"},
		{"text question without a limit", func(c *Consultation) { c.Questions[0].MaxLength = 0 }, "questions[0].text_question.max_length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConsultation()
			tc.mutate(&c)
			_, err := NewConsultation(p, dialogue, c, now)
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
		_, err := NewConsultation(p, dialogue, validConsultation(), now)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Kind != apperr.KindDenied {
			t.Errorf("%+v: err = %v, want denied", p, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	c, err := NewConsultation(auth.Principal{Role: auth.RoleSecretariat}, dialogue, validConsultation(), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(now); err == nil {
		t.Error("closing a draft succeeded")
	}
	if err := c.CheckVersion(2); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("stale version: %v", err)
	}
	if err := c.Open(now); err != nil || c.Status != StatusOpen || c.Version != 2 {
		t.Fatalf("open: %v, %+v", err, c)
	}
	if err := c.Open(now); err == nil {
		t.Error("opening twice succeeded")
	}
	if err := c.Close(now); err != nil || c.Status != StatusClosed || c.Version != 3 {
		t.Fatalf("close: %v, %+v", err, c)
	}
	late := validConsultation()
	late.Status = StatusDraft
	late.ClosesAt = now.Add(-time.Minute)
	if err := late.Open(now); err == nil {
		t.Error("opening past the deadline succeeded")
	}
}

func TestNewDialogue(t *testing.T) {
	d := Dialogue{ThematicArea: "ai_hpc", Title: "AI", CoLeadCountries: []string{"BR", "ES"}, StartsAt: now.Add(time.Hour)}
	if _, err := NewDialogue(auth.Principal{Role: auth.RoleColead, Country: "MX"}, d, now); err == nil {
		t.Error("a co-lead of another country scheduled a dialogue")
	}
	got, err := NewDialogue(auth.Principal{Subject: "c", Role: auth.RoleColead, Country: "ES"}, d, now)
	if err != nil || got.Status != DialoguePlanned || got.Version != 1 {
		t.Fatalf("NewDialogue: %v %+v", err, got)
	}
	bad := d
	bad.CoLeadCountries = []string{"BR", "XX"}
	bad.StartsAt = now.Add(-time.Hour)
	_, err = NewDialogue(auth.Principal{Role: auth.RoleSecretariat}, bad, now)
	if err == nil || !strings.Contains(err.Error(), "colead_countries[1]") || !strings.Contains(err.Error(), "starts_at") {
		t.Errorf("err = %v, want colead_countries[1] and starts_at", err)
	}
}
