package app

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// versionOf is the content a receipt of s covers, as its holder sees it.
func versionOf(s domain.Submission) domain.VersionContent {
	return domain.VersionContent{
		ConsultationID: s.ConsultationID, SubmissionID: s.ID, Version: s.Version, Respondent: s.Respondent,
		Language: s.Language, Answers: s.Answers, Publication: s.Publication,
		Withdrawn: s.Status == domain.StatusWithdrawn, CreatedAt: s.Receipt.IssuedAt,
	}
}

// storedBytes is every bytea value held anywhere in schema submission: all
// a reader of the database has to try as a key or a salt.
func storedBytes(t *testing.T, e *rightsEnv) [][]byte {
	t.Helper()
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'submission' AND data_type = 'bytea'`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var c [2]string
		return c, r.Scan(&c[0], &c[1])
	})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, c := range cols {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE %[1]s IS NOT NULL", pgx.Identifier{c[1]}.Sanitize(),
			pgx.Identifier{"submission", c[0]}.Sanitize())
		rows, err := e.pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vals...)
	}
	return out
}

// confirms reports whether a guess of a version's content can be confirmed
// against its receipt's digest (and, when the reader has the database, the
// stored personal digest) with the values of pool: as the legacy unsalted
// digest, or using any value of pool as the receipt key, the personal salt
// or, when the content itself was erased, the content salt.
func confirms(guess domain.VersionContent, digest, personalDigest []byte, pool [][]byte, contentErased bool) bool {
	if bytes.Equal(domain.LegacyContentDigest(guess), digest) {
		return true
	}
	for _, cand := range pool {
		c, d := domain.Commit(cand, guess)
		if bytes.Equal(d, digest) {
			return true
		}
		if personalDigest == nil {
			continue
		}
		if bytes.Equal(c.PersonalDigest, personalDigest) ||
			bytes.Equal(domain.PersonalDigest(cand, guess.Respondent), personalDigest) {
			return true
		}
		if contentErased && bytes.Equal(domain.SaltedContentDigest(cand, personalDigest, guess), digest) {
			return true
		}
	}
	return false
}

// TestGuessedPersonalDataCannotBeConfirmed: from a public receipt and
// everything public about a submission, an exact guess of the contact
// address (and, for an anonymous organisation, of its name and contact
// person) cannot be confirmed, although the submitter's key confirms it;
// after an erasure not even a reader of the whole database can, neither
// the address nor an individual's erased texts. With the unsalted digest
// of old, the public receipt confirmed the guess.
func TestGuessedPersonalDataCannotBeConfirmed(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	anonymous := testRespondent{stakeholder: "civil_society", org: "Red Anónima de Periodistas", person: "Lucía Fuente",
		email: "lucia.fuente@example.org", publication: domain.PublicAnonymous}
	individual := testRespondent{stakeholder: "individual", person: "Pedro Privado", email: "pedro.privado@example.org",
		publication: domain.PublicNamed}
	subs := []struct {
		name  string
		who   testRespondent
		done  Submitted
		truth domain.Submission
	}{
		{name: "anonymous organisation", who: anonymous},
		{name: "individual", who: individual},
	}
	subs[0].done = e.submit(c, anonymous, ansText("vision", "Texto público de la red"), ansScale("acuerdo", 2))
	subs[1].done = e.submit(c, individual, ansText("vision", "Mi opinión privada"), ansScale("acuerdo", 3))

	for i := range subs {
		s := &subs[i]
		s.truth = s.done.Submission
		pub, err := e.app.Get(ctx, anyone, s.truth.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if pub.Respondent.ContactEmail != "" || len(pub.ReceiptKey) != 0 ||
			(s.who.publication == domain.PublicAnonymous && (pub.Respondent.OrganisationName != "" || pub.Respondent.PersonName != "")) {
			t.Fatalf("%s: the public view shows %+v", s.name, pub)
		}
		check, err := e.app.VerifyReceipt(ctx, pub.Receipt.ID, "")
		if err != nil || !check.Valid {
			t.Fatalf("%s: receipt: %+v, %v", s.name, check, err)
		}
		// The attacker's guess: the public view with the hidden fields
		// guessed right.
		guess := versionOf(pub)
		guess.Respondent = s.truth.Respondent
		r := check.Receipt
		public := [][]byte{r.ContentDigest, r.PreviousDigest, r.ChainDigest, []byte(r.ID), []byte(pub.ID), []byte(c.ID)}
		if confirms(guess, r.ContentDigest, nil, public, false) {
			t.Errorf("%s: the public receipt confirms the guessed address", s.name)
		}
		// The guess is exact: the submitter's key confirms it.
		if err := domain.VerifyContent(s.done.Submission.ReceiptKey, guess, r.ContentDigest); err != nil {
			t.Fatalf("%s: the submitter cannot verify their receipt: %v", s.name, err)
		}
	}

	personalDigest := func(id string) []byte {
		var d []byte
		if err := e.pool.QueryRow(ctx, `SELECT personal_digest FROM submission.submission_versions WHERE submission_id = $1`,
			id).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Before an erasure the database holds the keys: the search finds them,
	// so it would find whatever an erasure left behind.
	pool := storedBytes(t, e)
	for _, s := range subs {
		if !confirms(versionOf(s.truth), s.truth.Receipt.ContentDigest, personalDigest(s.truth.ID), pool, true) {
			t.Fatalf("%s: the stored key does not confirm the content: the search is broken", s.name)
		}
	}

	for _, s := range subs {
		if _, err := e.app.ErasePersonalData(ctx, secretariat, s.who.email, "request"); err != nil {
			t.Fatal(err)
		}
	}
	pool = storedBytes(t, e)
	for _, s := range subs {
		contentErased := s.who.stakeholder == "individual"
		if confirms(versionOf(s.truth), s.truth.Receipt.ContentDigest, personalDigest(s.truth.ID), pool, contentErased) {
			t.Errorf("%s: after the erasure, the database and the receipt confirm the erased data", s.name)
		}
	}
	// What is not personal is still checked.
	rep, err := e.app.VerifyChain(ctx, c.ID)
	if err != nil || rep.FirstBreak != "" || rep.Receipts != 2 || rep.Erased != 2 || rep.StoredOnly != 1 {
		t.Errorf("chain after the erasures: %+v, %v; want 2 receipts, 2 erased, 1 by its stored digest only", rep, err)
	}
}

// TestErasureDeletesReceiptKeys: an erasure deletes the receipt key of
// every version of the erased submissions, and an individual's content
// salts; an organisation keeps its content salt, and other submitters
// keep everything.
func TestErasureDeletesReceiptKeys(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	const email = "erase.me@example.org"
	indiv := e.submit(c, testRespondent{stakeholder: "individual", person: "Erase Me", email: email, publication: domain.PublicNamed},
		ansText("vision", "mine"))
	if _, err := e.app.Update(ctx, anyone, indiv.Submission.ID, 1, indiv.EditSecret, Changes{
		Respondent: domain.Respondent{StakeholderType: "individual", Country: "MX", PersonName: "Erase Me", ContactEmail: email},
		Language:   "es", Answers: []domain.Answer{ansText("vision", "mine, edited")},
	}); err != nil {
		t.Fatal(err)
	}
	org := e.submit(c, testRespondent{stakeholder: "academia", org: "Universidad", person: "Erase Me", email: email,
		publication: domain.PublicNamed}, ansText("vision", "the university's"))
	other := e.submit(c, testRespondent{stakeholder: "individual", person: "Stays", email: "stays@example.org",
		publication: domain.PublicNamed}, ansText("vision", "theirs"))

	type keys struct{ versions, withKey, withSalt, withDigest int }
	count := func(id string) keys {
		var k keys
		if err := e.pool.QueryRow(ctx, `SELECT count(*), count(receipt_key), count(content_salt), count(personal_digest)
			FROM submission.submission_versions WHERE submission_id = $1`, id).Scan(&k.versions, &k.withKey, &k.withSalt, &k.withDigest); err != nil {
			t.Fatal(err)
		}
		return k
	}
	for id, want := range map[string]keys{indiv.Submission.ID: {2, 2, 2, 2}, org.Submission.ID: {1, 1, 1, 1}, other.Submission.ID: {1, 1, 1, 1}} {
		if got := count(id); got != want {
			t.Fatalf("before the erasure, %s: %+v, want %+v", id, got, want)
		}
	}
	if _, err := e.app.ErasePersonalData(ctx, secretariat, email, "request"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]keys{indiv.Submission.ID: {2, 0, 0, 2}, org.Submission.ID: {1, 0, 1, 1}, other.Submission.ID: {1, 1, 1, 1}} {
		if got := count(id); got != want {
			t.Errorf("after the erasure, %s: %+v, want %+v", id, got, want)
		}
	}
	for _, k := range [][]byte{indiv.Submission.ReceiptKey, org.Submission.ReceiptKey} {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.submission_versions WHERE receipt_key = $1`, k).Scan(&n); err != nil || n != 0 {
			t.Errorf("an erased key is still stored: %d, %v", n, err)
		}
	}
}

