package worker

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker/internal/tasks"
)

// text is a LocalizedText written in Spanish, with translations in other.
func text(es string, other map[string]string) *consultationv1.LocalizedText {
	t := &consultationv1.LocalizedText{SourceLanguage: "es", Texts: map[string]string{"es": es}}
	for l, s := range other {
		t.Texts[l] = s
	}
	return t
}

// TestPublishedConsultationBecomesOneJobPerMissingLanguage publishes a
// consultation whose English is complete and whose Portuguese has only a
// title, twice, and expects one job, for Portuguese, with every text of
// every kind that lacks it.
func TestPublishedConsultationBecomesOneJobPerMissingLanguage(t *testing.T) {
	now := time.Now()
	w, insp, cfg := newWorker(t, now)
	en := func(s string) map[string]string { return map[string]string{"en": s} }
	c := &consultationv1.Consultation{
		Id:        "c1",
		Status:    consultationv1.ConsultationStatus_CONSULTATION_STATUS_SCHEDULED,
		Version:   4,
		Languages: []string{"es", "en", "pt"},
		Title:     text("Datos", map[string]string{"en": "Data", "pt": "Dados"}),
		Questions: []*consultationv1.Question{
			{Id: "q1", Text: text("¿Prioridades?", en("Priorities?")), Kind: &consultationv1.Question_ChoiceQuestion{
				ChoiceQuestion: &consultationv1.ChoiceQuestion{Options: []*consultationv1.Option{
					{Id: "a", Label: text("Público", en("Public"))}}}}},
			{Id: "q2", Text: text("Escala", en("Scale")), Kind: &consultationv1.Question_ScaleQuestion{
				ScaleQuestion: &consultationv1.ScaleQuestion{Labels: []*consultationv1.ScaleLabel{
					{Value: 5, Label: text("Mucho", en("A lot"))}}}}},
			{Id: "q3", Text: text("Orden", en("Order")), Kind: &consultationv1.Question_RankingQuestion{
				RankingQuestion: &consultationv1.RankingQuestion{Options: []*consultationv1.Option{
					{Id: "x", Label: text("Equis", en("Ex"))}, {Id: "y", Label: text("Ye", en("Why"))}}}}},
		},
		BackgroundDocuments: []*consultationv1.Document{{Title: text("Informe", en("Report")), Url: "https://example.org/r.pdf"}},
	}
	env, err := events.New(events.ConsultationPublished, events.Aggregate{Type: "consultation", ID: "c1", Version: 4},
		&consultationv1.ConsultationPublishedEvent{Consultation: c}, now)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.onConsultationChanged(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := insp.ListPendingTasks(cfg.Queue(jobs.QueueDefault))
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != TranslateConsultationTaskID("c1", 4, "pt") || pending[0].Type != tasks.TypeTranslateConsultation {
		for _, p := range pending {
			t.Logf("task %s %s", p.Type, p.ID)
		}
		t.Fatalf("%d tasks, want one: %s", len(pending), TranslateConsultationTaskID("c1", 4, "pt"))
	}
	var p tasks.TranslateConsultation
	if err := json.Unmarshal(pending[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, st := range p.Texts {
		if st.SourceLanguage != "es" || st.SourceText == "" {
			t.Errorf("text %+v", st)
		}
		paths = append(paths, st.Path)
	}
	want := []string{"questions/q1/text", "questions/q1/options/a/label", "questions/q2/text", "questions/q2/labels/5",
		"questions/q3/text", "questions/q3/options/x/label", "questions/q3/options/y/label", "background_documents/0/title"}
	if p.ConsultationID != "c1" || p.Version != 4 || p.Language != "pt" || !slices.Equal(paths, want) {
		t.Errorf("payload %+v\npaths %q\nwant  %q", p, paths, want)
	}
}

// TestEditedConsultationAsksForNewTextsOnly: after publication, an edit that
// adds an untranslated question asks for it; an edit of a draft, or of a
// consultation whose texts are complete, asks for nothing.
func TestEditedConsultationAsksForNewTextsOnly(t *testing.T) {
	now := time.Now()
	w, insp, cfg := newWorker(t, now)
	c := &consultationv1.Consultation{
		Id: "c2", Version: 7, Languages: []string{"es", "en"},
		Status: consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN,
		Title:  text("Datos", map[string]string{"en": "Data"}),
		Questions: []*consultationv1.Question{
			{Id: "nueva", Text: text("Pregunta nueva", nil)},
		},
	}
	deliver := func(c *consultationv1.Consultation) {
		t.Helper()
		env, err := events.New(events.ConsultationUpdated, events.Aggregate{Type: "consultation", ID: c.GetId(), Version: c.GetVersion()},
			&consultationv1.ConsultationUpdatedEvent{Consultation: c}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.onConsultationChanged(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	deliver(c)
	complete := proto.Clone(c).(*consultationv1.Consultation)
	complete.Version = 8
	complete.Questions[0].Text.Texts["en"] = "New question"
	deliver(complete)
	draft := proto.Clone(c).(*consultationv1.Consultation)
	draft.Id, draft.Status = "c3", consultationv1.ConsultationStatus_CONSULTATION_STATUS_DRAFT
	deliver(draft)

	pending, err := insp.ListPendingTasks(cfg.Queue(jobs.QueueDefault))
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != TranslateConsultationTaskID("c2", 7, "en") {
		for _, p := range pending {
			t.Logf("task %s", p.ID)
		}
		t.Fatalf("%d tasks, want the one for c2 v7 en", len(pending))
	}
}
