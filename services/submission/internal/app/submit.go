package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// SubmitRequest is a new submission with what surrounds it.
type SubmitRequest struct {
	Submission domain.Submission
	// ClientIP is the address the request came from, for the rate limit.
	ClientIP string
}

// Submitted is the outcome of Submit.
type Submitted struct {
	Submission domain.Submission
	// EditSecret lets its holder edit or withdraw the submission.
	EditSecret string
	// ConfirmationRequired: it counts once the emailed link is followed.
	ConfirmationRequired bool
}

// Submit accepts a submission when its consultation is open and every
// answer fits the questionnaire; nothing is written otherwise. A retried
// request with the same idempotency key returns the first submission (see
// replayed for who may).
func (a *App) Submit(ctx context.Context, p auth.Principal, req SubmitRequest) (Submitted, error) {
	sub := req.Submission
	if p.Role != auth.RolePublic {
		sub.CreatedBy = p.Subject
	}
	if sub.IdempotencyKey != "" {
		// A retry must not be refused by a limit its first try passed.
		if done, ok, err := a.replay(ctx, sub); ok || err != nil {
			return done, err
		}
		// Nor by a limit a concurrent attempt of the same request took:
		// only the attempt that claims the key goes on to the limits; the
		// others get its answer, or are told to retry.
		claimed, release, err := a.claimKey(ctx, sub)
		if err != nil {
			return Submitted{}, err
		}
		defer release()
		// Look again: an attempt that held the key may have finished since.
		if done, ok, err := a.replay(ctx, sub); ok || err != nil {
			return done, err
		}
		if !claimed {
			return a.awaitAttempt(ctx, sub)
		}
	}
	if err := a.allow(ctx, req.ClientIP, sub.Respondent.ContactEmail); err != nil {
		return Submitted{}, err
	}
	c, now, err := a.acceptingConsultation(ctx, sub.ConsultationID)
	if err != nil {
		return Submitted{}, err
	}
	if err := a.prepare(ctx, a.store.Reads, c, &sub); err != nil {
		return Submitted{}, err
	}
	sub.ID = uuid.Must(uuid.NewV7()).String()
	sub.Version = 1
	sub.CreatedAt, sub.UpdatedAt = now, now
	sub.Publication = c.ResolvePublication(sub.Publication)
	sub.Status = domain.StatusActive
	var mail *store.Mail
	if c.RequireEmailConfirmation {
		if sub.Respondent.ContactEmail == "" {
			return Submitted{}, apperr.Invalid("respondent.contact_email", "this consultation confirms submissions by email: an address is required")
		}
		sub.Status = domain.StatusPendingConfirmation
		sub.ConfirmationExpiresAt = now.Add(a.cfg.ConfirmationTTL)
		mail = a.confirmationMail(sub)
	}
	ev, err := submissionEvent(events.SubmissionReceived, sub, now)
	if err != nil {
		return Submitted{}, err
	}
	ch := store.Change{Events: []*eventsv1.Envelope{ev}, Mail: mail, NewVersion: true}
	if mail == nil {
		// A submission awaiting confirmation gets its receipt once its
		// address is confirmed (Confirm), not before.
		ch.ReceiptMail = a.receiptMail(receiptReceived)
	}
	stored, existing, err := a.store.CreateSubmission(ctx, sub, ch)
	if err != nil {
		return Submitted{}, err
	}
	if existing {
		// Another request with the same key won the race.
		return a.replayed(stored, sub)
	}
	return a.submitted(stored), nil
}

// claimTTL is how long a claim on an idempotency key holds off other
// attempts of the same request: longer than any attempt runs (the RPC
// deadline, 30 s by default). An attempt whose process died leaves its
// claim to be taken over after it.
const claimTTL = 2 * time.Minute

