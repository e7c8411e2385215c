package platform_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// logBuffer keeps the JSON log lines of a platform.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		b.lines = append(b.lines, l)
	}
	return len(p), nil
}

// errors returns the lines logged at level ERROR.
func (b *logBuffer) errors(t *testing.T) []string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.lines {
		var rec struct{ Level string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if rec.Level == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}

// TestNULIsRefusedNamingTheField: a NUL character in any string field, over
// REST and over gRPC, in a submission and in a consultation service
// request, is 400 / InvalidArgument naming the field; nothing is written and
// nothing is logged as an error (Postgres, which refuses NUL in text, is
// never asked).
func TestNULIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	h := startPlatformWith(t, func(c *platformConfig) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	id := openConsultationWith(t, h, nil)
	dialogues := countRows(t, h.pool, "consultation.dialogues")

	code, body := h.rest("POST", "/v1/consultations/"+id+"/submissions", "", map[string]any{
		"respondent": map[string]any{"stakeholderType": "academia", "country": "NL"},
		"language":   "es", "answers": []map[string]any{{"questionId": "q1", "text": "Datos\u0000abiertos"}},
	}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "answers[0].text: contains a NUL character") {
		t.Errorf("REST answer with NUL: %d %s", code, body)
	}
	code, body = h.rest("POST", "/v1/dialogues", h.token(auth.RoleSecretariat, "", "sec"), map[string]any{
		"thematicArea": "data_governance", "title": "Diálogo\u0000", "startsAt": "2030-01-01T00:00:00Z",
	}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "title: contains a NUL character") {
		t.Errorf("REST dialogue with NUL: %d %s", code, body)
	}
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Language: "es", Answers: answer("Sin NUL."),
		Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "NL", OrganisationName: "Uni\x00versidad"},
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "respondent.organisation_name: contains a NUL character") {
		t.Errorf("gRPC organisation name with NUL: %v", err)
	}
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	_, err = cs.UpdateConsultation(h.grpcCtx(h.token(auth.RoleSecretariat, "", "sec")), &consultationv1.UpdateConsultationRequest{
		Id: id, Title: &consultationv1.LocalizedText{SourceLanguage: "es", Texts: map[string]string{"es": "\x00"}},
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `title.texts["es"]: contains a NUL character`) {
		t.Errorf("gRPC consultation title with NUL: %v", err)
	}

	if n := countRows(t, h.pool, "submission.submissions"); n != 0 {
		t.Errorf("%d submissions written", n)
	}
	if n := countRows(t, h.pool, "consultation.dialogues"); n != dialogues {
		t.Errorf("%d dialogues, want %d", n, dialogues)
	}
	if errs := logs.errors(t); len(errs) > 0 {
		t.Errorf("ERROR log lines: %s", strings.Join(errs, "\n"))
	}
}

