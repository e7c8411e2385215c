package app

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// TestUnconfirmedSubmissionsExpire: a pending submission expires when its
// confirmation time runs out, with its event, and its link no longer works.
func TestUnconfirmedSubmissionsExpire(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	clock := func() time.Time { return now }
	c := consultationAt(3, consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN)
	c.RequireEmailConfirmation = true
	c.Languages = []string{"es"}
	if err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return store.ApplyConsultation(ctx, tx, ReadModel(c)) }); err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner([]byte("a test signing key of at least 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	a := New(store.New(pool), Config{Signer: signer, Now: clock, ConfirmationTTL: time.Hour})
	done, err := a.Submit(ctx, auth.Principal{Role: auth.RolePublic}, SubmitRequest{Submission: domain.Submission{
		ConsultationID: consultationID,
		Respondent:     domain.Respondent{StakeholderType: "academia", Country: "ES", ContactEmail: "x@example.org"},
		Answers:        []domain.Answer{{QuestionID: "q1", Kind: domain.AnswerText, Text: "hola"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if done.Submission.Status != domain.StatusPendingConfirmation {
		t.Fatalf("status %s", done.Submission.Status)
	}
	token := signer.ConfirmationToken(done.Submission.ID, done.Submission.ConfirmationExpiresAt)

	if n, err := a.ExpireUnconfirmed(ctx); err != nil || n != 0 {
		t.Fatalf("before the deadline: %d expired, %v", n, err)
	}
	now = now.Add(61 * time.Minute)
	if n, err := a.ExpireUnconfirmed(ctx); err != nil || n != 1 {
		t.Fatalf("after the deadline: %d expired, %v", n, err)
	}
	got, err := a.store.Submission(ctx, done.Submission.ID)
	if err != nil || got.Status != domain.StatusExpired {
		t.Fatalf("after expiry: %v %s", err, got.Status)
	}
	var expiredEvents int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM submission.outbox WHERE subject LIKE $1 || '.%'`, events.SubmissionExpired).Scan(&expiredEvents); err != nil || expiredEvents != 1 {
		t.Errorf("%d expired events, %v", expiredEvents, err)
	}
	if _, err := a.Confirm(ctx, token); err == nil {
		t.Error("an expired submission was confirmed")
	}
}
