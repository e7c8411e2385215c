package platform_test

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/devmail"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// caughtMail is one message the dev catcher stored.
type caughtMail struct {
	to, subject, text, html string
}

// caughtMails waits until the catcher in dir holds n messages and returns
// them in the order they arrived.
func caughtMails(t *testing.T, dir string, n int) []caughtMail {
	t.Helper()
	var names []string
	eventually(t, 15*time.Second, fmt.Sprintf("%d mails are caught", n), func() error {
		des, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		names = names[:0]
		for _, de := range des {
			if strings.HasSuffix(de.Name(), ".eml") {
				names = append(names, de.Name())
			}
		}
		if len(names) != n {
			return fmt.Errorf("%d mails", len(names))
		}
		return nil
	})
	sort.Strings(names)
	var out []caughtMail
	for _, name := range names {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := netmail.ReadMessage(f)
		if err != nil {
			f.Close()
			t.Fatal(err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		m := caughtMail{to: msg.Header.Get("To"), subject: subject}
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			switch pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt {
			case "text/plain":
				m.text = string(b)
			case "text/html":
				m.html = string(b)
			}
		}
		f.Close()
		out = append(out, m)
	}
	return out
}

// TestReceiptMailIsDelivered: a submitter who gives an address gets the
// receipt by mail, in the submission's language (Spanish here), with the
// receipt id, the content digest, the receipt key and the public receipt
// URL, but not the edit secret; an edit brings a second mail with the new
// receipt; a submission without an address brings none.
func TestReceiptMailIsDelivered(t *testing.T) {
	t.Parallel()
	catcher, err := devmail.Start(devmail.Options{Dir: filepath.Join(t.TempDir(), "mail"), SMTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { catcher.Close() })
	h := startPlatformWith(t, func(c *platformConfig) {
		c.PublicURL = "https://consulta.example.org"
		c.Mail.SMTPURL = catcher.SMTPURL()
		c.Mail.From = "Consulta <noreply@example.org>"
	})
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	ctx := context.Background()
	// No address: no mail.
	if _, err := ss.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Language: "es", Answers: answer("Sin correo."),
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY"},
	}); err != nil {
		t.Fatal(err)
	}
	created, err := ss.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Language: "es", Answers: answer("Quiero mi recibo."),
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY", ContactEmail: "rosa.recibo@example.org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	first := caughtMails(t, catcher.Dir(), 1)[0]
	r := created.GetSubmission().GetReceipt()
	if r.GetReceiptId() == "" || r.GetContentDigest() == "" || created.GetReceiptKey() == "" {
		t.Fatalf("no receipt in the response: %v", created)
	}
	if first.to != "<rosa.recibo@example.org>" || first.subject != "Su recibo: contribución recibida" {
		t.Errorf("To %q, Subject %q", first.to, first.subject)
	}
	for _, want := range []string{"Hemos recibido su contribución", "Recibo: " + r.GetReceiptId(),
		"Resumen del contenido: " + r.GetContentDigest(), "Clave del recibo: " + created.GetReceiptKey(),
		"https://consulta.example.org/v1/receipts/" + r.GetReceiptId(), "consulta audit receipt"} {
		if !strings.Contains(first.text, want) {
			t.Errorf("the text lacks %q:\n%s", want, first.text)
		}
	}
	if strings.Contains(first.text, created.GetEditSecret()) || strings.Contains(first.html, created.GetEditSecret()) {
		t.Error("the mail holds the edit secret")
	}
	if !strings.Contains(first.html, r.GetContentDigest()) ||
		!strings.Contains(first.html, `<a href="https://consulta.example.org/v1/receipts/`+r.GetReceiptId()) {
		t.Errorf("the HTML part lacks the digest or the receipt link:\n%s", first.html)
	}

	updated, err := ss.UpdateSubmission(ctx, &submissionv1.UpdateSubmissionRequest{
		Id: created.GetSubmission().GetId(), Version: 1, EditSecret: created.GetEditSecret(), Language: "es",
		Answers:    answer("Cambié de opinión."),
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY", ContactEmail: "rosa.recibo@example.org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	mails := caughtMails(t, catcher.Dir(), 2)
	second := mails[0]
	if second.subject == first.subject {
		second = mails[1]
	}
	nr := updated.GetSubmission().GetReceipt()
	if second.subject != "Su nuevo recibo: contribución modificada" || !strings.Contains(second.text, "Recibo: "+nr.GetReceiptId()) ||
		!strings.Contains(second.text, nr.GetContentDigest()) || nr.GetReceiptId() == r.GetReceiptId() {
		t.Errorf("the edit's mail: %q\n%s", second.subject, second.text)
	}
	eventually(t, 10*time.Second, "the queue is empty", func() error {
		if n := countRows(t, h.pool, "submission.mail_outbox"); n != 0 {
			return fmt.Errorf("%d queued", n)
		}
		return nil
	})
}

// TestErasureDeletesQueuedReceiptMail: with no mail server the receipt
// mail stays queued (it holds the address and the receipt key); erasing
// the address deletes it with the rest.
func TestErasureDeletesQueuedReceiptMail(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	for _, email := range []string{"ana.borrar@example.org", "otro@example.org"} {
		if _, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "pt", Answers: answer("Recibo na fila."),
			Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY", ContactEmail: email},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, h.pool, "submission.mail_outbox"); n != 2 {
		t.Fatalf("%d receipt mails queued, want 2", n)
	}
	sec := h.grpcCtx(h.token(auth.RoleSecretariat, "", "dpo"))
	if _, err := ss.ErasePersonalData(sec, &submissionv1.ErasePersonalDataRequest{Email: "Ana.Borrar@Example.org", Reason: "request DP-9"}); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, err := h.pool.Query(context.Background(), `SELECT to_address FROM submission.mail_outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		left = append(left, a)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if len(left) != 1 || left[0] != "otro@example.org" {
		t.Errorf("queued after the erasure: %v, want only the other address's mail", left)
	}
}
