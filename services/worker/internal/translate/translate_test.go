package translate_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/services/worker/internal/translate"
	"github.com/consulta-platform/consulta/services/worker/internal/translate/translatetest"
)

func TestTranslateBatchesAndReducesLanguages(t *testing.T) {
	srv := translatetest.NewServer(t, "secret", "es", "en", "pt")
	lt, err := translate.NewLibreTranslate(srv.URL+"/", "secret")
	if err != nil {
		t.Fatal(err)
	}
	lt.BatchSize = 2
	texts := []string{"Gobernanza de datos", "¿Cuáles son sus prioridades?", "Público"}
	got, err := lt.Translate(context.Background(), texts, "es-419", "pt-BR")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[pt] Gobernanza de datos", "[pt] ¿Cuáles son sus prioridades?", "[pt] Público"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || len(reqs[0].Q) != 2 || len(reqs[1].Q) != 1 {
		t.Fatalf("requests %+v, want batches of 2 and 1", reqs)
	}
	if r := reqs[0]; r.Source != "es" || r.Target != "pt" || r.Format != "text" || r.APIKey != "secret" {
		t.Errorf("request %+v", r)
	}
}

func TestTranslateSameBaseLanguageCallsNothing(t *testing.T) {
	srv := translatetest.NewServer(t, "")
	lt, err := translate.NewLibreTranslate(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := lt.Translate(context.Background(), []string{"Dados"}, "pt-BR", "pt-PT")
	if err != nil || !slices.Equal(got, []string{"Dados"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestTranslateErrors(t *testing.T) {
	srv := translatetest.NewServer(t, "secret", "es", "en")
	ctx := context.Background()

	lt, _ := translate.NewLibreTranslate(srv.URL, "wrong")
	_, err := lt.Translate(ctx, []string{"hola"}, "es", "en")
	var h *translate.HTTPError
	if !errors.As(err, &h) || h.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), "Invalid API key") {
		t.Errorf("bad key: %v", err)
	}
	if translate.IsPermanent(err) {
		t.Errorf("a rejected key is a configuration problem, retried once fixed: %v", err)
	}

	lt, _ = translate.NewLibreTranslate(srv.URL, "secret")
	_, err = lt.Translate(ctx, []string{"hola"}, "es", "nl")
	if !errors.As(err, &h) || h.StatusCode != http.StatusBadRequest || !translate.IsPermanent(err) ||
		!strings.Contains(err.Error(), "es→nl") || !strings.Contains(err.Error(), "nl is not supported") {
		t.Errorf("unsupported language: %v", err)
	}

	// An answer of the wrong shape.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"translatedText": ["one", "two"]}`))
	}))
	t.Cleanup(bad.Close)
	lt, _ = translate.NewLibreTranslate(bad.URL, "")
	if _, err = lt.Translate(ctx, []string{"hola"}, "es", "en"); err == nil || !strings.Contains(err.Error(), "2 translations for 1 texts") {
		t.Errorf("miscounted answer: %v", err)
	}

	// A server slower than the client's timeout.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	lt, _ = translate.NewLibreTranslate(slow.URL, "")
	lt.Client = &http.Client{Timeout: 50 * time.Millisecond}
	if _, err = lt.Translate(ctx, []string{"hola"}, "es", "en"); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("slow server: %v", err)
	}

	for _, u := range []string{"", "ftp://host", "localhost:5000", "http://"} {
		if _, err := translate.NewLibreTranslate(u, ""); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}

func TestBaseLanguage(t *testing.T) {
	for in, want := range map[string]string{"pt-BR": "pt", "es-419": "es", "EN": "en", "fr": "fr", "zh_Hant": "zh"} {
		if got := translate.BaseLanguage(in); got != want {
			t.Errorf("BaseLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}
