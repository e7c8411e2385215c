package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

var secretariat = auth.Principal{Subject: "dpo-officer", Role: auth.RoleSecretariat}

// TestExportPersonalDataReturnsEveryVersion: the export finds the address
// whatever its case and spacing, with every version of every submission.
func TestExportPersonalDataReturnsEveryVersion(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	ana := testRespondent{stakeholder: "individual", person: "Ana Exportada", email: "Ana.Exportada@Example.org", publication: domain.PublicNamed}
	first := e.submit(c, ana, ansText("vision", "primera versión"), ansScale("acuerdo", 2))
	edited, err := e.app.Update(ctx, anyone, first.Submission.ID, 1, first.EditSecret, Changes{
		Respondent: domain.Respondent{StakeholderType: "individual", Country: "MX", PersonName: "Ana Exportada",
			ContactEmail: "Ana.Exportada@Example.org"},
		Language: "es", Answers: []domain.Answer{ansText("vision", "segunda versión"), ansScale("acuerdo", 5)},
	})
	if err != nil {
		t.Fatal(err)
	}
	second := e.submit(e.consultation(false), ana, ansText("vision", "otra consulta"))
	e.submit(c, testRespondent{stakeholder: "academia", org: "Universidad", email: "someone.else@example.org"}, ansText("vision", "ajeno"))

	pd, err := e.app.ExportPersonalData(ctx, "  ana.exportada@EXAMPLE.org ")
	if err != nil {
		t.Fatal(err)
	}
	if pd.Email != "ana.exportada@example.org" || len(pd.Submissions) != 2 || len(pd.Erasures) != 0 {
		t.Fatalf("export = %+v", pd)
	}
	got := pd.Submissions[0]
	if got.ID != first.Submission.ID || got.Status != domain.StatusActive || len(got.Versions) != 2 {
		t.Fatalf("first submission = %+v", got)
	}
	for i, want := range []string{"primera versión", "segunda versión"} {
		v := got.Versions[i]
		if v.Version != int64(i+1) || v.Answers[0].Text != want || v.Respondent.PersonName != "Ana Exportada" ||
			v.Respondent.ContactEmail != "Ana.Exportada@Example.org" || v.Receipt == nil || v.Receipt.Version != v.Version {
			t.Errorf("version %d = %+v", i+1, v)
		}
	}
	if got.Versions[1].Receipt.ID != edited.Receipt.ID {
		t.Errorf("receipt of version 2 = %s, want %s", got.Versions[1].Receipt.ID, edited.Receipt.ID)
	}
	if pd.Submissions[1].ID != second.Submission.ID || len(pd.Submissions[1].Versions) != 1 {
		t.Errorf("second submission = %+v", pd.Submissions[1])
	}

	// An address changed in an edit still finds the versions that held it.
	if _, err := e.app.Update(ctx, anyone, second.Submission.ID, 1, second.EditSecret, Changes{
		Respondent: domain.Respondent{StakeholderType: "individual", Country: "MX", ContactEmail: "ana.nueva@example.org"},
		Language:   "es", Answers: []domain.Answer{ansText("vision", "otra consulta, sin nombre")},
	}); err != nil {
		t.Fatal(err)
	}
	pd, err = e.app.ExportPersonalData(ctx, "ana.exportada@example.org")
	if err != nil || len(pd.Submissions) != 2 || len(pd.Submissions[1].Versions) != 2 {
		t.Errorf("after the address changed: %+v, %v", pd, err)
	}

	nothing, err := e.app.ExportPersonalData(ctx, "nobody@example.org")
	if err != nil || len(nothing.Submissions) != 0 {
		t.Errorf("unknown address: %+v, %v", nothing, err)
	}
}

// personalDataHits lists the columns of any table in schema submission
// (text, jsonb, bytea, arrays, whatever the table) that contain needle; text
// columns are searched without regard to case, bytes as they are.
func personalDataHits(t *testing.T, e *rightsEnv, needle string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'submission'
		  AND data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY', 'USER-DEFINED')
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ table, name, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
		var c column
		return c, r.Scan(&c.table, &c.name, &c.typ)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 20 {
		t.Fatalf("only %d columns to search: %v", len(cols), cols)
	}
	var hits []string
	for _, c := range cols {
		ident := pgx.Identifier{"submission", c.table}.Sanitize()
		col := pgx.Identifier{c.name}.Sanitize()
		cond := fmt.Sprintf("position(lower($1) IN lower(%s::text)) > 0", col)
		if c.typ == "bytea" {
			cond = fmt.Sprintf("position(convert_to($1, 'UTF8') IN %s) > 0", col)
		}
		var n int
		if err := e.pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", ident, cond), needle).Scan(&n); err != nil {
			t.Fatalf("search %s.%s: %v", c.table, c.name, err)
		}
		if n > 0 {
			hits = append(hits, fmt.Sprintf("%s.%s (%d rows)", c.table, c.name, n))
		}
	}
	return hits
}

