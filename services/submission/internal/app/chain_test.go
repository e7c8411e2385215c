package app

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// chainOfFour makes a consultation whose chain has four receipts: three
// submissions, the second edited once (receipts 1, 2, 3, then 4 for the
// edit).
func chainOfFour(t *testing.T) (*rightsEnv, domain.Consultation, []Submitted) {
	t.Helper()
	e := newRightsEnv(t)
	c := e.consultation(false)
	var subs []Submitted
	for i := range 3 {
		subs = append(subs, e.submit(c, testRespondent{stakeholder: "academia", org: fmt.Sprintf("Org %d", i),
			email: fmt.Sprintf("r%d@example.org", i), publication: domain.PublicNamed}, ansText("vision", fmt.Sprintf("view %d", i))))
	}
	if _, err := e.app.Update(context.Background(), anyone, subs[1].Submission.ID, 1, subs[1].EditSecret, Changes{
		Respondent: domain.Respondent{StakeholderType: "academia", Country: "MX", OrganisationName: "Org 1"},
		Language:   "es", Answers: []domain.Answer{ansText("vision", "view 1, edited")},
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.app.VerifyChain(context.Background(), c.ID)
	if err != nil || rep.FirstBreak != "" || rep.Receipts != 4 {
		t.Fatalf("intact chain: %+v, %v", rep, err)
	}
	return e, c, subs
}

func (e *rightsEnv) exec(sql string, args ...any) {
	e.t.Helper()
	tag, err := e.pool.Exec(context.Background(), sql, args...)
	if err != nil || tag.RowsAffected() != 1 {
		e.t.Fatalf("%s: %v (%d rows)", sql, err, tag.RowsAffected())
	}
}

// TestChainReportsTheFirstBreak tampers with the tables behind the service's
// back and expects VerifyChain to name the first receipt that no longer
// holds.
func TestChainReportsTheFirstBreak(t *testing.T) {
	ctx := context.Background()
	t.Run("version deleted", func(t *testing.T) {
		e, c, subs := chainOfFour(t)
		victim := subs[1].Submission
		e.exec(`DELETE FROM submission.submission_versions WHERE submission_id = $1 AND version = 1`, victim.ID)
		rep, err := e.app.VerifyChain(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("receipt 2: version 1 of submission %s is missing", victim.ID)
		if rep.BreakAt != 2 || rep.FirstBreak != want {
			t.Errorf("report = %+v, want a break at receipt 2: %q", rep, want)
		}
	})
	t.Run("version altered", func(t *testing.T) {
		e, c, subs := chainOfFour(t)
		e.exec(`UPDATE submission.submission_versions SET organisation_name = 'Someone Else' WHERE submission_id = $1`,
			subs[2].Submission.ID)
		rep, err := e.app.VerifyChain(ctx, c.ID)
		if err != nil || rep.BreakAt != 3 || !strings.Contains(rep.FirstBreak, "altered") {
			t.Errorf("report = %+v, %v; want receipt 3 altered", rep, err)
		}
	})
	t.Run("receipt deleted", func(t *testing.T) {
		e, c, subs := chainOfFour(t)
		e.exec(`DELETE FROM submission.receipts WHERE consultation_id = $1 AND seq = 3`, c.ID)
		rep, err := e.app.VerifyChain(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.BreakAt != 4 || !strings.Contains(rep.FirstBreak, "receipt 4 follows receipt 2") || rep.Receipts != 3 {
			t.Errorf("report = %+v, want a break at receipt 4 after the missing 3", rep)
		}
		// The receipt after the gap no longer verifies either.
		last, err := e.store.Submission(ctx, subs[1].Submission.ID)
		if err != nil {
			t.Fatal(err)
		}
		if check, err := e.app.VerifyReceipt(ctx, last.Receipt.ID, ""); err != nil || check.Valid {
			t.Errorf("receipt 4 after the gap: %+v, %v", check, err)
		}
	})
	t.Run("last receipt deleted", func(t *testing.T) {
		e, c, _ := chainOfFour(t)
		e.exec(`DELETE FROM submission.receipts WHERE consultation_id = $1 AND seq = 4`, c.ID)
		rep, err := e.app.VerifyChain(ctx, c.ID)
		if err != nil || rep.FirstBreak == "" || rep.BreakAt != 4 {
			t.Errorf("report = %+v, %v; want the removed end reported", rep, err)
		}
	})
}
