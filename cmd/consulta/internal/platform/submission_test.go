package platform_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/doctype/doctypetest"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/services/submission"
)

// openConsultationWith opens a consultation of data governance (co-led by
// PY and NL) with one required text question and any extra settings, and
// waits until the submission service has it.
func openConsultationWith(t *testing.T, h *harness, set func(r *consultationv1.CreateConsultationRequest)) string {
	t.Helper()
	h.assignCoLeads("data_governance", "PY", "NL")
	ctx := h.grpcCtx(h.token(auth.RoleSecretariat, "", "sec"))
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{ThematicArea: "data_governance", Title: "Datos",
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	req := &consultationv1.CreateConsultationRequest{
		DialogueId: d.GetDialogue().GetId(), Title: es("Datos"), Languages: []string{"es", "pt"},
		Questions: []*consultationv1.Question{{Id: "q1", Required: true, Text: es("¿Qué propone?"),
			Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 500}}}},
		ClosesAt: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
	}
	if set != nil {
		set(req)
	}
	c, err := cs.CreateConsultation(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	id := c.GetConsultation().GetId()
	if _, err := cs.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "the submission service knows the consultation is open", func() error {
		_, err := ss.ListSubmissions(context.Background(), &submissionv1.ListSubmissionsRequest{ConsultationId: id})
		return err
	})
	return id
}

func answer(text string) []*submissionv1.Answer {
	return []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: text}}}
}

// TestIdempotencyKey sends 100 identical requests with one key at once:
// one submission results, and every caller gets it with the same secret.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	req := &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, IdempotencyKey: "retry-7f3a-9c2e41b8d05f6a",
		Respondent: &submissionv1.Respondent{StakeholderType: "civil_society", Country: "PY", ContactEmail: "maria@example.org"},
		Language:   "es", Answers: answer("Datos abiertos para todos."),
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids, secrets := map[string]bool{}, map[string]bool{}
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := ss.CreateSubmission(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[r.GetSubmission().GetId()], secrets[r.GetEditSecret()] = true, true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 1 || len(secrets) != 1 {
		t.Fatalf("100 identical requests made %d submissions and %d secrets", len(ids), len(secrets))
	}
	if n := countRows(t, h.pool, "submission.submissions"); n != 1 {
		t.Errorf("%d rows", n)
	}
	if n := countRows(t, h.pool, "submission.receipts"); n != 1 {
		t.Errorf("%d receipts", n)
	}
	other := proto.Clone(req).(*submissionv1.CreateSubmissionRequest)
	other.Answers = answer("Otra cosa.")
	if _, err := ss.CreateSubmission(context.Background(), other); status.Code(err) != codes.AlreadyExists ||
		!strings.Contains(err.Error(), "idempotency_key") {
		t.Errorf("the key with another request: %v, want AlreadyExists naming idempotency_key", err)
	}
}

