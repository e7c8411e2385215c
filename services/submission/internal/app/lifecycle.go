package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// Changes are the fields of a submission its author may edit.
type Changes struct {
	Respondent  domain.Respondent
	Language    string
	Answers     []domain.Answer
	Publication domain.Publication
}

// isAuthor reports whether p, or the holder of secret, is the author of sub.
func (a *App) isAuthor(p auth.Principal, sub domain.Submission, secret string) bool {
	return a.cfg.Signer.CheckEditSecret(sub.ID, secret) || (p.Subject != "" && p.Subject == sub.CreatedBy)
}

// mayChange checks that p, or the holder of secret, is the author of sub.
func (a *App) mayChange(p auth.Principal, sub domain.Submission, secret string) error {
	if a.isAuthor(p, sub, secret) {
		return nil
	}
	if secret != "" {
		return apperr.Denied("edit_secret: not the secret of submission %s", sub.ID)
	}
	return apperr.Denied("only the author of submission %s, logged in or with its edit secret, may change it", sub.ID)
}

// authorChange checks that p, or the holder of secret, may change sub now:
// they are its author and its consultation still takes changes. It returns
// the consultation, read through reads, and the time of the change.
func (a *App) authorChange(ctx context.Context, reads store.Reads, p auth.Principal, sub domain.Submission, secret string) (domain.Consultation, time.Time, error) {
	if err := a.mayChange(p, sub, secret); err != nil {
		return domain.Consultation{}, time.Time{}, err
	}
	c, err := reads.Consultation(ctx, sub.ConsultationID)
	if err != nil {
		return c, time.Time{}, err
	}
	now := a.clock()
	return c, now, sub.Editable(c, now)
}

// mayWrite is the check every change of submission id makes first, before
// its transaction: a caller who is not its author and may not see it (Get
// answers NotFound) gets NotFound with the same message as Get, so that no
// write reveals that a confidential, withdrawn or unconfirmed submission
// exists, nor its version; one who may see it but is not its author gets
// PermissionDenied. It runs outside the transaction because deciding what
// a co-lead may see can read through to the consultation service.
func (a *App) mayWrite(ctx context.Context, p auth.Principal, id, secret string) error {
	sub, err := a.store.Submission(ctx, id)
	if err != nil {
		return err
	}
	if a.isAuthor(p, sub, secret) {
		return nil
	}
	c, err := a.store.Consultation(ctx, sub.ConsultationID)
	if err != nil {
		return err
	}
	v, err := a.visibility(ctx, p, c, sub.CreatedBy)
	if err != nil {
		return err
	}
	if _, ok := sub.Redact(v); !ok {
		return apperr.NotFound("id", "submission %s not found", id)
	}
	return a.mayChange(p, sub, secret)
}

// Update replaces a submission's answers until the deadline, as a new
// version with its own receipt.
func (a *App) Update(ctx context.Context, p auth.Principal, id string, version int64, secret string, ch Changes) (domain.Submission, error) {
	if err := a.mayWrite(ctx, p, id, secret); err != nil {
		return domain.Submission{}, err
	}
	return a.store.UpdateSubmission(ctx, id, func(reads store.Reads, sub *domain.Submission) (store.Change, error) {
		if err := sub.CheckVersion(version); err != nil {
			return store.Change{}, err
		}
		c, now, err := a.authorChange(ctx, reads, p, *sub, secret)
		if err != nil {
			return store.Change{}, err
		}
		sub.Respondent, sub.Language, sub.Answers = ch.Respondent, ch.Language, ch.Answers
		if err := a.prepare(ctx, reads, c, sub); err != nil {
			return store.Change{}, err
		}
		sub.Publication = c.ResolvePublication(ch.Publication)
		sub.Version++
		sub.UpdatedAt = now
		ev, err := submissionEvent(events.SubmissionUpdated, *sub, now)
		return store.Change{Events: []*eventsv1.Envelope{ev}, NewVersion: true, ReceiptMail: a.receiptMail(receiptUpdated)}, err
	})
}

// Withdraw withdraws a submission until the deadline. The withdrawal is a
// version of its own, with a receipt, so the chain shows it.
func (a *App) Withdraw(ctx context.Context, p auth.Principal, id, secret string) (domain.Submission, error) {
	if err := a.mayWrite(ctx, p, id, secret); err != nil {
		return domain.Submission{}, err
	}
	return a.store.UpdateSubmission(ctx, id, func(reads store.Reads, sub *domain.Submission) (store.Change, error) {
		_, now, err := a.authorChange(ctx, reads, p, *sub, secret)
		if err != nil {
			return store.Change{}, err
		}
		sub.Status = domain.StatusWithdrawn
		sub.WithdrawnAt, sub.UpdatedAt = now, now
		sub.Version++
		ev, err := submissionEvent(events.SubmissionWithdrawn, *sub, now)
		return store.Change{Events: []*eventsv1.Envelope{ev}, NewVersion: true, Withdrawn: true,
			ReceiptMail: a.receiptMail(receiptWithdrawn)}, err
	})
}

// Confirm confirms a submission through the token of its emailed link; from
// then on it counts. A token works once: a confirmed submission is not
// pending any more.
func (a *App) Confirm(ctx context.Context, token string) (domain.Submission, error) {
	id, expires, err := a.cfg.Signer.ParseConfirmationToken(token)
	if err != nil {
		return domain.Submission{}, apperr.Invalid("token", "not a confirmation link of this service: %v", err)
	}
	now := a.clock()
	if !now.Before(expires) {
		return domain.Submission{}, apperr.FailedPrecondition("token", "the link expired at %s", expires.UTC().Format(time.RFC3339))
	}
	return a.store.UpdateSubmission(ctx, id, func(_ store.Reads, sub *domain.Submission) (store.Change, error) {
		if sub.Status != domain.StatusPendingConfirmation {
			return store.Change{}, apperr.FailedPrecondition("token", "this link was already used, or the submission is %s", sub.Status)
		}
		sub.Status = domain.StatusActive
		sub.ConfirmedAt = now
		sub.UpdatedAt = now
		ev, err := submissionEvent(events.SubmissionConfirmed, *sub, now)
		// The address is confirmed now: the receipt of the version
		// accepted goes to it.
		return store.Change{Events: []*eventsv1.Envelope{ev}, ReceiptMail: a.receiptMail(receiptReceived)}, err
	})
}

// ExpireUnconfirmed marks pending submissions whose confirmation time ran
// out as expired and returns how many.
func (a *App) ExpireUnconfirmed(ctx context.Context) (int, error) {
	now := a.clock()
	ids, err := a.store.DueExpirations(ctx, now, 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		_, err := a.store.UpdateSubmission(ctx, id, func(_ store.Reads, sub *domain.Submission) (store.Change, error) {
			if sub.Status != domain.StatusPendingConfirmation || sub.ConfirmationExpiresAt.After(now) {
				return store.Change{}, nil // confirmed meanwhile
			}
			sub.Status = domain.StatusExpired
			sub.UpdatedAt = now
			n++
			ev, err := submissionEvent(events.SubmissionExpired, *sub, now)
			return store.Change{Events: []*eventsv1.Envelope{ev}}, err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// RunExpiry expires unconfirmed submissions every interval until ctx ends.
func (a *App) RunExpiry(ctx context.Context, log *slog.Logger, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := a.ExpireUnconfirmed(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "expiring unconfirmed submissions", "err", err)
		} else if n > 0 {
			log.InfoContext(ctx, "unconfirmed submissions expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
