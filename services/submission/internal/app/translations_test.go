package app

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// service is another process of the platform (the worker).
var service = auth.Principal{Role: auth.RoleService, Subject: "service"}

func machine(q, lang, text string) store.NewTranslation {
	return store.NewTranslation{Translation: domain.Translation{QuestionID: q, Language: lang, Text: text, Provider: "test-engine"}}
}

func (e *rightsEnv) countTranslations(id string, version int64) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM submission.translations
		WHERE submission_id = $1 AND version = $2`, id, version).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestTranslationsAreRecordedOncePerVersion: the texts of a version go to
// the service identity only, with every other language of the consultation
// as a target; a repeated record writes nothing; reads show the current
// version's translations, labelled; an edit leaves the old version's
// translations with it; a withdrawn submission has nothing to translate.
func TestTranslationsAreRecordedOncePerVersion(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	c.Languages, c.Version = []string{"es", "en", "fr"}, 2
	e.apply(c)
	s := e.submit(c, testRespondent{stakeholder: "civil_society", org: "Org", email: "org@example.org", publication: domain.PublicNamed},
		ansText("vision", "Datos abiertos para todos"), ansChoice("temas", "datos"))
	id := s.Submission.ID

	if _, err := e.app.TextsForTranslation(ctx, anyone, id, 1); codeOf(err) != codes.PermissionDenied {
		t.Fatalf("a public caller read the texts for translation: %v", err)
	}
	w, err := e.app.TextsForTranslation(ctx, service, id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if w.Skip != "" || w.SourceLanguage != "es" || !slices.Equal(w.Targets, []string{"en", "fr"}) || len(w.Texts) != 1 ||
		w.Texts[0].QuestionID != "vision" || w.Texts[0].Text != "Datos abiertos para todos" || len(w.Texts[0].Done) != 0 {
		t.Fatalf("work = %+v", w)
	}
	ts := []store.NewTranslation{machine("vision", "en", "Open data for all"), machine("vision", "fr", "Données ouvertes pour tous")}
	for i, want := range []int{2, 0, 0} {
		n, err := e.app.RecordTranslations(ctx, service, id, 1, slices.Clone(ts))
		if err != nil || n != want {
			t.Fatalf("record #%d: %d new, %v; want %d", i+1, n, err, want)
		}
	}
	if n := e.countTranslations(id, 1); n != 2 {
		t.Errorf("%d rows for version 1, want 2", n)
	}
	if w, err = e.app.TextsForTranslation(ctx, service, id, 1); err != nil || !slices.Equal(w.Texts[0].Done, []string{"en", "fr"}) {
		t.Errorf("after recording: %+v, %v", w, err)
	}
	got, err := e.app.Get(ctx, anyone, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Translations) != 2 || got.Translations[0].Language != "en" || got.Translations[0].Text != "Open data for all" ||
		got.Translations[0].Kind != domain.TranslationMachine || got.Translations[0].Provider != "test-engine" ||
		got.Translations[0].TranslatedAt.IsZero() {
		t.Errorf("public read translations = %+v", got.Translations)
	}

	// An edit: the old translations stay with version 1, reads show
	// version 2's (none yet), and version 1 is not translated any more.
	if _, err := e.app.Update(ctx, anyone, id, 1, s.EditSecret, Changes{
		Respondent: s.Submission.Respondent, Language: "es", Answers: []domain.Answer{ansText("vision", "Datos cerrados")},
		Publication: domain.PublicNamed}); err != nil {
		t.Fatal(err)
	}
	if w, err = e.app.TextsForTranslation(ctx, service, id, 1); err != nil || w.Skip != SkipSuperseded {
		t.Errorf("version 1 after an edit: %+v, %v", w, err)
	}
	if got, _ = e.app.Get(ctx, anyone, id, ""); len(got.Translations) != 0 {
		t.Errorf("reads show the old version's translations: %+v", got.Translations)
	}
	if n, err := e.app.RecordTranslations(ctx, service, id, 2, []store.NewTranslation{machine("vision", "en", "Closed data")}); err != nil || n != 1 {
		t.Fatalf("record v2: %d, %v", n, err)
	}
	if got, _ = e.app.Get(ctx, anyone, id, ""); len(got.Translations) != 1 || got.Translations[0].Text != "Closed data" {
		t.Errorf("v2 translations = %+v", got.Translations)
	}
	if n := e.countTranslations(id, 1); n != 2 {
		t.Errorf("%d rows for version 1 after the edit, want 2", n)
	}
	subs, _, err := e.app.List(ctx, anyone, store.SubmissionFilter{ConsultationID: c.ID}, 10, "")
	if err != nil || len(subs) != 1 || len(subs[0].Translations) != 1 || subs[0].Translations[0].Text != "Closed data" {
		t.Errorf("listing = %+v, %v", subs, err)
	}

	if _, err := e.app.Withdraw(ctx, anyone, id, s.EditSecret); err != nil {
		t.Fatal(err)
	}
	if w, err = e.app.TextsForTranslation(ctx, service, id, 2); err != nil || w.Skip != SkipInactive {
		t.Errorf("withdrawn: %+v, %v", w, err)
	}
}

// TestConfidentialTranslationsStayHidden: a confidential submission's
// translations are seen by whoever sees its texts, and by nobody else.
func TestConfidentialTranslationsStayHidden(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	s := e.submit(c, testRespondent{stakeholder: "academia", org: "Lab", email: "lab@example.org", publication: domain.Confidential},
		ansText("vision", "Secreto"))
	if _, err := e.app.RecordTranslations(ctx, service, s.Submission.ID, 1, []store.NewTranslation{machine("vision", "en", "Secret")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Get(ctx, anyone, s.Submission.ID, ""); codeOf(err) != codes.NotFound {
		t.Errorf("public read of a confidential submission: %v", err)
	}
	subs, _, err := e.app.List(ctx, anyone, store.SubmissionFilter{ConsultationID: c.ID}, 10, "")
	if err != nil || len(subs) != 0 {
		t.Errorf("public listing = %+v, %v", subs, err)
	}
	got, err := e.app.Get(ctx, secretariat, s.Submission.ID, "")
	if err != nil || len(got.Translations) != 1 || got.Translations[0].Text != "Secret" {
		t.Errorf("secretariat read = %+v, %v", got.Translations, err)
	}
}

// TestRecordTranslationsRefusesBadInput: a translation of no text answer,
// into the text's own language or into a language the consultation does
// not have, is refused with the field named, and nothing is written; so is
// every caller but the service.
func TestRecordTranslationsRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	s := e.submit(c, testRespondent{stakeholder: "academia", org: "Lab", email: "lab@example.org", publication: domain.PublicNamed},
		ansText("vision", "Texto"), ansChoice("temas", "datos"))
	id := s.Submission.ID
	for _, tc := range []struct {
		ts    []store.NewTranslation
		field string
	}{
		{[]store.NewTranslation{machine("vision", "en", "ok"), machine("temas", "en", "x")}, "translations[1].question_id"},
		{[]store.NewTranslation{machine("vision", "es", "x")}, "translations[0].language"},
		{[]store.NewTranslation{machine("vision", "de", "x")}, "translations[0].language"},
	} {
		_, err := e.app.RecordTranslations(ctx, service, id, 1, tc.ts)
		if codeOf(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want InvalidArgument naming %s", tc.ts, err, tc.field)
		}
	}
	if _, err := e.app.RecordTranslations(ctx, service, id, 7, []store.NewTranslation{machine("vision", "en", "x")}); codeOf(err) != codes.NotFound {
		t.Errorf("unknown version: %v", err)
	}
	if _, err := e.app.RecordTranslations(ctx, anyone, id, 1, []store.NewTranslation{machine("vision", "en", "x")}); codeOf(err) != codes.PermissionDenied {
		t.Errorf("public caller: %v", err)
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM submission.translations) + (SELECT count(*) FROM submission.translation_memory)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows written by refused calls (%v)", n, err)
	}
}

// TestTranslationMemory: a text the same as one translated before, once
// normalised (white space, Unicode NFC), comes with the memory's
// translation; the lookups are counted per language pair.
func TestTranslationMemory(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	metrics, err := NewMemoryMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	e.app.cfg.MemoryMetrics = metrics
	c := e.consultation(false)
	resp := testRespondent{stakeholder: "academia", org: "Lab", email: "lab@example.org", publication: domain.PublicNamed}
	a := e.submit(c, resp, ansText("vision", "Política  de\tdatos"))
	b := e.submit(c, resp, ansText("vision", " Poli\u0301tica de datos\n"))

	w, err := e.app.TextsForTranslation(ctx, service, a.Submission.ID, 1)
	if err != nil || len(w.Texts) != 1 || len(w.Texts[0].Memory) != 0 {
		t.Fatalf("first text: %+v, %v", w, err)
	}
	if _, err := e.app.RecordTranslations(ctx, service, a.Submission.ID, 1, []store.NewTranslation{machine("vision", "en", "Data policy")}); err != nil {
		t.Fatal(err)
	}
	w, err = e.app.TextsForTranslation(ctx, service, b.Submission.ID, 1)
	if err != nil || len(w.Texts) != 1 || w.Texts[0].Memory["en"] != (domain.MemoryEntry{Text: "Data policy", Provider: "test-engine"}) {
		t.Fatalf("second text: %+v, %v", w, err)
	}
	if hits, misses := testutil.ToFloat64(metrics.Hits.WithLabelValues("es", "en")),
		testutil.ToFloat64(metrics.Misses.WithLabelValues("es", "en")); hits != 1 || misses != 1 {
		t.Errorf("memory hits %v, misses %v; want 1 and 1", hits, misses)
	}
	// Recorded from the memory, the translation does not write the memory
	// again; the memory holds one entry for the pair.
	rec := machine("vision", "en", "Data policy")
	rec.FromMemory = true
	if n, err := e.app.RecordTranslations(ctx, service, b.Submission.ID, 1, []store.NewTranslation{rec}); err != nil || n != 1 {
		t.Fatalf("record from memory: %d, %v", n, err)
	}
	var entries int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.translation_memory`).Scan(&entries); err != nil || entries != 1 {
		t.Errorf("%d memory entries, want 1 (%v)", entries, err)
	}
}

func TestNormaliseText(t *testing.T) {
	for _, tc := range [][2]string{
		{"  a \t b\n", "a b"},
		{"Poli\u0301tica", "Política"},
		{"a\u00a0b", "a b"},
	} {
		if got := domain.NormaliseText(tc[0]); got != tc[1] {
			t.Errorf("NormaliseText(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
}
