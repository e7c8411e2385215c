package gateway

import (
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

// TestOpenDataDownloads: the .csv and .ndjson routes are files with their
// content type and name, the caller's token reaches the service, and errors
// are gateway errors.
func TestOpenDataDownloads(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, err := pgxpool.New(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	id := uuid.Must(uuid.NewV7()).String()
	closes := time.Now().Add(time.Hour).UTC()
	doc := fmt.Sprintf(`{"id": %q, "version": 1, "status": "open", "closes_at": %q, "languages": ["en"],
		"questions": [{"id": "vision", "kind": "text"}]}`, id, closes.Format(time.RFC3339))
	if _, err := pool.Exec(ctx, `INSERT INTO submission.consultations (id, version, status, closes_at, document)
		VALUES ($1, 1, 'open', $2, $3)`, id, closes, doc); err != nil {
		t.Fatal(err)
	}

	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := grpcserver.New(grpcserver.Config{Logger: log, Verifier: verifier, Policy: submission.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := submission.New(submission.Deps{Pool: pool, Logger: log, SigningKey: []byte("a test signing key of at least 32 bytes")})
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
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	for _, org := range []string{"Uni, \"Norte\"", "Uni Sur"} {
		if _, err := submissionv1.NewSubmissionServiceClient(conn).CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
			ConsultationId: id,
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "CL", OrganisationName: org,
				ContactEmail: "contact@example.org"},
			Answers: []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "abierto"}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := New(ctx, Config{Upstreams: Upstreams{Consultation: conn, Submission: conn, Summary: conn}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(h)
	t.Cleanup(web.Close)
	token, err := key.Mint(auth.Principal{Subject: "researcher", Role: auth.RoleStakeholder}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	get := func(path, token string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, web.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}

	resp, body := get("/v1/consultations/"+id+"/open-data.csv", token)
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if resp.StatusCode != http.StatusOK || err != nil || len(records) != 3 || records[1][6] != "Uni, \"Norte\"" {
		t.Errorf("CSV: %d %v %q", resp.StatusCode, err, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("CSV content type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="consultation-`+id+`.csv"` {
		t.Errorf("CSV disposition %q", cd)
	}
	if strings.Contains(body, "example.org") {
		t.Errorf("CSV has contact data: %s", body)
	}

	resp, body = get("/v1/consultations/"+id+"/open-data.ndjson", "")
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" || len(lines) != 2 {
		t.Errorf("NDJSON: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("NDJSON line %q: %v", l, err)
		}
	}

	// The token is forwarded: a bad one is refused, as on every route.
	if resp, body := get("/v1/consultations/"+id+"/open-data.csv", "not-a-token"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: %d %s", resp.StatusCode, body)
	}
	if resp, body := get("/v1/consultations/not-an-id/open-data.csv", ""); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, "consultation_id") {
		t.Errorf("bad id: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/v1/consultations/"+uuid.Must(uuid.NewV7()).String()+"/open-data.ndjson", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown consultation: %d", resp.StatusCode)
	}
}