// TestIdempotencyKeyGuessing: a guessable key is refused naming
// idempotency_key, and a known key gives the edit secret only to the same
// request from the same caller. Someone who guessed or read the key gets
// 409 without the secret, whether they send another body, or the very
// same body from another account or from no account.
func TestIdempotencyKeyGuessing(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	path := "/v1/consultations/" + id + "/submissions"
	body := func(text, key string) map[string]any {
		return map[string]any{
			"respondent": map[string]any{"stakeholderType": "academia", "country": "NL"},
			"language":   "es", "answers": []map[string]any{{"questionId": "q1", "text": text}},
			"publication": "PUBLICATION_PUBLIC_ANONYMOUS", "idempotencyKey": key,
		}
	}
	type created struct {
		Submission struct{ ID string }
		EditSecret string
	}

	for _, key := range []string{"submission-1", "aaaaaaaaaaaaaaaaaaaa", "key with spaces 0123456789", "clave/con/barras/0123456789"} {
		code, resp := h.rest("POST", path, "", body("Propuesta.", key), nil)
		if code != http.StatusBadRequest || !strings.Contains(resp, "idempotency_key") {
			t.Errorf("key %q: %d %s, want 400 naming idempotency_key", key, code, resp)
		}
	}
	if n := countRows(t, h.pool, "submission.submissions"); n != 0 {
		t.Fatalf("%d submissions written with refused keys", n)
	}

	// An anonymous author, and their retry.
	const key = "Vq3kT9xLm2Pz8RbN4wYc7A"
	var first, again created
	if code, resp := h.rest("POST", path, "", body("Propuesta.", key), &first); code != http.StatusOK || first.EditSecret == "" {
		t.Fatalf("first request: %d %s", code, resp)
	}
	if code, resp := h.rest("POST", path, "", body("Propuesta.", key), &again); code != http.StatusOK ||
		again.Submission.ID != first.Submission.ID || again.EditSecret != first.EditSecret {
		t.Fatalf("the author's retry: %d %s", code, resp)
	}
	other := h.token(auth.RoleStakeholder, "", "mallory")
	for name, try := range map[string]struct {
		token string
		body  map[string]any
	}{
		"another body":                  {"", body("Otra cosa.", key)},
		"the same body from an account": {other, body("Propuesta.", key)},
	} {
		code, resp := h.rest("POST", path, try.token, try.body, nil)
		if code != http.StatusConflict || !strings.Contains(resp, "idempotency_key") ||
			strings.Contains(resp, first.EditSecret) || strings.Contains(resp, first.Submission.ID) {
			t.Errorf("%s with the key: %d %s, want 409 without the first submission", name, code, resp)
		}
	}

	// An author with an account: the same body from no account or from
	// another account gets nothing; the author's own retry gets the secret.
	const key2 = "0b8e5f3a-4c1d-4e2f-9a7b-6c5d4e3f2a1b"
	author := h.token(auth.RoleStakeholder, "", "author-1")
	var mine created
	if code, resp := h.rest("POST", path, author, body("Mía.", key2), &mine); code != http.StatusOK {
		t.Fatalf("account's request: %d %s", code, resp)
	}
	for name, tok := range map[string]string{"no account": "", "another account": other} {
		code, resp := h.rest("POST", path, tok, body("Mía.", key2), nil)
		if code != http.StatusConflict || strings.Contains(resp, mine.EditSecret) {
			t.Errorf("the same body from %s: %d %s, want 409 without the secret", name, code, resp)
		}
	}
	var mineAgain created
	if code, resp := h.rest("POST", path, author, body("Mía.", key2), &mineAgain); code != http.StatusOK || mineAgain.EditSecret != mine.EditSecret {
		t.Errorf("the account's retry: %d %s", code, resp)
	}
	if n := countRows(t, h.pool, "submission.submissions"); n != 2 {
		t.Errorf("%d submissions, want 2", n)
	}
}

