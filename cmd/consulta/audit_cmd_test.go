package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission"
)

// auditFixture is a database with a consultation in the submission
// service's read model and three submissions made through its gRPC API.
func auditFixture(t *testing.T) (dbURL, consultationID string, submissionIDs []string, client submissionv1.SubmissionServiceClient) {
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
	client = submissionv1.NewSubmissionServiceClient(conn)
	for i := range 3 {
		resp, err := client.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
			ConsultationId: consultationID,
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "BR", OrganisationName: fmt.Sprintf("Org %d", i),
				ContactEmail: fmt.Sprintf("contact%d@example.org", i)},
			Answers: []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "view"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		submissionIDs = append(submissionIDs, resp.GetSubmission().GetId())
	}
	return dbURL, consultationID, submissionIDs, client
}

// TestAuditVerify runs `consulta audit verify` on an intact chain, again
// after the personal data of one submission was erased (the chain stays
// intact), then on one whose second version row was deleted behind the
// service's back.
func TestAuditVerify(t *testing.T) {
	dbURL, id, subs, client := auditFixture(t)
	audit := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := realMain(context.Background(), append([]string{"audit", "verify"}, args...), &out, &errOut)
		return out.String() + errOut.String(), err
	}

	out, err := audit("--consultation", id, "--database-url", dbURL)
	if err != nil || out != "chain intact: 3 receipts (0 erased)\n" {
		t.Fatalf("intact chain: %q, %v", out, err)
	}
	if _, err := client.ErasePersonalData(context.Background(), &submissionv1.ErasePersonalDataRequest{
		Email: "contact2@example.org", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	out, err = audit("--consultation", id, "--database-url", dbURL)
	if err != nil || out != "chain intact: 3 receipts (1 erased)\n" {
		t.Fatalf("chain after an erasure: %q, %v", out, err)
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

// TestAuditReceipt runs `consulta audit receipt` on the responses a
// submitter keeps: each verifies with the receipt key it came with; a
// changed address, another key or a response without its key does not.
func TestAuditReceipt(t *testing.T) {
	ctx := context.Background()
	_, consultationID, _, client := auditFixture(t)
	created, err := client.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
		ConsultationId: consultationID,
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "UY", PersonName: "Inés Recibo",
			ContactEmail: "ines.recibo@example.org"},
		Answers: []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "Mi recibo."}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := client.UpdateSubmission(ctx, &submissionv1.UpdateSubmissionRequest{
		Id: created.GetSubmission().GetId(), Version: 1, EditSecret: created.GetEditSecret(),
		Respondent: created.GetSubmission().GetRespondent(),
		Answers:    []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "Mi recibo, corregido."}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	withdrawn, err := client.WithdrawSubmission(ctx, &submissionv1.WithdrawSubmissionRequest{
		Id: created.GetSubmission().GetId(), EditSecret: created.GetEditSecret()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	save := func(name string, m proto.Message) string {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	audit := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := realMain(ctx, append([]string{"audit", "receipt"}, args...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	keys := map[string]bool{}
	for name, resp := range map[string]interface {
		proto.Message
		GetSubmission() *submissionv1.Submission
		GetReceiptKey() string
	}{"created": created, "updated": updated, "withdrawn": withdrawn} {
		keys[resp.GetReceiptKey()] = true
		out, err := audit("--file", save(name+".json", resp))
		want := fmt.Sprintf("receipt %s commits to this content", resp.GetSubmission().GetReceipt().GetReceiptId())
		if err != nil || !strings.HasPrefix(out, want) {
			t.Errorf("%s: %q, %v; want %q", name, out, err, want)
		}
	}
	if len(keys) != 3 || keys[""] {
		t.Errorf("receipt keys: %v, want three", keys)
	}

	// The same, read from standard input, with the key given apart.
	b, err := protojson.Marshal(created.GetSubmission())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runAuditReceipt([]string{"--key", created.GetReceiptKey()}, bytes.NewReader([]byte(`{"submission": `+string(b)+`}`)),
		&out, io.Discard); err != nil {
		t.Errorf("from standard input: %q, %v", out.String(), err)
	}

	guessed := proto.Clone(created).(*submissionv1.CreateSubmissionResponse)
	guessed.Submission.Respondent.ContactEmail = "ines.otra@example.org"
	noKey := proto.Clone(created).(*submissionv1.CreateSubmissionResponse)
	noKey.ReceiptKey = ""
	for name, args := range map[string][]string{
		"another address": {"--file", save("guessed.json", guessed)},
		"another key":     {"--file", save("created2.json", created), "--key", updated.GetReceiptKey()},
		"no key":          {"--file", save("nokey.json", noKey)},
		"bad key":         {"--file", save("created3.json", created), "--key", "0123"},
		"no such file":    {"--file", filepath.Join(dir, "missing.json")},
	} {
		if out, err := audit(args...); err == nil {
			t.Errorf("%s: verified: %q", name, out)
		}
	}
}