// claimKey claims sub's idempotency key for this attempt. claimed is false
// when another attempt holds it. release gives the claim up (a no-op when
// not claimed); the caller defers it, so the claim ends with the attempt,
// whatever its outcome, and a failed attempt's retry may claim again.
func (a *App) claimKey(ctx context.Context, sub domain.Submission) (claimed bool, release func(), err error) {
	claimID := uuid.Must(uuid.NewV7()).String()
	claimed, err = a.store.ClaimIdempotencyKey(ctx, sub.ConsultationID, sub.IdempotencyKey, claimID, claimTTL)
	if err != nil || !claimed {
		return false, func() {}, err
	}
	return true, func() {
		// Even when the caller went away: a claim left behind holds off
		// its retries until it is stale.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.store.ReleaseIdempotencyKey(rctx, sub.ConsultationID, sub.IdempotencyKey, claimID, claimTTL); err != nil {
			slog.WarnContext(ctx, "idempotency claim not released; it lapses by itself", "consultation_id", sub.ConsultationID, "err", err)
		}
	}, nil
}

// awaitWaits are the pauses of an attempt whose key another attempt holds,
// before each look for that attempt's answer: about 3 s in all, seven
// reads, so that concurrent retries get the submission rather than a
// request to retry, without holding a request long or loading the database.
var awaitWaits = []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}

// awaitAttempt waits a little for the attempt that holds sub's key to
// finish and answers with its submission; when it has not finished by then,
// the caller is told to retry (Aborted, HTTP 409), never refused by a rate
// limit.
func (a *App) awaitAttempt(ctx context.Context, sub domain.Submission) (Submitted, error) {
	for _, d := range awaitWaits {
		select {
		case <-ctx.Done():
			return Submitted{}, ctx.Err()
		case <-time.After(d):
		}
		if done, ok, err := a.replay(ctx, sub); ok || err != nil {
			return done, err
		}
	}
	return Submitted{}, apperr.Conflict("idempotency_key",
		"a request with this key is in progress; retry it in a moment to get its answer")
}

// replay answers a retried request from the submission stored under its
// idempotency key, if there is one.
func (a *App) replay(ctx context.Context, sub domain.Submission) (Submitted, bool, error) {
	stored, err := a.store.ByIdempotencyKey(ctx, sub.ConsultationID, sub.IdempotencyKey)
	if apperr.IsNotFound(err) {
		return Submitted{}, false, nil
	}
	if err != nil {
		return Submitted{}, false, err
	}
	done, err := a.replayed(stored, sub)
	return done, true, err
}

// replayed is the answer to retry, a request whose idempotency key stored
// was created with. The answer holds the edit secret, so it goes only to
// the caller who made the first request: the same request (the same hash:
// consultation, respondent, answers, language, publication) from the same
// caller (the same account, or no account for both). Anyone else who
// learned or guessed the key, with another body or from another account,
// is refused with AlreadyExists and learns nothing of the first
// submission; the message does not say which of the two differed.
func (a *App) replayed(stored, retry domain.Submission) (Submitted, error) {
	if !bytes.Equal(stored.RequestHash, retry.RequestHash) || stored.CreatedBy != retry.CreatedBy {
		return Submitted{}, apperr.AlreadyExists("idempotency_key",
			"this key was used for another request; use a new key for a new submission")
	}
	return a.submitted(stored), nil
}

func (a *App) submitted(s domain.Submission) Submitted {
	return Submitted{
		Submission:           s,
		EditSecret:           a.cfg.Signer.EditSecret(s.ID),
		ConfirmationRequired: s.Status == domain.StatusPendingConfirmation,
	}
}

// allow applies the rate limits per client address and per email address
// (in its normal form).
func (a *App) allow(ctx context.Context, ip, email string) error {
	if a.cfg.Limiter == nil {
		return nil
	}
	if ip != "" {
		if err := a.cfg.Limiter.Allow(ctx, a.cfg.Limits.PerIP, ip); err != nil {
			return err
		}
	}
	if email != "" {
		// Counted by normal form: "Ana+1@Example.org." is ana@example.org
		// and takes from its budget.
		if err := a.cfg.Limiter.Allow(ctx, a.cfg.Limits.PerEmail, NormaliseEmail(email)); err != nil {
			return err
		}
	}
	return nil
}