// TestEditWithdrawAndReceipts: every version gets a receipt in one chain;
// the secret or the logged-in author may change a submission, nobody else.
func TestEditWithdrawAndReceipts(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	created, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "NL"},
		Language: "es", Answers: answer("Primera versión."),
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := created.GetSubmission()
	r1 := sub.GetReceipt()
	if r1.GetSequence() != 1 || len(r1.GetContentDigest()) != 64 || r1.GetVersion() != 1 {
		t.Fatalf("receipt: %+v", r1)
	}
	edit := func(secret string, version int64, text string) (*submissionv1.UpdateSubmissionResponse, error) {
		return ss.UpdateSubmission(context.Background(), &submissionv1.UpdateSubmissionRequest{
			Id: sub.GetId(), Version: version, EditSecret: secret,
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "NL"}, Language: "es", Answers: answer(text),
		})
	}
	if _, err := edit("", 1, "Sin secreto."); status.Code(err) != codes.PermissionDenied {
		t.Errorf("edit without the secret: %v", err)
	}
	if _, err := edit(strings.Repeat("x", 43), 1, "Secreto falso."); status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(err.Error(), "edit_secret") {
		t.Errorf("edit with a wrong secret: %v", err)
	}
	if _, err := edit(created.GetEditSecret(), 7, "Versión vieja."); status.Code(err) != codes.Aborted {
		t.Errorf("edit of a stale version: %v", err)
	}
	updated, err := edit(created.GetEditSecret(), 1, "Segunda versión.")
	if err != nil {
		t.Fatal(err)
	}
	r2 := updated.GetSubmission().GetReceipt()
	if updated.GetSubmission().GetVersion() != 2 || r2.GetSequence() != 2 || r2.GetPreviousDigest() != r1.GetChainDigest() {
		t.Fatalf("second receipt %+v does not follow %+v", r2, r1)
	}
	withdrawn, err := ss.WithdrawSubmission(context.Background(), &submissionv1.WithdrawSubmissionRequest{Id: sub.GetId(), EditSecret: created.GetEditSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if withdrawn.GetSubmission().GetStatus() != submissionv1.SubmissionStatus_SUBMISSION_STATUS_WITHDRAWN || withdrawn.GetSubmission().GetReceipt().GetSequence() != 3 {
		t.Fatalf("withdrawn: %+v", withdrawn.GetSubmission())
	}
	if _, err := edit(created.GetEditSecret(), 3, "Después de retirar."); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("edit after withdrawal: %v", err)
	}
	for _, r := range []*submissionv1.Receipt{r1, r2, withdrawn.GetSubmission().GetReceipt()} {
		v, err := ss.VerifyReceipt(context.Background(), &submissionv1.VerifyReceiptRequest{ReceiptId: r.GetReceiptId(), ContentDigest: r.GetContentDigest()})
		if err != nil || !v.GetValid() {
			t.Errorf("receipt %d: %v %+v", r.GetSequence(), err, v)
		}
	}
	v, err := ss.VerifyReceipt(context.Background(), &submissionv1.VerifyReceiptRequest{ReceiptId: r1.GetReceiptId(), ContentDigest: strings.Repeat("0", 64)})
	if err != nil || v.GetValid() {
		t.Errorf("a wrong digest verified: %v %+v", err, v)
	}
	// The submitter's own check: each response's receipt key ties its
	// receipt to exactly its content. No read shows a key, not even the
	// author's.
	authorCtx := metadata.AppendToOutgoingContext(context.Background(), "x-edit-secret", created.GetEditSecret())
	read, err := ss.GetSubmission(authorCtx, &submissionv1.GetSubmissionRequest{Id: sub.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	for _, resp := range []interface {
		GetSubmission() *submissionv1.Submission
		GetReceiptKey() string
	}{created, updated, withdrawn} {
		if err := submission.CheckReceipt(resp.GetSubmission(), resp.GetReceiptKey()); err != nil {
			t.Errorf("receipt of version %d with its key: %v", resp.GetSubmission().GetVersion(), err)
		}
		if strings.Contains(read.String()+v.String(), resp.GetReceiptKey()) {
			t.Errorf("a read shows the receipt key of version %d", resp.GetSubmission().GetVersion())
		}
	}
	if err := submission.CheckReceipt(updated.GetSubmission(), created.GetReceiptKey()); err == nil {
		t.Error("the second version's receipt verified with the first version's key")
	}
	// Altering an accepted version directly in SQL is detected.
	if _, err := h.pool.Exec(context.Background(), `UPDATE submission.submission_versions SET answers = '[]' WHERE submission_id = $1 AND version = 2`, sub.GetId()); err != nil {
		t.Fatal(err)
	}
	v, err = ss.VerifyReceipt(context.Background(), &submissionv1.VerifyReceiptRequest{ReceiptId: r2.GetReceiptId()})
	if err != nil || v.GetValid() || !strings.Contains(v.GetReason(), "altered") {
		t.Errorf("an altered version verified: %v %+v", err, v)
	}
	// The summary counted it, then not.
	sum := summaryv1.NewSummaryServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "the withdrawal leaves the counts", func() error {
		s, err := sum.GetSummary(context.Background(), &summaryv1.GetSummaryRequest{ConsultationId: id})
		if err != nil {
			return err
		}
		if s.GetSummary().GetTotal() != 0 {
			return fmt.Errorf("total %d", s.GetSummary().GetTotal())
		}
		return nil
	})
	// The JSON of the REST API, as the README's tour keeps it, verifies too.
	code, body := h.rest("POST", "/v1/consultations/"+id+"/submissions", "", map[string]any{
		"respondent": map[string]any{"stakeholderType": "individual", "country": "NL", "personName": "Rest Person",
			"contactEmail": "rest.person@example.org"},
		"language": "es", "publication": "PUBLICATION_PUBLIC_ANONYMOUS",
		"answers": []map[string]any{{"questionId": "q1", "text": "Por REST."}},
	}, nil)
	var rest submissionv1.CreateSubmissionResponse
	if err := protojson.Unmarshal([]byte(body), &rest); code != 200 || err != nil {
		t.Fatalf("REST create: %d %s: %v", code, body, err)
	}
	if err := submission.CheckReceipt(rest.GetSubmission(), rest.GetReceiptKey()); err != nil || rest.GetReceiptKey() == "" {
		t.Errorf("REST response %s: %v", body, err)
	}
}

// TestEmailConfirmation: with double opt-in a submission counts only once
// its emailed link is followed; the link works once.
func TestEmailConfirmation(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, func(r *consultationv1.CreateConsultationRequest) { r.RequireEmailConfirmation = true })
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	resp := func(email string) (*submissionv1.CreateSubmissionResponse, error) {
		return ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es", Answers: answer("Confirmo."),
			Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY", PersonName: "Ana Pérez", ContactEmail: email},
		})
	}
	if _, err := resp(""); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "respondent.contact_email") {
		t.Fatalf("no address with double opt-in: %v", err)
	}
	created, err := resp("ana.perez@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if !created.GetConfirmationRequired() || created.GetSubmission().GetStatus() != submissionv1.SubmissionStatus_SUBMISSION_STATUS_PENDING_CONFIRMATION {
		t.Fatalf("created: %+v", created)
	}
	var to, body string
	if err := h.pool.QueryRow(context.Background(), `SELECT to_address, body FROM submission.mail_outbox`).Scan(&to, &body); err != nil {
		t.Fatal(err)
	}
	_, token, ok := strings.Cut(body, "/confirm?token=")
	token, _, _ = strings.Cut(token, "\n")
	if to != "ana.perez@example.org" || !ok {
		t.Fatalf("mail to %q: %s", to, body)
	}
	token = strings.ReplaceAll(token, "%3D", "=")
	sum := summaryv1.NewSummaryServiceClient(h.grpcConn)
	total := func() int64 {
		s, err := sum.GetSummary(context.Background(), &summaryv1.GetSummaryRequest{ConsultationId: id})
		if err != nil {
			t.Fatal(err)
		}
		return s.GetSummary().GetTotal()
	}
	time.Sleep(300 * time.Millisecond) // time enough for a wrong count to show
	if n := total(); n != 0 {
		t.Errorf("an unconfirmed submission is counted: %d", n)
	}
	if _, err := ss.ConfirmSubmission(context.Background(), &submissionv1.ConfirmSubmissionRequest{Token: token + "x"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a tampered token: %v", err)
	}
	// The link in the mail, followed in a browser.
	link := h.base + "/confirm?token=" + url.QueryEscape(token)
	if code, page := h.rest("GET", strings.TrimPrefix(link, h.base), "", nil, nil); code != 200 || !strings.Contains(page, "Submission confirmed") {
		t.Fatalf("following the link: %d %s", code, page)
	}
	if code, page := h.rest("GET", strings.TrimPrefix(link, h.base), "", nil, nil); code != 400 || !strings.Contains(page, "already used") {
		t.Errorf("following the link twice: %d %s", code, page)
	}
	if _, err := ss.ConfirmSubmission(context.Background(), &submissionv1.ConfirmSubmissionRequest{Token: token}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("the token used again over gRPC: %v", err)
	}
	eventually(t, 10*time.Second, "the confirmed submission counts", func() error {
		if n := total(); n != 1 {
			return fmt.Errorf("total %d", n)
		}
		return nil
	})
}

