package app

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// rightsEnv is the submission service's use cases on a database of the
// test's own.
type rightsEnv struct {
	t     testing.TB
	pool  *pgxpool.Pool
	store *store.Store
	app   *App
}

var anyone = auth.Principal{Role: auth.RolePublic}

func newRightsEnv(t testing.TB) *rightsEnv {
	t.Helper()
	pool := testenv.Pool(t)
	signer, err := NewSigner([]byte("a signing key for the tests of data rights"))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	return &rightsEnv{t: t, pool: pool, store: st, app: New(st, Config{Signer: signer})}
}

// questionnaire has one question of every kind but file, which tests add
// when they need it.
func questionnaire() []domain.Question {
	return []domain.Question{
		{ID: "vision", Kind: domain.KindText, Required: true, MaxLength: 2000},
		{ID: "temas", Kind: domain.KindChoice, Options: []string{"datos", "computo", "talento"}, Multiple: true, MaxChoices: 2},
		{ID: "acuerdo", Kind: domain.KindScale},
		{ID: "orden", Kind: domain.KindRanking, Options: []string{"a", "b"}},
	}
}

// consultation puts an open consultation into the read model, as its
// consumer would, and returns it.
func (e *rightsEnv) consultation(confirm bool, questions ...domain.Question) domain.Consultation {
	e.t.Helper()
	c := domain.Consultation{
		ID: uuid.Must(uuid.NewV7()).String(), Version: 1, Status: domain.StatusOpen,
		ClosesAt: time.Now().Add(365 * 24 * time.Hour).UTC(), Languages: []string{"es", "en"},
		Questions: append(questionnaire(), questions...), ThematicArea: "ai_hpc",
		RequireEmailConfirmation: confirm,
	}
	e.apply(c)
	return c
}

func (e *rightsEnv) apply(c domain.Consultation) {
	e.t.Helper()
	ctx := context.Background()
	if err := postgres.InTx(ctx, e.pool, func(tx pgx.Tx) error { return store.ApplyConsultation(ctx, tx, c) }); err != nil {
		e.t.Fatal(err)
	}
}

// testRespondent is who answers in the tests.
type testRespondent struct {
	stakeholder, org, register, person, email string
	publication                               domain.Publication
}

func (e *rightsEnv) submit(c domain.Consultation, r testRespondent, answers ...domain.Answer) Submitted {
	e.t.Helper()
	done, err := e.app.Submit(context.Background(), anyone, SubmitRequest{Submission: domain.Submission{
		ConsultationID: c.ID,
		Respondent: domain.Respondent{StakeholderType: r.stakeholder, Country: "MX", OrganisationName: r.org,
			PersonName: r.person, ContactEmail: r.email, TransparencyRegisterID: r.register},
		Language: "es", Answers: answers, Publication: r.publication,
	}})
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return done
}

// confirm follows the emailed link of a pending submission.
func (e *rightsEnv) confirm(s domain.Submission) {
	e.t.Helper()
	tok := e.app.cfg.Signer.ConfirmationToken(s.ID, s.ConfirmationExpiresAt)
	if _, err := e.app.Confirm(context.Background(), tok); err != nil {
		e.t.Fatalf("confirm %s: %v", s.ID, err)
	}
}

func ansText(q, s string) domain.Answer {
	return domain.Answer{QuestionID: q, Kind: domain.AnswerText, Text: s}
}

func ansChoice(q string, opts ...string) domain.Answer {
	return domain.Answer{QuestionID: q, Kind: domain.AnswerChoice, Options: opts}
}

func ansScale(q string, n int) domain.Answer {
	return domain.Answer{QuestionID: q, Kind: domain.AnswerScale, Scale: n}
}

func ansRanking(q string, opts ...string) domain.Answer {
	return domain.Answer{QuestionID: q, Kind: domain.AnswerRanking, Options: opts}
}