// prepare settles the language, checks the answers and the respondent, and
// fills in the region: everything a create and an edit share. It reads
// through reads: an edit's run in its transaction.
func (a *App) prepare(ctx context.Context, reads store.Reads, c domain.Consultation, sub *domain.Submission) error {
	switch {
	case sub.Language != "":
		sub.LanguageSource = domain.LanguageDeclared
	case a.cfg.Detector != nil && len(c.Languages) > 0:
		if tag, ok := a.cfg.Detector.Detect(answerText(sub.Answers), c.Languages); ok {
			sub.Language, sub.LanguageSource = tag, domain.LanguageDetected
		}
	}
	if sub.Language == "" {
		sub.LanguageSource = domain.LanguageDefault
	}
	if err := c.Check(sub); err != nil {
		return err
	}
	ok, err := reads.StakeholderTypeExists(ctx, sub.Respondent.StakeholderType)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Invalid("respondent.stakeholder_type", "unknown stakeholder type %q", sub.Respondent.StakeholderType)
	}
	if sub.Respondent.Region, err = reads.Region(ctx, sub.Respondent.Country); err != nil {
		return err
	}
	for _, f := range c.FileAnswers(*sub) {
		doc, err := reads.Document(ctx, f.BlobID)
		if apperr.IsNotFound(err) || (err == nil && doc.ConsultationID != sub.ConsultationID) {
			return apperr.Invalid(f.Field, "no document %q was uploaded to this consultation", f.BlobID)
		}
		if err != nil {
			return err
		}
		if f.MaxBytes > 0 && doc.Size > f.MaxBytes {
			return apperr.Invalid(f.Field, "the document has %d bytes; this question takes at most %d", doc.Size, f.MaxBytes)
		}
	}
	return nil
}

// answerText is the free text of answers, for language detection.
func answerText(as []domain.Answer) string {
	var b strings.Builder
	for _, a := range as {
		if a.Kind == domain.AnswerText && a.Text != "" {
			b.WriteString(a.Text)
			b.WriteString("\n")
		}
	}
	return b.String()
}

func (a *App) confirmationMail(sub domain.Submission) *store.Mail {
	link := strings.TrimRight(a.cfg.PublicURL, "/") + "/confirm?token=" +
		url.QueryEscape(a.cfg.Signer.ConfirmationToken(sub.ID, sub.ConfirmationExpiresAt))
	return &store.Mail{
		To:      sub.Respondent.ContactEmail,
		Subject: "Confirm your submission to the consultation",
		Body: fmt.Sprintf("Thank you for your submission.\n\nIt counts once you confirm it by following this link before %s:\n\n%s\n\n"+
			"If you did not make this submission, ignore this message: it will expire.\n",
			sub.ConfirmationExpiresAt.Format("2006-01-02 15:04 MST"), link),
	}
}

// submissionEvent wraps a snapshot of sub in the event of eventType.
func submissionEvent(eventType string, sub domain.Submission, now time.Time) (*eventsv1.Envelope, error) {
	snap := Snapshot(sub)
	var payload proto.Message
	switch eventType {
	case events.SubmissionReceived:
		payload = &submissionv1.SubmissionReceivedEvent{Submission: snap}
	case events.SubmissionConfirmed:
		payload = &submissionv1.SubmissionConfirmedEvent{Submission: snap}
	case events.SubmissionUpdated:
		payload = &submissionv1.SubmissionUpdatedEvent{Submission: snap}
	case events.SubmissionWithdrawn:
		payload = &submissionv1.SubmissionWithdrawnEvent{Submission: snap}
	case events.SubmissionExpired:
		payload = &submissionv1.SubmissionExpiredEvent{Submission: snap}
	default:
		return nil, fmt.Errorf("no payload for event type %s", eventType)
	}
	return events.New(eventType, events.Aggregate{Type: "submission", ID: sub.ID, Version: sub.Version}, payload, now)
}
