package app

import (
	"strings"
	"testing"

	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// TestReceiptMailLanguage: the mail is in the submission's language when
// its primary subtag is en, es, pt or fr, whatever the case or region
// subtag, and in English otherwise.
func TestReceiptMailLanguage(t *testing.T) {
	for lang, want := range map[string]string{
		"es": "es", "es-419": "es", "pt-BR": "pt", "pt_PT": "pt", "FR": "fr", "fr-CA": "fr",
		"en": "en", "nl": "en", "de-AT": "en", "": "en",
	} {
		if got, exp := receiptTextsFor(lang).subject[0], receiptLanguages[want].subject[0]; got != exp {
			t.Errorf("%q: subject %q, want the %s one %q", lang, got, want, exp)
		}
	}
	for lang, texts := range receiptLanguages {
		for _, s := range append(texts.subject[:], texts.opening[:]...) {
			if s == "" || strings.ContainsAny(s, "\r\n") {
				t.Errorf("%s: empty or multi-line subject/opening %q", lang, s)
			}
		}
	}
}

// TestReceiptMailContent: the mail carries the receipt id, version,
// digest, key and public URL; no address, no receipt means no mail; the
// submitter's answers are not in it.
func TestReceiptMailContent(t *testing.T) {
	a := &App{cfg: Config{PublicURL: "https://consulta.example.org/"}}
	sub := domain.Submission{ID: "s1", Language: "fr",
		Respondent: domain.Respondent{ContactEmail: "lea@example.org"},
		Answers:    []domain.Answer{{QuestionID: "q1", Kind: domain.AnswerText, Text: "Mon avis secret"}},
		Receipt:    &domain.Receipt{ID: "r1", Version: 2, ContentDigest: []byte{0xab, 0xcd}},
		ReceiptKey: []byte{0x01, 0x02},
	}
	m := a.receiptMail(receiptWithdrawn)(sub)
	if m == nil || m.To != "lea@example.org" || m.Subject != "Votre nouveau reçu : contribution retirée" {
		t.Fatalf("mail %+v", m)
	}
	for _, want := range []string{"Reçu : r1", "Contribution : s1, version 2", "Empreinte du contenu : abcd", "Clé du reçu : 0102",
		"https://consulta.example.org/v1/receipts/r1\n"} {
		if !strings.Contains(m.Body, strings.ReplaceAll(want, " : ", ": ")) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
	if strings.Contains(m.Body, "Mon avis secret") {
		t.Error("the answers are in the mail")
	}
	noAddress := sub
	noAddress.Respondent.ContactEmail = ""
	noReceipt := sub
	noReceipt.Receipt = nil
	for name, s := range map[string]domain.Submission{"no address": noAddress, "no receipt": noReceipt} {
		if m := a.receiptMail(receiptReceived)(s); m != nil {
			t.Errorf("%s: mail %+v", name, m)
		}
	}
}
