package app

import (
	"bytes"
	"context"
	"fmt"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/pagetoken"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// visibility is what p may see of the submissions of consultation c, of
// which author wrote the one concerned ("" for a listing). A co-lead sees all
// but contact data while their country co-leads the consultation's thematic
// area now: the check reads the current co-leads, so a change of co-leads
// takes effect at once.
func (a *App) visibility(ctx context.Context, p auth.Principal, c domain.Consultation, author string) (domain.Visibility, error) {
	switch {
	case p.Role == auth.RoleSecretariat:
		return domain.SeeAllWithContact, nil
	case p.Subject != "" && p.Subject == author:
		return domain.SeeAllWithContact, nil
	case p.Role == auth.RoleColead:
		ok, err := a.coLeadOf(ctx, c, p.Country)
		if err != nil {
			return domain.SeePublic, err
		}
		if ok {
			return domain.SeeAll, nil
		}
	}
	return domain.SeePublic, nil
}

// Get returns submission id as much as the caller may see: everything to
// the secretariat and the author (logged in or holding the edit secret),
// everything but contact data to co-leads of its consultation, and to
// everyone else only a public, active submission, without names when it is
// anonymous.
func (a *App) Get(ctx context.Context, p auth.Principal, id, secret string) (domain.Submission, error) {
	sub, err := a.store.Submission(ctx, id)
	if err != nil {
		return sub, err
	}
	c, err := a.store.Consultation(ctx, sub.ConsultationID)
	if err != nil {
		return sub, err
	}
	v := domain.SeeAllWithContact
	if !a.cfg.Signer.CheckEditSecret(sub.ID, secret) {
		if v, err = a.visibility(ctx, p, c, sub.CreatedBy); err != nil {
			return domain.Submission{}, err
		}
	}
	out, ok := sub.Redact(v)
	if !ok {
		// Do not confirm that a submission the caller may not see exists.
		return domain.Submission{}, apperr.NotFound("id", "submission %s not found", id)
	}
	return out, nil
}

// List returns the submissions of a consultation that p may see, oldest
// first, a page at a time.
func (a *App) List(ctx context.Context, p auth.Principal, f store.SubmissionFilter, pageSize int, pageToken string) ([]domain.Submission, string, error) {
	c, err := a.store.Consultation(ctx, f.ConsultationID)
	if err != nil {
		return nil, "", err
	}
	if c.Status == domain.StatusDraft {
		return nil, "", apperr.NotFound("consultation_id", "consultation %s not found", f.ConsultationID)
	}
	v, err := a.visibility(ctx, p, c, "")
	if err != nil {
		return nil, "", err
	}
	if v == domain.SeePublic {
		f.PublicOnly = true
	}
	pos, err := pagetoken.Decode(pageToken)
	if err != nil {
		return nil, "", err
	}
	limit := pagetoken.Limit(pageSize, 100, 500)
	f.AfterCreatedAt, f.AfterID, f.Limit = pos.At, pos.ID, limit+1
	subs, err := a.store.ListSubmissions(ctx, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(subs) > limit {
		subs = subs[:limit]
		last := subs[limit-1]
		next = pagetoken.Encode(pagetoken.Position{At: last.CreatedAt, ID: last.ID})
	}
	out := make([]domain.Submission, 0, len(subs))
	for _, s := range subs {
		if r, ok := s.Redact(v); ok {
			out = append(out, r)
		}
	}
	return out, next, nil
}

// ReceiptCheck is the outcome of verifying one receipt.
type ReceiptCheck struct {
	Valid   bool
	Reason  string
	Receipt domain.Receipt
}

// VerifyReceipt checks receipt id: it must link to the receipts around it,
// its content digest must be the commitment of the version it covers, as
// far as what the service kept allows (after an erasure the non-personal
// content of an organisation is still checked; an individual's erased
// version has only its stored digest), and, when given, equal digest.
// Nothing it answers depends on the version's content: the public learns
// whether the receipt holds, not what it covers.
func (a *App) VerifyReceipt(ctx context.Context, id, digest string) (ReceiptCheck, error) {
	r, prev, next, err := a.store.Receipt(ctx, id)
	if err != nil {
		return ReceiptCheck{}, err
	}
	out := ReceiptCheck{Receipt: r}
	fail := func(format string, args ...any) (ReceiptCheck, error) {
		out.Reason = fmt.Sprintf(format, args...)
		return out, nil
	}
	if digest != "" && digest != domain.Hex(r.ContentDigest) {
		return fail("the content digest %s is not the one this receipt holds", digest)
	}
	if r.Sequence > 1 && prev == nil {
		return fail("receipt %d, before this one, is missing", r.Sequence-1)
	}
	if err := r.Link(prev); err != nil {
		return fail("%v", err)
	}
	if next != nil {
		if err := next.Link(&r); err != nil {
			return fail("%v", err)
		}
	}
	v, c, erased, err := a.store.Version(ctx, r.ConsultationID, r.SubmissionID, r.Version)
	if apperr.IsNotFound(err) {
		return fail("version %d of submission %s is missing", r.Version, r.SubmissionID)
	}
	if err != nil {
		return out, err
	}
	if _, err := c.Recheck(v, erased, r.ContentDigest); err != nil {
		return fail("version %d of submission %s: %v", r.Version, r.SubmissionID, err)
	}
	out.Valid = true
	return out, nil
}

// ChainReport is the outcome of checking a consultation's whole chain.
type ChainReport struct {
	Receipts int
	// Erased counts receipts of erased versions; StoredOnly those of them
	// whose content nothing is left to recheck (individuals' versions and
	// versions of the legacy format): their stored digest stands.
	Erased     int
	StoredOnly int
	// FirstBreak describes the first problem found, "" when the chain is intact.
	FirstBreak string
	// BreakAt is the position of the first problem.
	BreakAt int64
}

// VerifyChain walks a consultation's receipts in order and reports the first
// break: a missing or reordered receipt, a digest that does not link, a
// version missing or altered after its receipt, or a submission without a
// receipt for its latest version.
func (a *App) VerifyChain(ctx context.Context, consultationID string) (ChainReport, error) {
	var rep ChainReport
	var prev *domain.Receipt
	brk := func(seq int64, format string, args ...any) {
		if rep.FirstBreak == "" {
			rep.FirstBreak, rep.BreakAt = fmt.Sprintf(format, args...), seq
		}
	}
	err := a.store.WalkChain(ctx, consultationID, func(e store.ChainEntry) error {
		rep.Receipts++
		r := e.Receipt
		if err := r.Link(prev); err != nil {
			brk(r.Sequence, "%v", err)
		}
		if e.Version == nil {
			brk(r.Sequence, "receipt %d: version %d of submission %s is missing", r.Sequence, r.Version, r.SubmissionID)
		} else {
			if e.Erased {
				rep.Erased++
			}
			checked, err := e.Commitment.Recheck(*e.Version, e.Erased, r.ContentDigest)
			if err != nil {
				brk(r.Sequence, "receipt %d: version %d of submission %s: %v", r.Sequence, r.Version, r.SubmissionID, err)
			} else if !checked {
				rep.StoredOnly++
			}
		}
		prev = &r
		return nil
	})
	if err != nil {
		return rep, err
	}
	head, err := a.store.ChainHead(ctx, consultationID)
	if err != nil {
		return rep, err
	}
	if head.Sequence != int64(rep.Receipts) || (prev != nil && !bytes.Equal(head.ChainDigest, prev.ChainDigest)) {
		brk(head.Sequence, "the chain's head is at receipt %d but %d receipts remain: the end of the chain was removed", head.Sequence, rep.Receipts)
	}
	orphans, err := a.store.SubmissionsWithoutReceipt(ctx, consultationID)
	if err != nil {
		return rep, err
	}
	if len(orphans) > 0 {
		brk(0, "submission %s has no receipt for its version %d", orphans[0].ID, orphans[0].Version)
	}
	return rep, nil
}
