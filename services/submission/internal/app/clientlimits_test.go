package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/ratelimit"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// redisLimiter is pkg/ratelimit on the test's Redis, under a prefix of the
// test's own.
type redisLimiter struct{ lim *ratelimit.Limiter }

func (r redisLimiter) Allow(ctx context.Context, l Limit, key string) error {
	return r.lim.Allow(ctx, ratelimit.Limit{Name: l.Name, Rate: l.Rate, Per: l.Per, Burst: l.Burst}, key)
}

// withLimits gives e's use cases real rate limits in Redis.
func (e *rightsEnv) withLimits(t *testing.T, limits Limits) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	cfg := e.app.cfg
	cfg.Limiter, cfg.Limits = redisLimiter{ratelimit.New(client, testenv.UniqueName(t))}, limits
	e.app = New(e.store, cfg)
}

func (e *rightsEnv) countSubmissions(c domain.Consultation) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM submission.submissions WHERE consultation_id = $1`, c.ID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *rightsEnv) trySubmit(c domain.Consultation, ip, email, key string) (Submitted, error) {
	return e.app.Submit(context.Background(), anyone, SubmitRequest{ClientIP: ip, Submission: domain.Submission{
		ConsultationID: c.ID, IdempotencyKey: key, RequestHash: []byte("the same request"),
		Respondent: domain.Respondent{StakeholderType: "academia", Country: "MX", ContactEmail: email},
		Language:   "es", Answers: []domain.Answer{ansText("vision", "Una respuesta.")},
	}})
}

// TestNormalFormSameInGoAndPostgres: the SQL function behind the address
// indexes gives every form the normal form Go gives it, so that the rows an
// erasure finds are the addresses the rate limit and the audit tag count as
// one.
func TestNormalFormSameInGoAndPostgres(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	forms := []string{
		"ana@example.org", "Ana@Example.ORG", "  ana@example.org\t", "ana+news@example.org", "ANA+x+y@example.org",
		"ana@example.org.", "ana@example.org..", `"ana"@example.org`, `"Ana+tag"@Example.org.`, `"a\na"@example.org`,
		`"a\"b"@example.org`, `"a\\b"@example.org`, `"x\`, " Ana+x@Example.org. ", "\u00a0ana@example.org\u3000\u2009",
		"ana.souza@gmail.com", "A.na.Sou.za+x@GMail.com.", "anasouza@googlemail.com", `"ana.souza"@gmail.com`,
		"+ana@example.org", "ÁNA@EXÄMPLE.org", "ÇA@ÉTÉ.fr", "no-at-sign", "a@b@example.org", "@example.org", "ana@", `""@example.org`,
		`"`, "", "ana@[192.0.2.1]",
	}
	for _, f := range forms {
		var sql string
		if err := pool.QueryRow(context.Background(), `SELECT submission.normalise_email($1)`, f).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		if goForm := NormaliseEmail(f); sql != goForm {
			t.Errorf("normal form of %q: Go %q, Postgres %q", f, goForm, sql)
		}
	}
}

// TestPerEmailLimitCountsTheNormalForm: +tags, case, a trailing dot,
// quotes and white space give no new budget; nothing is written for the
// refused submissions.
func TestPerEmailLimitCountsTheNormalForm(t *testing.T) {
	t.Parallel()
	e := newRightsEnv(t)
	e.withLimits(t, Limits{
		PerIP:    Limit{Name: "test per ip", Rate: 1000, Per: time.Hour, Burst: 1000},
		PerEmail: Limit{Name: "test per email", Rate: 1, Per: time.Hour, Burst: 1},
	})
	c := e.consultation(false)
	if _, err := e.trySubmit(c, "203.0.113.5", "ana@example.org", ""); err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{"ana+1@example.org", "Ana@Example.ORG", "ana@example.org.", `"ana"@example.org`,
		" ana@example.org ", `"Ana+2"@EXAMPLE.org.`} {
		_, err := e.trySubmit(c, "203.0.113.5", form, "")
		if codeOf(err) != codes.ResourceExhausted {
			t.Errorf("%q after ana@example.org: %v, want ResourceExhausted", form, err)
		}
	}
	if n := e.countSubmissions(c); n != 1 {
		t.Errorf("%d submissions written, want 1", n)
	}
	// Another mailbox has a budget of its own.
	if _, err := e.trySubmit(c, "203.0.113.5", "anna@example.org", ""); err != nil {
		t.Errorf("another address: %v", err)
	}
}