// TestChainHoldsAfterErasure: after an erasure every receipt still
// verifies and the chain is intact; an erased organisation's content is
// still tied to its receipt, so changing it afterwards breaks the chain
// (the unsalted digest of old could not be rechecked once erased).
func TestChainHoldsAfterErasure(t *testing.T) {
	ctx := context.Background()
	e, c, subs := chainOfFour(t)
	// subs[1] was edited: two versions, receipts 2 and 4.
	if _, err := e.app.ErasePersonalData(ctx, secretariat, "r1@example.org", "request"); err != nil {
		t.Fatal(err)
	}
	rep, err := e.app.VerifyChain(ctx, c.ID)
	if err != nil || rep.FirstBreak != "" || rep.Receipts != 4 || rep.Erased != 2 || rep.StoredOnly != 0 {
		t.Fatalf("chain after the erasure: %+v, %v; want 4 receipts, 2 erased and rechecked", rep, err)
	}
	for seq := int64(1); seq <= 4; seq++ {
		var id string
		if err := e.pool.QueryRow(ctx, `SELECT receipt_id FROM submission.receipts WHERE consultation_id = $1 AND seq = $2`,
			c.ID, seq).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if check, err := e.app.VerifyReceipt(ctx, id, ""); err != nil || !check.Valid {
			t.Errorf("receipt %d after the erasure: %+v, %v", seq, check, err)
		}
	}
	e.exec(`UPDATE submission.submission_versions SET answers = '[{"kind": "text", "text": "rewritten", "question_id": "vision"}]'
		WHERE submission_id = $1 AND version = 1`, subs[1].Submission.ID)
	rep, err = e.app.VerifyChain(ctx, c.ID)
	if err != nil || rep.BreakAt != 2 {
		t.Errorf("an erased organisation's answers rewritten: %+v, %v; want a break at receipt 2", rep, err)
	}
}