// TestWritesDoNotRevealSubmissions: for a submission the caller may not
// see (confidential, withdrawn), PATCH and :withdraw answer exactly what
// GET answers, 404 with the same body as for an id that does not exist,
// even with a stale version or a wrong edit secret; for one the caller may
// see (public, anonymous), a write by a non-author is 403. Tried as the
// public, as another stakeholder and as a co-lead of another area; nothing
// changes.
func TestWritesDoNotRevealSubmissions(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil) // data governance, co-led by PY and NL
	h.assignCoLeads("cybersecurity", "FR", "CL")
	create := func(publication string) (string, string) {
		var out struct {
			Submission struct{ ID string }
			EditSecret string
		}
		code, body := h.rest("POST", "/v1/consultations/"+id+"/submissions", "", map[string]any{
			"respondent": map[string]any{"stakeholderType": "academia", "country": "NL", "organisationName": "Uni"},
			"language":   "es", "answers": []map[string]any{{"questionId": "q1", "text": "Propuesta."}},
			"publication": publication,
		}, &out)
		if code != http.StatusOK {
			t.Fatalf("create %s: %d %s", publication, code, body)
		}
		return out.Submission.ID, out.EditSecret
	}
	confidential, _ := create("PUBLICATION_CONFIDENTIAL")
	anonymous, _ := create("PUBLICATION_PUBLIC_ANONYMOUS")
	withdrawn, secret := create("PUBLICATION_PUBLIC_NAMED")
	if code, body := h.rest("POST", "/v1/submissions/"+withdrawn+":withdraw", "", map[string]any{"editSecret": secret}, nil); code != http.StatusOK {
		t.Fatalf("withdraw: %d %s", code, body)
	}
	const unknown = "01900000-0000-7000-8000-000000000000"

	edit := func(version int, secret string) map[string]any {
		return map[string]any{
			"version": version, "editSecret": secret,
			"respondent": map[string]any{"stakeholderType": "academia", "country": "NL"},
			"language":   "es", "answers": []map[string]any{{"questionId": "q1", "text": "Cambiada."}},
		}
	}
	callers := map[string]string{
		"the public":                "",
		"another stakeholder":       h.token(auth.RoleStakeholder, "", "someone-else"),
		"a co-lead of another area": h.token(auth.RoleColead, "FR", "colead-fr"),
	}
	for who, tok := range callers {
		for _, sub := range []string{confidential, withdrawn, unknown} {
			getCode, getBody := h.rest("GET", "/v1/submissions/"+sub, tok, nil, nil)
			if getCode != http.StatusNotFound {
				t.Fatalf("%s: GET %s: %d %s", who, sub, getCode, getBody)
			}
			writes := map[string][2]any{
				"PATCH":                  {"/v1/submissions/" + sub, edit(1, "")},
				"PATCH, stale version":   {"/v1/submissions/" + sub, edit(7, "")},
				"PATCH, wrong secret":    {"/v1/submissions/" + sub, edit(1, strings.Repeat("x", 43))},
				"withdraw":               {"/v1/submissions/" + sub + ":withdraw", map[string]any{}},
				"withdraw, wrong secret": {"/v1/submissions/" + sub + ":withdraw", map[string]any{"editSecret": strings.Repeat("x", 43)}},
			}
			for what, w := range writes {
				method := "PATCH"
				if strings.HasPrefix(what, "withdraw") {
					method = "POST"
				}
				code, body := h.rest(method, w[0].(string), tok, w[1], nil)
				if code != getCode || body != getBody {
					t.Errorf("%s: %s %s: %d %s; GET said %d %s", who, what, sub, code, body, getCode, getBody)
				}
			}
		}
		// A submission everyone may see: a non-author may not change it.
		if code, body := h.rest("GET", "/v1/submissions/"+anonymous, tok, nil, nil); code != http.StatusOK {
			t.Fatalf("%s: GET anonymous: %d %s", who, code, body)
		}
		if code, body := h.rest("PATCH", "/v1/submissions/"+anonymous, tok, edit(1, ""), nil); code != http.StatusForbidden {
			t.Errorf("%s: PATCH anonymous: %d %s", who, code, body)
		}
		if code, body := h.rest("POST", "/v1/submissions/"+anonymous+":withdraw", tok, map[string]any{}, nil); code != http.StatusForbidden {
			t.Errorf("%s: withdraw anonymous: %d %s", who, code, body)
		}
	}
	// A co-lead of the consultation's area sees the confidential one, so
	// is told they may not change it.
	coLead := h.token(auth.RoleColead, "PY", "colead-py")
	if code, body := h.rest("PATCH", "/v1/submissions/"+confidential, coLead, edit(1, ""), nil); code != http.StatusForbidden {
		t.Errorf("co-lead of the area: PATCH confidential: %d %s", code, body)
	}
	var versions int
	if err := h.pool.QueryRow(context.Background(), `SELECT sum(version) FROM submission.submissions WHERE id = ANY($1)`,
		[]string{confidential, anonymous}).Scan(&versions); err != nil || versions != 2 {
		t.Errorf("versions %d (%v): a refused write changed a submission", versions, err)
	}
}
