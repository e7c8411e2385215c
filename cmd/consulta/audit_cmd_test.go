package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission"
)

// auditFixture is a database with a consultation in the submission
// service's read model and three submissions made through its gRPC API.
func auditFixture(t *testing.T) (dbURL, consultationID string, submissionIDs []string) {
	t.Helper()
	ctx := context.Background()
	dbURL = testenv.DatabaseURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	consultationID = uuid.Must(uuid.NewV7()).String()
	closes := time.Now().Add(24 * time.Hour).UTC()
	doc := fmt.Sprintf(`{"id": %q, "version": 1, "status": "open", "closes_at": %q, "languages": ["es"],
		"questions": [{"id": "vision", "kind": "text"}]}`, consultationID, closes.Format(time.RFC3339))
	if _, err := pool.Exec(ctx, `INSERT INTO submission.consultations (id, version, status, closes_at, document)
		VALUES ($1, 1, 'open', $2, $3)`, consultationID, closes, doc); err != nil {
		t.Fatal(err)
	}

	svc, err := submission.New(submission.Deps{Pool: pool, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SigningKey: []byte("a test signing key of at least 32 bytes")})
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	svc.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := submissionv1.NewSubmissionServiceClient(conn)
	for i := range 3 {
		resp, err := client.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
			ConsultationId: consultationID,
			Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "BR", OrganisationName: fmt.Sprintf("Org %d", i)},
			Answers:        []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "view"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		submissionIDs = append(submissionIDs, resp.GetSubmission().GetId())
	}
	return dbURL, consultationID, submissionIDs
}

// TestAuditVerify runs `consulta audit verify` on an intact chain, then on
// one whose second version row was deleted behind the service's back.
func TestAuditVerify(t *testing.T) {
	dbURL, id, subs := auditFixture(t)
	audit := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := realMain(context.Background(), append([]string{"audit", "verify"}, args...), &out, &errOut)
		return out.String() + errOut.String(), err
	}

	out, err := audit("--consultation", id, "--database-url", dbURL)
	if err != nil || out != "chain intact: 3 receipts (0 erased)\n" {
		t.Fatalf("intact chain: %q, %v", out, err)
	}

	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `DELETE FROM submission.submission_versions WHERE submission_id = $1`, subs[1]); err != nil {
		t.Fatal(err)
	}
	out, err = audit("--consultation", id, "--database-url", dbURL)
	want := fmt.Sprintf("chain broken at receipt 2: receipt 2: version 1 of submission %s is missing\n", subs[1])
	if err == nil || out != want {
		t.Errorf("broken chain: %q, %v; want %q and an error", out, err, want)
	}

	for _, args := range [][]string{
		{"--database-url", dbURL},                                                     // no consultation
		{"--consultation", "nope", "--database-url", dbURL},                           // not an id
		{"--consultation", uuid.Must(uuid.NewV7()).String(), "--database-url", dbURL}, // unknown
	} {
		if out, err := audit(args...); err == nil {
			t.Errorf("audit verify %v succeeded: %q", args, out)
		}
	}
	var out2, errOut bytes.Buffer
	if err := realMain(context.Background(), []string{"audit"}, &out2, &errOut); err == nil || !strings.Contains(errOut.String(), "audit verify") {
		t.Errorf("audit without subcommand: %v, %q", err, errOut.String())
	}
}
