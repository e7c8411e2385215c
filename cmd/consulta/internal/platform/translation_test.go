package platform_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/services/worker"
)

// libreTranslate is a LibreTranslate-compatible server that "translates" by
// prefixing the target language: "Datos" into en is "[en] Datos".
func libreTranslate(t *testing.T, apiKey string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Q      []string `json:"q"`
			Source string   `json:"source"`
			Target string   `json:"target"`
			Format string   `json:"format"`
			APIKey string   `json:"api_key"`
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/translate":
			w.WriteHeader(http.StatusNotFound)
			return
		case json.NewDecoder(r.Body).Decode(&req) != nil || req.Format != "text" || req.Source == "" || req.Target == "":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error": "Invalid request"}`))
			return
		case req.APIKey != apiKey:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error": "Invalid API key"}`))
			return
		}
		calls.Add(1)
		out := make([]string, len(req.Q))
		for i, q := range req.Q {
			out[i] = "[" + req.Target + "] " + q
		}
		json.NewEncoder(w).Encode(map[string]any{"translatedText": out})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestConsultationTranslatedOnPublish opens a consultation written in
// Spanish and offered in English: the worker has every text machine
// translated, the consultation service stores them as MACHINE, and a
// co-lead's review of the title makes it REVIEWED.
func TestConsultationTranslatedOnPublish(t *testing.T) {
	t.Parallel()
	translator, calls := libreTranslate(t, "test-key")
	h := startPlatformWith(t, func(c *platformConfig) {
		c.Translator = worker.TranslatorConfig{LibreTranslateURL: translator.URL, LibreTranslateKey: "test-key"}
	})
	h.assignCoLeads("data_governance", "BR", "ES")
	api := consultationv1.NewConsultationServiceClient(h.grpcConn)
	ctx := h.grpcCtx(h.token(auth.RoleColead, "ES", "colead-es"))

	now := time.Now().UTC()
	d, err := api.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{
		ThematicArea: "data_governance", Title: "Diálogo sobre datos", StartsAt: timestamppb.New(now.Add(30 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	es := func(s string) *consultationv1.LocalizedText {
		return &consultationv1.LocalizedText{SourceLanguage: "es", Texts: map[string]string{"es": s}}
	}
	created, err := api.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
		DialogueId:  d.GetDialogue().GetId(),
		Title:       es("Gobernanza de datos"),
		Description: es("Consulta previa al diálogo"),
		Languages:   []string{"es", "en"},
		Questions: []*consultationv1.Question{{
			Id: "sector", Text: es("Sector"),
			Kind: &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{
				Options: []*consultationv1.Option{{Id: "public", Label: es("Público")}, {Id: "private", Label: es("Privado")}},
			}},
		}},
		BackgroundDocuments: []*consultationv1.Document{{Title: es("Nota conceptual"), Url: "https://example.org/nota.pdf"}},
		ClosesAt:            timestamppb.New(now.Add(14 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetConsultation()
	if _, err := api.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: c.GetId(), Version: c.GetVersion()}); err != nil {
		t.Fatal(err)
	}

	machine := consultationv1.TextOrigin_TEXT_ORIGIN_MACHINE
	eventually(t, 20*time.Second, "English texts machine-translated", func() error {
		got, err := api.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: c.GetId()})
		if err != nil {
			return err
		}
		c = got.GetConsultation()
		q := c.GetQuestions()[0]
		for name, lt := range map[string]*consultationv1.LocalizedText{
			"title":          c.GetTitle(),
			"description":    c.GetDescription(),
			"question":       q.GetText(),
			"option public":  q.GetChoiceQuestion().GetOptions()[0].GetLabel(),
			"option private": q.GetChoiceQuestion().GetOptions()[1].GetLabel(),
			"document":       c.GetBackgroundDocuments()[0].GetTitle(),
		} {
			if want := "[en] " + lt.GetTexts()["es"]; lt.GetTexts()["en"] != want || lt.GetOrigins()["en"] != machine {
				return fmt.Errorf("%s in en: %q (%s), want %q (%s)", name, lt.GetTexts()["en"], lt.GetOrigins()["en"], want, machine)
			}
		}
		return nil
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls to the translator, want 1 (one language, one source language)", n)
	}
	assertEventInStream(t, h, events.ConsultationTranslated, c.GetId())

	reviewed, err := api.ReviewTranslation(ctx, &consultationv1.ReviewTranslationRequest{
		Id: c.GetId(), Version: c.GetVersion(), TextPath: "title", Language: "en", Text: "Data governance",
	})
	if err != nil {
		t.Fatal(err)
	}
	title := reviewed.GetConsultation().GetTitle()
	if title.GetTexts()["en"] != "Data governance" || title.GetOrigins()["en"] != consultationv1.TextOrigin_TEXT_ORIGIN_REVIEWED {
		t.Errorf("title after review: %v", title)
	}
	if desc := reviewed.GetConsultation().GetDescription(); desc.GetOrigins()["en"] != machine {
		t.Errorf("description after reviewing the title: %v", desc)
	}
}
