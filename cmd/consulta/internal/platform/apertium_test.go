package platform_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/services/worker"
)

// TestConsultationTranslatedByApertium opens a consultation written in
// Spanish and offered in English and Portuguese, with the platform's
// default provider, the real Apertium engine: every text arrives in both
// languages as a machine translation.
func TestConsultationTranslatedByApertium(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("apertium"); err != nil {
		msg := "apertium not installed; install it with `" + worker.ApertiumInstall + "` (Debian/Ubuntu)"
		if os.Getenv("CONSULTA_REQUIRE_APERTIUM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	h := startPlatformWith(t, func(c *platformConfig) { c.Translator = worker.TranslatorConfig{Provider: "apertium"} })
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
		Title:       es("Los datos abiertos"),
		Description: es("La casa es grande."),
		Languages:   []string{"es", "en", "pt"},
		Questions: []*consultationv1.Question{{
			Id: "sector", Text: es("Sector"),
			Kind: &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{
				Options: []*consultationv1.Option{{Id: "public", Label: es("Público")}, {Id: "private", Label: es("Privado")}},
			}},
		}},
		ClosesAt: timestamppb.New(now.Add(14 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetConsultation()
	if _, err := api.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: c.GetId(), Version: c.GetVersion()}); err != nil {
		t.Fatal(err)
	}
	machine := consultationv1.TextOrigin_TEXT_ORIGIN_MACHINE
	want := map[string]map[string]string{ // text → language → a word of its translation
		"title":       {"en": "data", "pt": "dados"},
		"description": {"en": "house", "pt": "casa"},
	}
	eventually(t, 60*time.Second, "texts translated by Apertium", func() error {
		got, err := api.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: c.GetId()})
		if err != nil {
			return err
		}
		texts := map[string]*consultationv1.LocalizedText{"title": got.GetConsultation().GetTitle(), "description": got.GetConsultation().GetDescription()}
		for name, langs := range want {
			lt := texts[name]
			for lang, word := range langs {
				tr := lt.GetTexts()[lang]
				if tr == "" || tr == lt.GetTexts()["es"] || !strings.Contains(strings.ToLower(tr), word) || lt.GetOrigins()[lang] != machine {
					return fmt.Errorf("%s in %s: %q (%s), want a machine translation with %q", name, lang, tr, lt.GetOrigins()[lang], word)
				}
			}
		}
		return nil
	})
}
