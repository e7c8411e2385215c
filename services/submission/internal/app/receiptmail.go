package app

import (
	"fmt"
	"strings"

	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// receiptEvent is what happened to a submission that a receipt mail
// reports.
type receiptEvent int

const (
	receiptReceived receiptEvent = iota
	receiptUpdated
	receiptWithdrawn
)

// receiptTexts are the words of a receipt mail in one language. The mail
// is plain text; the mailer adds its HTML alternative with
// mail.HTMLFromText, which escapes everything, so nothing here needs
// escaping for HTML.
type receiptTexts struct {
	subject                                   [3]string // by receiptEvent
	opening                                   [3]string // by receiptEvent
	receipt, submission, version, digest, key string
	verify, verifyPublic, verifyOwn, keepKey  string
	edit, notYou                              string
}

// receiptLanguages are the languages receipt mail is written in; any other
// submission language gets English.
var receiptLanguages = map[string]receiptTexts{
	"en": {
		subject: [3]string{"Your receipt: submission received", "Your new receipt: submission changed", "Your new receipt: submission withdrawn"},
		opening: [3]string{"Your submission to the consultation was received. This is its receipt.",
			"Your submission to the consultation was changed. This is the receipt of the new version.",
			"Your submission to the consultation was withdrawn. This is the receipt of the withdrawal."},
		receipt: "Receipt", submission: "Submission", version: "version", digest: "Content digest", key: "Receipt key",
		verify:       "How to verify it:",
		verifyPublic: "- Anyone can check that the receipt stands in the consultation's public chain:",
		verifyOwn: "- You can check that it stands for exactly what you sent: keep the response of your request " +
			"(it holds your submission as accepted and this receipt key) and run",
		keepKey: "Keep the receipt key as you keep your answers: with it, anyone can test guesses of your answers against the public receipt.",
		edit: "To change or withdraw your submission while the consultation is open, use the edit secret you were given " +
			"when you submitted, or sign in with the account you submitted with. This mail does not hold the edit secret, " +
			"so a forwarded copy cannot change your submission.",
		notYou: "If you did not make this submission, you may ignore this message, or ask the secretariat to erase your address.",
	},
	"es": {
		subject: [3]string{"Su recibo: contribución recibida", "Su nuevo recibo: contribución modificada", "Su nuevo recibo: contribución retirada"},
		opening: [3]string{"Hemos recibido su contribución a la consulta. Este es su recibo.",
			"Su contribución a la consulta fue modificada. Este es el recibo de la nueva versión.",
			"Su contribución a la consulta fue retirada. Este es el recibo de la retirada."},
		receipt: "Recibo", submission: "Contribución", version: "versión", digest: "Resumen del contenido", key: "Clave del recibo",
		verify:       "Cómo verificarlo:",
		verifyPublic: "- Cualquiera puede comprobar que el recibo figura en la cadena pública de la consulta:",
		verifyOwn: "- Usted puede comprobar que corresponde exactamente a lo que envió: conserve la respuesta de su solicitud " +
			"(contiene su contribución tal como fue aceptada y esta clave del recibo) y ejecute",
		keepKey: "Guarde la clave del recibo como guarda sus respuestas: con ella, cualquiera puede poner a prueba suposiciones sobre sus respuestas frente al recibo público.",
		edit: "Para modificar o retirar su contribución mientras la consulta esté abierta, use el secreto de edición que recibió " +
			"al enviarla, o inicie sesión con la cuenta con la que la envió. Este correo no contiene el secreto de edición, " +
			"así que una copia reenviada no permite modificar su contribución.",
		notYou: "Si usted no hizo esta contribución, puede ignorar este mensaje o pedir a la secretaría que borre su dirección.",
	},
	"pt": {
		subject: [3]string{"O seu recibo: contribuição recebida", "O seu novo recibo: contribuição alterada", "O seu novo recibo: contribuição retirada"},
		opening: [3]string{"Recebemos a sua contribuição para a consulta. Este é o seu recibo.",
			"A sua contribuição para a consulta foi alterada. Este é o recibo da nova versão.",
			"A sua contribuição para a consulta foi retirada. Este é o recibo da retirada."},
		receipt: "Recibo", submission: "Contribuição", version: "versão", digest: "Resumo do conteúdo", key: "Chave do recibo",
		verify:       "Como verificá-lo:",
		verifyPublic: "- Qualquer pessoa pode verificar que o recibo consta da cadeia pública da consulta:",
		verifyOwn: "- Você pode verificar que ele corresponde exatamente ao que enviou: guarde a resposta do seu pedido " +
			"(contém a sua contribuição tal como foi aceite e esta chave do recibo) e execute",
		keepKey: "Guarde a chave do recibo como guarda as suas respostas: com ela, qualquer pessoa pode testar suposições sobre as suas respostas contra o recibo público.",
		edit: "Para alterar ou retirar a sua contribuição enquanto a consulta estiver aberta, use o segredo de edição que recebeu " +
			"ao enviá-la, ou entre com a conta com que a enviou. Este e-mail não contém o segredo de edição, " +
			"por isso uma cópia reencaminhada não permite alterar a sua contribuição.",
		notYou: "Se não fez esta contribuição, pode ignorar esta mensagem ou pedir ao secretariado que apague o seu endereço.",
	},
	"fr": {
		subject: [3]string{"Votre reçu : contribution reçue", "Votre nouveau reçu : contribution modifiée", "Votre nouveau reçu : contribution retirée"},
		opening: [3]string{"Nous avons reçu votre contribution à la consultation. Voici son reçu.",
			"Votre contribution à la consultation a été modifiée. Voici le reçu de la nouvelle version.",
			"Votre contribution à la consultation a été retirée. Voici le reçu du retrait."},
		receipt: "Reçu", submission: "Contribution", version: "version", digest: "Empreinte du contenu", key: "Clé du reçu",
		verify:       "Comment le vérifier :",
		verifyPublic: "- Chacun peut vérifier que le reçu figure dans la chaîne publique de la consultation :",
		verifyOwn: "- Vous pouvez vérifier qu'il correspond exactement à ce que vous avez envoyé : gardez la réponse à votre requête " +
			"(elle contient votre contribution telle qu'acceptée et cette clé du reçu) et lancez",
		keepKey: "Gardez la clé du reçu comme vos réponses : avec elle, n'importe qui peut tester des suppositions sur vos réponses face au reçu public.",
		edit: "Pour modifier ou retirer votre contribution tant que la consultation est ouverte, utilisez le secret de modification reçu " +
			"lors de l'envoi, ou connectez-vous avec le compte utilisé pour l'envoyer. Ce courriel ne contient pas le secret de modification : " +
			"une copie transférée ne permet donc pas de modifier votre contribution.",
		notYou: "Si vous n'avez pas fait cette contribution, ignorez ce message ou demandez au secrétariat d'effacer votre adresse.",
	},
}

// receiptTextsFor returns the texts for a submission language tag ("es",
// "pt-BR", "FR"): its primary subtag when it is one of receiptLanguages,
// else English.
func receiptTextsFor(lang string) receiptTexts {
	primary, _, _ := strings.Cut(strings.ReplaceAll(lang, "_", "-"), "-")
	if t, ok := receiptLanguages[strings.ToLower(primary)]; ok {
		return t
	}
	return receiptLanguages["en"]
}

// receiptMail returns the store's callback that makes the mail carrying
// the receipt of sub's current version to its contact address, or nil
// when the submitter gave none. The receipt key is in it: it is the
// submitter's own (it lets them check the receipt against what they sent)
// and goes only to the address they gave; the edit secret is not (see
// docs/receipts.md, "The receipt by mail").
func (a *App) receiptMail(ev receiptEvent) func(domain.Submission) *store.Mail {
	return func(sub domain.Submission) *store.Mail {
		if sub.Respondent.ContactEmail == "" || sub.Receipt == nil {
			return nil
		}
		t := receiptTextsFor(sub.Language)
		r := sub.Receipt
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n\n", t.opening[ev])
		fmt.Fprintf(&b, "%s: %s\n%s: %s, %s %d\n%s: %s\n", t.receipt, r.ID, t.submission, sub.ID, t.version, r.Version,
			t.digest, domain.Hex(r.ContentDigest))
		if len(sub.ReceiptKey) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", t.key, domain.Hex(sub.ReceiptKey))
		}
		fmt.Fprintf(&b, "\n%s\n\n%s\n%s/v1/receipts/%s\n\n%s\n    consulta audit receipt --file response.json\n\n",
			t.verify, t.verifyPublic, strings.TrimRight(a.cfg.PublicURL, "/"), r.ID, t.verifyOwn)
		fmt.Fprintf(&b, "%s\n\n%s\n\n%s\n", t.keepKey, t.edit, t.notYou)
		return &store.Mail{To: sub.Respondent.ContactEmail, Subject: t.subject[ev], Body: b.String()}
	}
}