// TestSubmitterKeepsTheReceiptKey: every write that makes a version answers
// with a fresh key that verifies that version's receipt against its
// content; an idempotent retry answers with the same key.
func TestSubmitterKeepsTheReceiptKey(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	req := SubmitRequest{Submission: domain.Submission{
		ConsultationID: c.ID, Language: "es", Publication: domain.Confidential, IdempotencyKey: "retry-1", RequestHash: []byte("h"),
		Respondent: domain.Respondent{StakeholderType: "academia", Country: "MX", OrganisationName: "Uni", ContactEmail: "k@example.org"},
		Answers:    []domain.Answer{ansText("vision", "confidential view")},
	}}
	first, err := e.app.Submit(ctx, anyone, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.app.Submit(ctx, anyone, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Submission.ReceiptKey) != domain.ReceiptKeySize || !bytes.Equal(again.Submission.ReceiptKey, first.Submission.ReceiptKey) {
		t.Fatalf("keys: first %x, retry %x", first.Submission.ReceiptKey, again.Submission.ReceiptKey)
	}
	updated, err := e.app.Update(ctx, anyone, first.Submission.ID, 1, first.EditSecret, Changes{
		Respondent: first.Submission.Respondent, Language: "es", Answers: []domain.Answer{ansText("vision", "second view")},
		Publication: domain.Confidential,
	})
	if err != nil {
		t.Fatal(err)
	}
	withdrawn, err := e.app.Withdraw(ctx, anyone, first.Submission.ID, first.EditSecret)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range []domain.Submission{first.Submission, updated, withdrawn} {
		if err := domain.VerifyContent(s.ReceiptKey, versionOf(s), s.Receipt.ContentDigest); err != nil {
			t.Errorf("version %d: %v", s.Version, err)
		}
		seen[string(s.ReceiptKey)] = true
	}
	if len(seen) != 3 {
		t.Errorf("three versions share keys: %d distinct", len(seen))
	}
	// Someone else's content does not verify under the key.
	wrong := versionOf(updated)
	wrong.Respondent.ContactEmail = "other@example.org"
	if err := domain.VerifyContent(updated.ReceiptKey, wrong, updated.Receipt.ContentDigest); err == nil {
		t.Error("another address verifies")
	}
	// Reads carry no key.
	got, err := e.app.Get(ctx, anyone, first.Submission.ID, first.EditSecret)
	if err != nil || len(got.ReceiptKey) != 0 {
		t.Errorf("the author's read: key %x, %v", got.ReceiptKey, err)
	}
}

// TestLegacyReceiptsStillVerify: a version accepted before salted receipts
// (format 1, no key) is still rechecked from its unsalted digest, and after
// an erasure its stored digest stands.
func TestLegacyReceiptsStillVerify(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	done := e.submit(c, testRespondent{stakeholder: "academia", org: "Old Uni", email: "old@example.org", publication: domain.PublicNamed},
		ansText("vision", "from before"))
	// Turn it into what migration 00006 leaves of an older version.
	s := done.Submission
	legacy := domain.LegacyContentDigest(versionOf(s))
	chain := domain.ChainDigest(c.ID, 1, domain.GenesisDigest, legacy)
	e.exec(`UPDATE submission.submission_versions SET receipt_format = 1, receipt_key = NULL, content_salt = NULL,
		personal_digest = NULL WHERE submission_id = $1`, s.ID)
	e.exec(`UPDATE submission.receipts SET content_digest = $2, chain_digest = $3 WHERE receipt_id = $1`, s.Receipt.ID, legacy, chain)
	e.exec(`UPDATE submission.chain_heads SET chain_digest = $2 WHERE consultation_id = $1`, c.ID, chain)

	rep, err := e.app.VerifyChain(ctx, c.ID)
	if err != nil || rep.FirstBreak != "" || rep.StoredOnly != 0 {
		t.Fatalf("legacy chain: %+v, %v", rep, err)
	}
	e.exec(`UPDATE submission.submission_versions SET organisation_name = 'Other Uni' WHERE submission_id = $1`, s.ID)
	if check, err := e.app.VerifyReceipt(ctx, s.Receipt.ID, ""); err != nil || check.Valid {
		t.Errorf("an altered legacy version: %+v, %v", check, err)
	}
	e.exec(`UPDATE submission.submission_versions SET organisation_name = 'Old Uni' WHERE submission_id = $1`, s.ID)
	if _, err := e.app.ErasePersonalData(ctx, secretariat, "old@example.org", "request"); err != nil {
		t.Fatal(err)
	}
	rep, err = e.app.VerifyChain(ctx, c.ID)
	if err != nil || rep.FirstBreak != "" || rep.Erased != 1 || rep.StoredOnly != 1 {
		t.Errorf("erased legacy chain: %+v, %v; want its stored digest to stand", rep, err)
	}
}