// TestWhoSeesWhat: the public sees public submissions, anonymous ones
// without names, never confidential ones; co-leads see all but contact data.
func TestWhoSeesWhat(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	submit := func(org string, p consultationv1.Publication) *submissionv1.CreateSubmissionResponse {
		r, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es", Answers: answer("Texto de " + org), Publication: p,
			Respondent: &submissionv1.Respondent{StakeholderType: "private_sector", Country: "NL", OrganisationName: org,
				ContactEmail: strings.ToLower(org) + "@example.org", TransparencyRegisterId: "123456789012-34"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	named := submit("Named", consultationv1.Publication_PUBLICATION_PUBLIC_NAMED)
	anon := submit("Anon", consultationv1.Publication_PUBLICATION_PUBLIC_ANONYMOUS)
	conf := submit("Secret", consultationv1.Publication_PUBLICATION_CONFIDENTIAL)

	list := func(token string) map[string]*submissionv1.Submission {
		r, err := ss.ListSubmissions(h.grpcCtx(token), &submissionv1.ListSubmissionsRequest{ConsultationId: id})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*submissionv1.Submission{}
		for _, s := range r.GetSubmissions() {
			out[s.GetId()] = s
		}
		return out
	}
	public := list("")
	if len(public) != 2 || public[conf.GetSubmission().GetId()] != nil {
		t.Fatalf("the public sees %d submissions", len(public))
	}
	if s := public[named.GetSubmission().GetId()]; s.GetRespondent().GetOrganisationName() != "Named" || s.GetRespondent().GetContactEmail() != "" {
		t.Errorf("named, publicly: %+v", s.GetRespondent())
	}
	if s := public[anon.GetSubmission().GetId()]; s.GetRespondent().GetOrganisationName() != "" || s.GetRespondent().GetTransparencyRegisterId() != "" {
		t.Errorf("anonymous, publicly: %+v", s.GetRespondent())
	}
	if _, err := ss.GetSubmission(context.Background(), &submissionv1.GetSubmissionRequest{Id: conf.GetSubmission().GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("a confidential submission read publicly: %v", err)
	}
	colead := list(h.token(auth.RoleColead, "PY", "colead-py"))
	if s := colead[conf.GetSubmission().GetId()]; len(colead) != 3 || s.GetRespondent().GetOrganisationName() != "Secret" || s.GetRespondent().GetContactEmail() != "" {
		t.Errorf("a co-lead sees %d submissions; the confidential one: %+v", len(colead), s.GetRespondent())
	}
	// The author, with the secret, sees everything of theirs.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-edit-secret", conf.GetEditSecret())
	own, err := ss.GetSubmission(ctx, &submissionv1.GetSubmissionRequest{Id: conf.GetSubmission().GetId()})
	if err != nil || own.GetSubmission().GetRespondent().GetContactEmail() != "secret@example.org" {
		t.Errorf("the author's own submission: %v %+v", err, own.GetSubmission().GetRespondent())
	}
	// Filters.
	r, err := ss.ListSubmissions(context.Background(), &submissionv1.ListSubmissionsRequest{ConsultationId: id, Region: "LAC"})
	if err != nil || len(r.GetSubmissions()) != 0 {
		t.Errorf("region LAC: %v %d", err, len(r.GetSubmissions()))
	}
	// Confidential submissions leave the service only as counts: their
	// events carry no answers and no organisation.
	for _, ev := range streamEvents(t, h) {
		if strings.Contains(string(ev.data), "Texto de Secret") || strings.Contains(string(ev.data), "Secret") && ev.aggregateID == conf.GetSubmission().GetId() {
			t.Errorf("event %s of the confidential submission carries its content", ev.subject)
		}
		if strings.Contains(string(ev.data), "@example.org") {
			t.Errorf("event %s carries an email address", ev.subject)
		}
	}
}

// TestRateLimitPerIP: the limit says which one was hit.
func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) { c.DisableRateLimits = false })
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	var err error
	for i := range 40 {
		_, err = ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es", Answers: answer(fmt.Sprintf("Respuesta %d.", i)),
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "NL"},
		})
		if err != nil {
			break
		}
	}
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "submissions per IP address") {
		t.Fatalf("after a burst: %v, want ResourceExhausted naming the limit", err)
	}
}