// TestErasureAndExportMatchEveryFormOfAnAddress: an erasure or an export
// of "Ana+x@Example.org." reaches the submissions given as
// "ana@example.org", "\"Ana\"@example.org" or "ANA+news@example.org.", and
// none of another mailbox; the audit record's tag is the normal form's, and
// an export under any form finds it.
func TestErasureAndExportMatchEveryFormOfAnAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	confirmed := e.consultation(true)
	person := func(email string) testRespondent {
		return testRespondent{stakeholder: "individual", person: "Ana", email: email, publication: domain.PublicNamed}
	}
	var mine []string
	for _, form := range []string{"ana@example.org", `"Ana"@example.org`, "ANA+news@example.org."} {
		mine = append(mine, e.submit(c, person(form), ansText("vision", "mío")).Submission.ID)
	}
	// Mail waiting for a confirmation, to yet another form.
	mine = append(mine, e.submit(confirmed, person("Ana+confirm@Example.org"), ansText("vision", "pendiente")).Submission.ID)
	slices.Sort(mine)
	var others []string
	for _, form := range []string{"anna@example.org", "a.na@example.org", "ana@example.com", "ana-news@example.org"} {
		others = append(others, e.submit(c, person(form), ansText("vision", "ajeno")).Submission.ID)
	}

	pd, err := e.app.ExportPersonalData(ctx, "Ana+x@Example.org.")
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, s := range pd.Submissions {
		exported = append(exported, s.ID)
	}
	slices.Sort(exported)
	if pd.Email != "ana@example.org" || !slices.Equal(exported, mine) {
		t.Errorf("export of Ana+x@Example.org.: %s %v, want ana@example.org %v", pd.Email, exported, mine)
	}

	erasure, err := e.app.ErasePersonalData(ctx, secretariat, ` "ANA+other"@EXAMPLE.ORG. `, "request DPR-2026-077")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(erasure.SubmissionIDs, mine) || erasure.AddressTag != e.app.cfg.Signer.AddressTag("ana@example.org") {
		t.Errorf("erasure %+v, want submissions %v and the tag of ana@example.org", erasure, mine)
	}
	var left int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.submission_versions
		WHERE submission_id = ANY($1::uuid[]) AND contact_email <> ''`, mine).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d versions still hold an address (%v)", left, err)
	}
	var mail int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.mail_outbox WHERE lower(to_address) LIKE 'ana+confirm@%'`).Scan(&mail); err != nil || mail != 0 {
		t.Errorf("%d mails to the erased address still queued (%v)", mail, err)
	}
	for _, id := range others {
		var email string
		if err := e.pool.QueryRow(ctx, `SELECT contact_email FROM submission.submissions WHERE id = $1`, id).Scan(&email); err != nil || email == "" {
			t.Errorf("submission %s of another mailbox lost its address (%v)", id, err)
		}
	}
	pd, err = e.app.ExportPersonalData(ctx, "ana@example.org")
	if err != nil || len(pd.Submissions) != 0 || len(pd.Erasures) != 1 || pd.Erasures[0].ID != erasure.ID {
		t.Errorf("export after the erasure: %+v %v, want its record alone", pd, err)
	}
}

// TestGmailDotsAreOneMailbox: Gmail ignores dots in the local part and
// googlemail.com is gmail.com, so an export under one spelling finds the
// others.
func TestGmailDotsAreOneMailbox(t *testing.T) {
	t.Parallel()
	e := newRightsEnv(t)
	c := e.consultation(false)
	a := e.submit(c, testRespondent{stakeholder: "academia", org: "U", email: "a.na.souza@googlemail.com"}, ansText("vision", "x"))
	pd, err := e.app.ExportPersonalData(context.Background(), "AnaSouza+dpr@gmail.com")
	if err != nil || len(pd.Submissions) != 1 || pd.Submissions[0].ID != a.Submission.ID {
		t.Errorf("export: %+v %v", pd, err)
	}
}

