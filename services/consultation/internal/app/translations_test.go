package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/consultation/internal/app"
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
	"github.com/consulta-platform/consulta/services/consultation/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var secretariat = auth.Principal{Subject: "secretariat", Role: auth.RoleSecretariat}

func es(s string) domain.LocalizedText {
	return domain.LocalizedText{Source: "es", Texts: map[string]string{"es": s}}
}

// openConsultation drafts and opens a Spanish consultation offered in
// Spanish, English and Portuguese.
func openConsultation(t *testing.T, pool *pgxpool.Pool, a *app.App) domain.Consultation {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO consultation.thematic_area_coleads (thematic_area, country, assigned_by, assigned_at)
		VALUES ('data_governance', 'BR', 'test', now()), ('data_governance', 'ES', 'test', now())`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	d, err := a.CreateDialogue(ctx, secretariat, domain.Dialogue{ThematicArea: "data_governance", Title: "Datos", StartsAt: now.Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.CreateConsultation(ctx, secretariat, d.ID, domain.Draft{
		Title:       es("Gobernanza de datos"),
		Description: es("Una consulta"),
		Languages:   []string{"es", "en", "pt"},
		Questions: []domain.Question{{ID: "q1", Text: es("¿Prioridades?"), Kind: domain.KindChoice,
			Options: []domain.Option{{ID: "a", Label: es("Público")}}}},
		ClosesAt: now.Add(14 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = a.OpenConsultation(ctx, secretariat, c.ID, c.Version); err != nil {
		t.Fatal(err)
	}
	return c
}

func translatedEvent(t *testing.T, id string, version int64, lang string, texts ...*consultationv1.TranslatedText) *eventsv1.Envelope {
	t.Helper()
	env, err := events.New(events.ConsultationTranslated, events.Aggregate{Type: "consultation", ID: id, Version: version},
		&consultationv1.ConsultationTranslatedEvent{ConsultationId: id, BasedOnVersion: version, Language: lang, Texts: texts}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func countUpdates(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM consultation.outbox WHERE subject = $1`,
		events.ConsultationUpdated).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMachineTranslationApplied delivers a translation event twice: the
// texts whose source is unchanged land as MACHINE, the reviewed title stays,
// the stale question text and the vanished path are skipped, and the
// redelivery changes nothing.
func TestMachineTranslationApplied(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	a := app.New(store.New(pool), nil)
	c := openConsultation(t, pool, a)
	c, err := a.ReviewTranslation(ctx, secretariat, c.ID, c.Version, "title", "en", "Data governance")
	if err != nil {
		t.Fatal(err)
	}
	updatesBefore := countUpdates(t, pool)
	handle := inbox.Handler(pool, store.Schema, "consultation-translations", a.ApplyMachineTranslation)

	env := translatedEvent(t, c.ID, c.Version, "en",
		&consultationv1.TranslatedText{Path: "title", SourceLanguage: "es", SourceText: "Gobernanza de datos", Text: "[en] Gobernanza de datos"},
		&consultationv1.TranslatedText{Path: "description", SourceLanguage: "es", SourceText: "Una consulta", Text: "[en] Una consulta"},
		&consultationv1.TranslatedText{Path: "questions/q1/text", SourceLanguage: "es", SourceText: "¿Prioridades de antes?", Text: "[en] stale"},
		&consultationv1.TranslatedText{Path: "questions/q1/options/a/label", SourceLanguage: "es", SourceText: "Público", Text: "[en] Público"},
		&consultationv1.TranslatedText{Path: "questions/gone/text", SourceLanguage: "es", SourceText: "¿Ya no?", Text: "[en] gone"},
	)
	for range 2 {
		if err := handle(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.GetConsultation(ctx, secretariat, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != c.Version+1 {
		t.Errorf("version %d, want %d: one event, one version", got.Version, c.Version+1)
	}
	if n := countUpdates(t, pool) - updatesBefore; n != 1 {
		t.Errorf("%d update events, want 1", n)
	}
	check := func(name string, lt domain.LocalizedText, text string, origin domain.TextOrigin) {
		t.Helper()
		if lt.Texts["en"] != text || lt.Origins["en"] != origin {
			t.Errorf("%s in en: %q (%s), want %q (%s)", name, lt.Texts["en"], lt.Origins["en"], text, origin)
		}
	}
	check("title", got.Title, "Data governance", domain.OriginReviewed)
	check("description", got.Description, "[en] Una consulta", domain.OriginMachine)
	check("question", got.Questions[0].Text, "", "")
	check("option", got.Questions[0].Options[0].Label, "[en] Público", domain.OriginMachine)

	// The same translation in a new event (a second publication): nothing
	// new, so no version and no event.
	if err := handle(ctx, translatedEvent(t, c.ID, c.Version, "en",
		&consultationv1.TranslatedText{Path: "description", SourceLanguage: "es", SourceText: "Una consulta", Text: "[en] Una consulta"},
	)); err != nil {
		t.Fatal(err)
	}
	// A language the consultation does not offer, and an unknown consultation.
	if err := handle(ctx, translatedEvent(t, c.ID, c.Version, "fr",
		&consultationv1.TranslatedText{Path: "description", SourceLanguage: "es", SourceText: "Una consulta", Text: "[fr] Une consultation"},
	)); err != nil {
		t.Fatal(err)
	}
	if err := handle(ctx, translatedEvent(t, "0193c1a0-0000-7000-8000-00000000dead", 1, "en")); err != nil {
		t.Fatal(err)
	}
	again, err := a.GetConsultation(ctx, secretariat, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != got.Version || countUpdates(t, pool)-updatesBefore != 1 {
		t.Errorf("version %d → %d, %d update events: events that change nothing changed something",
			got.Version, again.Version, countUpdates(t, pool)-updatesBefore)
	}
}

func TestUndecodableTranslationIsPermanent(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	a := app.New(store.New(pool), nil)
	env, err := events.New(events.ConsultationTranslated, events.Aggregate{Type: "consultation", ID: "x", Version: 1},
		&consultationv1.ConsultationOpenedEvent{}, time.Now()) // wrong payload
	if err != nil {
		t.Fatal(err)
	}
	err = postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return a.ApplyMachineTranslation(ctx, tx, env) })
	// consumer.Permanent's type is unexported; its message names it.
	if err == nil || !strings.HasPrefix(err.Error(), "permanent: ") {
		t.Fatalf("err = %v, want a permanent error", err)
	}
}