// TestLanguageDetection: an undeclared language is detected among the
// consultation's languages.
func TestLanguageDetection(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	r, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "BR"},
		Answers: answer("Acreditamos que a governança de dados precisa de regras claras e de participação da sociedade civil."),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.GetSubmission(); s.GetLanguage() != "pt" || s.GetLanguageSource() != submissionv1.LanguageSource_LANGUAGE_SOURCE_DETECTED {
		t.Errorf("language %s (%s), want pt detected", s.GetLanguage(), s.GetLanguageSource())
	}
}

// TestPositionPapers: a document is recognised by its content, not its
// name, and a file answer must name a document of this consultation that
// fits its question.
func TestPositionPapers(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, func(r *consultationv1.CreateConsultationRequest) {
		r.Questions = append(r.Questions, &consultationv1.Question{Id: "paper", Text: es("Documento"),
			Kind: &consultationv1.Question_FileQuestion{FileQuestion: &consultationv1.FileQuestion{MaxBytes: 1000}}})
	})
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	pdf := doctypetest.TextPDF("Posición", 0)
	up, err := ss.UploadDocument(context.Background(), &submissionv1.UploadDocumentRequest{ConsultationId: id, Content: pdf})
	if err != nil {
		t.Fatalf("upload a PDF: %v", err)
	}
	if up.GetMediaType() != "application/pdf" || up.GetSizeBytes() != int64(len(pdf)) {
		t.Errorf("upload: %+v", up)
	}
	// A paper of 20 MiB fits in one message; one over 25 MiB is refused by size.
	large := doctypetest.TextPDF("Posición", 20<<20)
	if _, err := ss.UploadDocument(context.Background(), &submissionv1.UploadDocumentRequest{ConsultationId: id, Content: large}); err != nil {
		t.Errorf("upload 20 MiB: %v", err)
	}
	huge := make([]byte, 26<<20)
	if _, err := ss.UploadDocument(context.Background(), &submissionv1.UploadDocumentRequest{ConsultationId: id, Content: huge}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "content") {
		t.Errorf("upload 26 MiB: %v", err)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	if _, err := ss.UploadDocument(context.Background(), &submissionv1.UploadDocumentRequest{ConsultationId: id, Content: png}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "content") {
		t.Errorf("upload a PNG: %v", err)
	}
	submit := func(blob string) error {
		_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es",
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "PY"},
			Answers: append(answer("Adjunto."), &submissionv1.Answer{QuestionId: "paper",
				Value: &submissionv1.Answer_File{File: &submissionv1.FileRef{BlobId: blob}}}),
		})
		return err
	}
	if err := submit(up.GetFile().GetBlobId()); err != nil {
		t.Errorf("a submission with the paper: %v", err)
	}
	if err := submit(strings.Repeat("a", 64)); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "answers[1].file.blob_id") {
		t.Errorf("a paper that was never uploaded: %v", err)
	}
	big := doctypetest.TextPDF("Posición", 1000)
	upBig, err := ss.UploadDocument(context.Background(), &submissionv1.UploadDocumentRequest{ConsultationId: id, Content: big})
	if err != nil {
		t.Fatalf("upload a larger PDF: %v", err)
	}
	if err := submit(upBig.GetFile().GetBlobId()); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "at most 1000") {
		t.Errorf("a paper over the question's limit: %v", err)
	}
}