// TestErasureLeavesNoPersonalData is issue 4's test: after an erasure no
// table of the submission schema holds the address, the person's name or
// the individual's texts (in the rows, the versions, the mail outbox, the
// events of the outbox); organisations' texts stay; receipts still verify;
// the erasure is audited and announced once per submission.
func TestErasureLeavesNoPersonalData(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	confirmed := e.consultation(true)

	const (
		email        = "Maria.Borrada@Example.org"
		person       = "María Borrada-Testeada"
		indivOrg     = "Colectivo Personal de María"
		indivText1   = "Mi opinión personal número uno"
		indivText2   = "Mi opinión personal corregida"
		pendingText  = "Texto pendiente de confirmación"
		orgText      = "Position of the association on data spaces"
		orgName      = "Asociación Datos Abiertos"
		otherEmail   = "keep.me@example.org"
		otherPerson  = "Persona Que Permanece"
		otherText    = "Texto de otra persona que permanece"
		individualID = "individual"
	)
	indiv := e.submit(c, testRespondent{stakeholder: individualID, org: indivOrg, person: person, email: email, publication: domain.PublicNamed},
		ansText("vision", indivText1), ansChoice("temas", "datos"), ansRanking("orden", "b", "a"))
	if _, err := e.app.Update(ctx, anyone, indiv.Submission.ID, 1, indiv.EditSecret, Changes{
		Respondent: domain.Respondent{StakeholderType: individualID, Country: "MX", OrganisationName: indivOrg,
			PersonName: person, ContactEmail: email},
		Language: "es", Answers: []domain.Answer{ansText("vision", indivText2), ansChoice("temas", "talento")},
		Publication: domain.PublicNamed,
	}); err != nil {
		t.Fatal(err)
	}
	// The same person as the contact of an organisation: their name and
	// address go, the organisation's texts stay.
	org := e.submit(c, testRespondent{stakeholder: "civil_society", org: orgName, person: person, email: strings.ToUpper(email),
		publication: domain.PublicNamed}, ansText("vision", orgText))
	// A pending submission elsewhere, whose confirmation mail waits.
	pending := e.submit(confirmed, testRespondent{stakeholder: individualID, person: person, email: email, publication: domain.PublicAnonymous},
		ansText("vision", pendingText))
	other := e.submit(c, testRespondent{stakeholder: individualID, person: otherPerson, email: otherEmail, publication: domain.PublicNamed},
		ansText("vision", otherText))
	erasedIDs := []string{indiv.Submission.ID, org.Submission.ID, pending.Submission.ID}
	slices.Sort(erasedIDs)
	// Translations of every version, which fill the translation memory
	// too: the individual's go with their texts, the organisation's stay.
	const (
		indivTrans1 = "My personal opinion number one"
		indivTrans2 = "My corrected personal opinion"
		orgTrans    = "Posición de la asociación sobre espacios de datos"
		otherTrans  = "Another person's text that stays"
	)
	for _, tr := range []struct {
		id       string
		version  int64
		lang     string
		text     string
		fromMemo bool
	}{{indiv.Submission.ID, 1, "en", indivTrans1, false}, {indiv.Submission.ID, 2, "en", indivTrans2, false},
		{org.Submission.ID, 1, "en", orgTrans, false}, {other.Submission.ID, 1, "en", otherTrans, false}} {
		rec := machine("vision", tr.lang, tr.text)
		rec.FromMemory = tr.fromMemo
		if _, err := e.app.RecordTranslations(ctx, service, tr.id, tr.version, []store.NewTranslation{rec}); err != nil {
			t.Fatalf("translation of %s v%d: %v", tr.id, tr.version, err)
		}
	}

	for _, s := range []string{email, person, indivOrg, indivText1, indivText2, pendingText, orgText, otherText,
		indivTrans1, indivTrans2, orgTrans, otherTrans} {
		if len(personalDataHits(t, e, s)) == 0 {
			t.Fatalf("%q is nowhere before the erasure: the search is broken", s)
		}
	}

	erasure, err := e.app.ErasePersonalData(ctx, secretariat, " maria.borrada@example.ORG ", "request DPR-2026-042")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(erasure.SubmissionIDs, erasedIDs) || erasure.RequestedBy != "dpo-officer" ||
		erasure.AddressTag != e.app.cfg.Signer.AddressTag(email) || erasure.Reason != "request DPR-2026-042" {
		t.Errorf("erasure = %+v, want submissions %v", erasure, erasedIDs)
	}

	for _, s := range []string{email, strings.ToLower(email), person, indivOrg, indivText1, indivText2, pendingText, indivTrans1, indivTrans2} {
		if hits := personalDataHits(t, e, s); len(hits) > 0 {
			t.Errorf("%q is still in %v", s, hits)
		}
	}
	// What was not the person's stays: the organisation's name and texts,
	// and everything of another respondent.
	for _, s := range []string{orgName, orgText, otherEmail, otherPerson, otherText, orgTrans, otherTrans} {
		if len(personalDataHits(t, e, s)) == 0 {
			t.Errorf("%q was erased too", s)
		}
	}
	// Choices and rankings are no texts: they stay, with the question ids.
	got, err := e.store.Submission(ctx, indiv.Submission.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ErasedAt.IsZero() || got.Version != 2 || len(got.Answers) != 2 || got.Answers[0].QuestionID != "vision" ||
		got.Answers[0].Text != "" || got.Answers[1].Options[0] != "talento" || got.Respondent.OrganisationName != "" {
		t.Errorf("erased submission = %+v", got)
	}

	// Receipts still verify, by their stored digests.
	for _, s := range []Submitted{indiv, org, pending, other} {
		check, err := e.app.VerifyReceipt(ctx, s.Submission.Receipt.ID, domain.Hex(s.Submission.Receipt.ContentDigest))
		if err != nil || !check.Valid {
			t.Errorf("receipt of %s: %+v, %v", s.Submission.ID, check, err)
		}
	}
	for _, tc := range []struct {
		id             string
		receipts, gone int
	}{{c.ID, 4, 3}, {confirmed.ID, 1, 1}} {
		rep, err := e.app.VerifyChain(ctx, tc.id)
		if err != nil || rep.FirstBreak != "" || rep.Receipts != tc.receipts || rep.Erased != tc.gone {
			t.Errorf("chain of %s: %+v, %v; want %d receipts, %d erased", tc.id, rep, err, tc.receipts, tc.gone)
		}
	}

	// The audit record, which finds the address again only with the
	// service's key: its unkeyed hash, which anyone could compute from a
	// guess, is in no column of the schema.
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.erasures
		WHERE id = $1 AND address_tag = $2 AND requested_by = 'dpo-officer' AND submission_ids = $3::uuid[]`,
		erasure.ID, e.app.cfg.Signer.AddressTag(email), erasedIDs).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit records = %d, %v", n, err)
	}
	for _, guess := range []string{strings.ToLower(email), email} {
		sum := sha256.Sum256([]byte(guess))
		if hits := personalDataHits(t, e, hex.EncodeToString(sum[:])); len(hits) > 0 {
			t.Errorf("the unkeyed SHA-256 of %q, which confirms a guess, is in %v", guess, hits)
		}
	}

	// One erased event per submission, without personal data.
	rows, err := e.pool.Query(ctx, `SELECT payload FROM submission.outbox WHERE subject LIKE $1 || '.%'`, events.SubmissionErased)
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	announced := map[string]int{}
	for _, b := range payloads {
		env, err := events.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var ev submissionv1.SubmissionErasedEvent
		if err := events.Payload(env, &ev); err != nil {
			t.Fatal(err)
		}
		announced[ev.GetSubmissionId()]++
		if env.GetAggregateId() != ev.GetSubmissionId() || ev.GetConsultationId() == "" || ev.GetVersion() < 1 {
			t.Errorf("erased event = %v in %v", &ev, env)
		}
	}
	if len(announced) != 3 {
		t.Errorf("erased events for %v, want one for each of %v", announced, erasedIDs)
	}
	for _, id := range erasedIDs {
		if announced[id] != 1 {
			t.Errorf("%d erased events for %s, want 1", announced[id], id)
		}
	}

	// The export now shows only the erasure; a second erasure finds nothing
	// and writes nothing.
	pd, err := e.app.ExportPersonalData(ctx, email)
	if err != nil || len(pd.Submissions) != 0 || len(pd.Erasures) != 1 || pd.Erasures[0].ID != erasure.ID {
		t.Errorf("export after erasure = %+v, %v", pd, err)
	}
	_, err = e.app.ErasePersonalData(ctx, secretariat, email, "again")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindNotFound || ae.Field != "email" {
		t.Errorf("second erasure: %v, want NotFound on email", err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.erasures`).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit records after a second erasure = %d, %v", n, err)
	}
}

// TestErasureRefusesBadRequests: no address, no reason: nothing happens.
func TestErasureRefusesBadRequests(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	for _, tc := range []struct{ email, reason, field string }{
		{"", "why", "email"}, {"   ", "why", "email"}, {"a@example.org", " ", "reason"}, {"unknown@example.org", "why", "email"},
	} {
		_, err := e.app.ErasePersonalData(ctx, secretariat, tc.email, tc.reason)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != tc.field {
			t.Errorf("erase(%q, %q) = %v, want an error on %s", tc.email, tc.reason, err, tc.field)
		}
	}
}
