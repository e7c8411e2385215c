package grpcapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/consulta-platform/consulta/pkg/auth"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/app"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// serveRightsAPI runs the API on a database of the test's own and returns a client
// and the id of an open consultation.
func serveRightsAPI(t *testing.T) (submissionv1.SubmissionServiceClient, *Server, string) {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t)
	c := domain.Consultation{
		ID: uuid.Must(uuid.NewV7()).String(), Version: 1, Status: domain.StatusOpen, Languages: []string{"en"},
		ClosesAt:  time.Now().Add(time.Hour).UTC(),
		Questions: []domain.Question{{ID: "vision", Kind: domain.KindText}},
	}
	if err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return store.ApplyConsultation(ctx, tx, c) }); err != nil {
		t.Fatal(err)
	}
	signer, err := app.NewSigner([]byte("a signing key for the grpcapi tests, 32+ bytes"))
	if err != nil {
		t.Fatal(err)
	}
	srv := New(app.New(store.New(pool), app.Config{Signer: signer}))
	gs := grpc.NewServer()
	submissionv1.RegisterSubmissionServiceServer(gs, srv)
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
	return submissionv1.NewSubmissionServiceClient(conn), srv, c.ID
}

// TestPersonalDataRPCs: the export is JSON with every version, and the
// erasure's audit record comes back.
func TestPersonalDataRPCs(t *testing.T) {
	ctx := context.Background()
	client, srv, consultationID := serveRightsAPI(t)
	created, err := client.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
		ConsultationId: consultationID,
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "FR", PersonName: "Jeanne Test",
			ContactEmail: "jeanne@example.org"},
		Answers: []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "premier avis"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateSubmission(ctx, &submissionv1.UpdateSubmissionRequest{
		Id: created.GetSubmission().GetId(), Version: 1, EditSecret: created.GetEditSecret(),
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "FR", PersonName: "Jeanne Test",
			ContactEmail: "jeanne@example.org"},
		Answers: []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: "second avis"}}},
	}); err != nil {
		t.Fatal(err)
	}

	exp, err := client.ExportPersonalData(ctx, &submissionv1.ExportPersonalDataRequest{Email: "JEANNE@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"premier avis", "second avis", "Jeanne Test", "jeanne@example.org", `"contentDigest"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("export lacks %q: %s", want, js)
		}
	}
	if len(exp.GetSubmissions()) != 1 || len(exp.GetSubmissions()[0].GetVersions()) != 2 ||
		exp.GetSubmissions()[0].GetStatus() != submissionv1.SubmissionStatus_SUBMISSION_STATUS_ACTIVE {
		t.Errorf("export = %s", js)
	}

	ctx = auth.WithPrincipal(ctx, auth.Principal{Subject: "secretariat-1", Role: auth.RoleSecretariat})
	erased, err := srv.ErasePersonalData(ctx, &submissionv1.ErasePersonalDataRequest{Email: "jeanne@example.org", Reason: "ticket 7"})
	if err != nil {
		t.Fatal(err)
	}
	e := erased.GetErasure()
	if e.GetRequestedBy() != "secretariat-1" || len(e.GetSubmissionIds()) != 1 || e.GetEraseTime() == nil || len(e.GetAddressTag()) != 64 || e.GetEmailSha256() != "" {
		t.Errorf("erasure = %v", e)
	}
	after, err := srv.ExportPersonalData(ctx, &submissionv1.ExportPersonalDataRequest{Email: "jeanne@example.org"})
	if err != nil || len(after.GetSubmissions()) != 0 || len(after.GetErasures()) != 1 {
		t.Errorf("export after erasure = %v, %v", after, err)
	}
}

// TestExportOpenDataStreamsChunks: a large export arrives in chunks of about
// 32 KiB that concatenate to the CSV.
func TestExportOpenDataStreamsChunks(t *testing.T) {
	ctx := context.Background()
	client, _, consultationID := serveRightsAPI(t)
	long := strings.Repeat("texto abierto ", 500)
	for range 20 {
		if _, err := client.CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
			ConsultationId: consultationID,
			Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "AR", OrganisationName: "Uni"},
			Answers:        []*submissionv1.Answer{{QuestionId: "vision", Value: &submissionv1.Answer_Text{Text: long}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := client.ExportOpenData(ctx, &submissionv1.ExportOpenDataRequest{
		ConsultationId: consultationID, Format: submissionv1.OpenDataFormat_OPEN_DATA_FORMAT_CSV})
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	var sizes []int
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(msg.GetChunk()))
		all.Write(msg.GetChunk())
	}
	if len(sizes) < 4 || sizes[0] != app.OpenDataChunkSize {
		t.Errorf("chunk sizes %v, want chunks of %d", sizes, app.OpenDataChunkSize)
	}
	records, err := csv.NewReader(&all).ReadAll()
	if err != nil || len(records) != 21 || records[1][8] != long {
		t.Errorf("CSV of %d bytes: %d records, %v", all.Len(), len(records), err)
	}
}