// TestConcurrentRetriesTakeOneBudget: 100 concurrent attempts of one
// request (one idempotency key, one address) under a limit of one
// submission per hour all get the first submission or "in progress", never
// the rate limit; the key took one token, so that the next new submission
// from the address is the one refused.
func TestConcurrentRetriesTakeOneBudget(t *testing.T) {
	t.Parallel()
	e := newRightsEnv(t)
	e.withLimits(t, Limits{
		PerIP:    Limit{Name: "test per ip", Rate: 2, Per: time.Hour, Burst: 2},
		PerEmail: Limit{Name: "test per email", Rate: 1000, Per: time.Hour, Burst: 1000},
	})
	c := e.consultation(false)
	const attempts = 100
	var wg sync.WaitGroup
	ids := make([]string, attempts)
	errs := make([]error, attempts)
	start := make(chan struct{})
	for i := range attempts {
		wg.Go(func() {
			<-start
			done, err := e.trySubmit(c, "203.0.113.5", "", "retry-me")
			ids[i], errs[i] = done.Submission.ID, err
		})
	}
	close(start)
	wg.Wait()
	first, inProgress := "", 0
	for i, err := range errs {
		switch {
		case err == nil:
			if first == "" {
				first = ids[i]
			}
			if ids[i] != first {
				t.Errorf("attempt %d got submission %s, another got %s", i, ids[i], first)
			}
		case codeOf(err) == codes.Aborted:
			inProgress++
		default:
			t.Errorf("attempt %d: %v", i, err)
		}
	}
	if n := e.countSubmissions(c); n != 1 {
		t.Fatalf("%d submissions written, want 1", n)
	}
	t.Logf("%d attempts answered with the submission, %d told it is in progress", attempts-inProgress, inProgress)
	// A retry now gets the submission.
	if done, err := e.trySubmit(c, "203.0.113.5", "", "retry-me"); err != nil || (first != "" && done.Submission.ID != first) {
		t.Errorf("retry after the burst: %v %s", err, done.Submission.ID)
	}
	// One token went to the key: one more submission passes, the next is limited.
	if _, err := e.trySubmit(c, "203.0.113.5", "", "another"); err != nil {
		t.Errorf("second request from the address: %v", err)
	}
	if _, err := e.trySubmit(c, "203.0.113.5", "", "a third"); codeOf(err) != codes.ResourceExhausted {
		t.Errorf("third request from the address: %v, want ResourceExhausted", err)
	}
}

// TestClaimedKeyIsInProgress: while another attempt holds a key, a retry is
// told so (Aborted, naming the field) and writes nothing; a claim left by a
// dead process is taken over once stale.
func TestClaimedKeyIsInProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	if _, err := e.pool.Exec(ctx, `INSERT INTO submission.idempotency_claims (consultation_id, idempotency_key, claim_id)
		VALUES ($1, 'held', gen_random_uuid()), ($1, 'stale', gen_random_uuid())`, c.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.trySubmit(c, "203.0.113.5", "", "held")
	if codeOf(err) != codes.Aborted || !strings.Contains(err.Error(), "idempotency_key") || !strings.Contains(err.Error(), "in progress") {
		t.Errorf("a held key: %v, want Aborted naming idempotency_key", err)
	}
	if n := e.countSubmissions(c); n != 0 {
		t.Errorf("%d submissions written for a held key", n)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE submission.idempotency_claims SET claimed_at = now() - $1::interval
		WHERE idempotency_key = 'stale'`, fmt.Sprintf("%d seconds", int(claimTTL.Seconds())+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.trySubmit(c, "203.0.113.5", "", "stale"); err != nil {
		t.Errorf("a stale claim: %v", err)
	}
	var claims int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM submission.idempotency_claims WHERE idempotency_key = 'stale'`).Scan(&claims); err != nil || claims != 0 {
		t.Errorf("%d claims left after the submission (%v)", claims, err)
	}
}

// codeOf is the gRPC code the edge gives err.
func codeOf(err error) codes.Code {
	if st, ok := apperr.Status(err); ok {
		return st.Code()
	}
	return status.Code(err)
}

// TestExportFindsErasuresTaggedUnderTheOldForm: erasure records written
// when the normal form was only trimmed and lower case are still found by
// an export of the address as it was given then.
func TestExportFindsErasuresTaggedUnderTheOldForm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRightsEnv(t)
	old := e.app.cfg.Signer.legacyAddressTag("Ana+Old@Example.org")
	if old == e.app.cfg.Signer.AddressTag("Ana+Old@Example.org") {
		t.Fatal("the old and new tags are the same: nothing to test")
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO submission.erasures (id, address_tag, requested_by, reason, submission_ids, erased_at)
		VALUES (gen_random_uuid(), $1, 'dpo', 'old request', '{}', now())`, old); err != nil {
		t.Fatal(err)
	}
	pd, err := e.app.ExportPersonalData(ctx, " ana+old@example.ORG")
	if err != nil || len(pd.Erasures) != 1 || pd.Erasures[0].Reason != "old request" {
		t.Errorf("export: %+v %v, want the old erasure record", pd, err)
	}
}