// TestErasureRemovesAnIndividualsPaper: the document an individual attached
// goes with their personal data, bytes included.
func TestErasureRemovesAnIndividualsPaper(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, func(r *consultationv1.CreateConsultationRequest) {
		r.Questions = append(r.Questions, &consultationv1.Question{Id: "paper", Text: es("Documento"),
			Kind: &consultationv1.Question_FileQuestion{FileQuestion: &consultationv1.FileQuestion{MaxBytes: 1 << 20}}})
	})
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	pdf := doctypetest.TextPDF("Mi documento personal.", 0)
	up, err := ss.UploadDocument(context.Background(), &submissionv1.UploadDocumentRequest{ConsultationId: id, Content: pdf})
	if err != nil {
		t.Fatal(err)
	}
	key := up.GetFile().GetBlobId()
	if _, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Language: "es",
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "PY", PersonName: "Rosa Ruiz", ContactEmail: "rosa@example.org"},
		Answers: append(answer("Mi opinión personal."), &submissionv1.Answer{QuestionId: "paper",
			Value: &submissionv1.Answer_File{File: &submissionv1.FileRef{BlobId: key}}}),
	}); err != nil {
		t.Fatal(err)
	}
	blobPath := filepath.Join(h.blobDir, key[:2], key[2:4], key)
	if _, err := os.Stat(blobPath); err != nil {
		t.Fatalf("the paper is not where the filesystem store keeps it: %v", err)
	}
	sec := h.grpcCtx(h.token(auth.RoleSecretariat, "", "dpo"))
	if _, err := ss.ErasePersonalData(sec, &submissionv1.ErasePersonalDataRequest{Email: "Rosa@Example.org", Reason: "request DP-7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blobPath); !os.IsNotExist(err) {
		t.Errorf("the paper's bytes survive the erasure: %v", err)
	}
	if n := countRows(t, h.pool, "submission.documents"); n != 0 {
		t.Errorf("%d documents remain", n)
	}
}
