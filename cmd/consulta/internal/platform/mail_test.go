package platform_test

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/devmail"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// TestConfirmationMailIsDelivered: the confirmation mail of a submission
// reaches an SMTP server (the catcher of consulta dev) with Date, a
// Message-ID at the public host, From, To and Subject, no List-Unsubscribe
// (it is transactional), its text and an HTML alternative; the link in it
// confirms the submission; the receipt mail follows the confirmation; and
// the queue is empty afterwards.
func TestConfirmationMailIsDelivered(t *testing.T) {
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
	id := openConsultationWith(t, h, func(r *consultationv1.CreateConsultationRequest) { r.RequireEmailConfirmation = true })
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	created, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Language: "es", Answers: answer("Confirmo por correo."),
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY", ContactEmail: "rosa.mail@example.org"},
	})
	if err != nil {
		t.Fatal(err)
	}

	var file string
	eventually(t, 15*time.Second, "the confirmation mail is caught", func() error {
		des, err := os.ReadDir(catcher.Dir())
		if err != nil {
			return err
		}
		if len(des) != 1 || !strings.HasSuffix(des[0].Name(), ".eml") {
			return fmt.Errorf("%d files", len(des))
		}
		file = filepath.Join(catcher.Dir(), des[0].Name())
		return nil
	})
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := netmail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	hd := msg.Header
	if d, err := hd.Date(); err != nil || time.Since(d) > time.Minute || time.Until(d) > time.Minute {
		t.Errorf("Date %q", hd.Get("Date"))
	}
	if mid := hd.Get("Message-ID"); !strings.HasPrefix(mid, "<") || !strings.HasSuffix(mid, "@consulta.example.org>") {
		t.Errorf("Message-ID %q, want one at the public host", mid)
	}
	for k, want := range map[string]string{"From": `"Consulta" <noreply@example.org>`, "To": "<rosa.mail@example.org>",
		"Subject": "Confirm your submission to the consultation", "List-Unsubscribe": ""} {
		if got := hd.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	mt, params, err := mime.ParseMediaType(hd.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", hd.Get("Content-Type"))
	}
	parts := map[string]string{}
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
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[pt] = string(b)
	}
	text := parts["text/plain"]
	_, rest, ok := strings.Cut(text, "https://consulta.example.org/confirm?token=")
	if !ok || !strings.Contains(text, "Thank you for your submission.") {
		t.Fatalf("text part without the link:\n%s", text)
	}
	escaped, _, _ := strings.Cut(strings.TrimSpace(rest), "\r\n")
	token, err := url.QueryUnescape(escaped)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(parts["text/html"], `<a href="https://consulta.example.org/confirm?token=`) {
		t.Errorf("HTML part without the link:\n%s", parts["text/html"])
	}
	confirmed, err := ss.ConfirmSubmission(context.Background(), &submissionv1.ConfirmSubmissionRequest{Token: token})
	if err != nil {
		t.Fatalf("the mailed link's token: %v", err)
	}
	if confirmed.GetSubmission().GetId() != created.GetSubmission().GetId() ||
		confirmed.GetSubmission().GetStatus() == submissionv1.SubmissionStatus_SUBMISSION_STATUS_PENDING_CONFIRMATION {
		t.Errorf("confirmed: %v, %v", confirmed.GetSubmission().GetId(), confirmed.GetSubmission().GetStatus())
	}
	// Once the address is confirmed, the receipt follows (in the
	// submission's language), and then the queue is empty.
	mails := caughtMails(t, catcher.Dir(), 2)
	receipt := mails[1]
	if receipt.subject == mails[0].subject || strings.Contains(receipt.subject, "Confirm") {
		receipt = mails[0]
	}
	if r := confirmed.GetSubmission().GetReceipt(); receipt.subject != "Su recibo: contribución recibida" ||
		r.GetReceiptId() == "" || !strings.Contains(receipt.text, r.GetReceiptId()) {
		t.Errorf("the receipt mail after confirmation: %q\n%s", receipt.subject, receipt.text)
	}
	eventually(t, 10*time.Second, "the queue is empty after delivery", func() error {
		if n := countRows(t, h.pool, "submission.mail_outbox"); n != 0 {
			return fmt.Errorf("%d messages still queued", n)
		}
		return nil
	})
}
