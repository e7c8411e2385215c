package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
	"github.com/consulta-platform/consulta/services/consultation/internal/store"
)

// RunScheduler opens and closes consultations when their time comes, and
// marks dialogues held once they are over, until ctx is cancelled. The schedule is the consultations table itself, so it
// survives restarts, and every transition is a normal locked update with its
// event: several replicas may run it, and each transition happens once. It
// sleeps until the next transition falls due, but at most maxWait, so new
// schedules are noticed within maxWait.
func (a *App) RunScheduler(ctx context.Context, log *slog.Logger, maxWait time.Duration) error {
	for {
		if _, err := a.RunDueTransitions(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "scheduler: transitions failed", "err", err)
		}
		wait := maxWait
		next, err := a.store.NextDue(ctx)
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "scheduler: next due time", "err", err)
		}
		if !next.IsZero() {
			wait = min(max(next.Sub(a.clock()), 0), maxWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// RunDueTransitions performs every transition due now and returns how many
// consultations and dialogues changed.
func (a *App) RunDueTransitions(ctx context.Context) (int, error) {
	now := a.clock()
	changed, err := a.markDialoguesHeld(ctx, now)
	if err != nil {
		return changed, err
	}
	ids, err := a.store.Due(ctx, now, 100)
	if err != nil {
		return changed, err
	}
	for _, id := range ids {
		// Another replica may have got there first; then there is nothing
		// left to do and no event.
		_, err := a.store.UpdateConsultation(ctx, id, func(reads store.Reads, c *domain.Consultation) ([]*eventsv1.Envelope, error) {
			evs, err := a.applyChange(ctx, reads, c, dueTransition)
			if len(evs) > 0 {
				changed++
			}
			return evs, err
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// markDialoguesHeld records the dialogues that have taken place.
func (a *App) markDialoguesHeld(ctx context.Context, now time.Time) (int, error) {
	ids, err := a.store.DueDialogues(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, id := range ids {
		_, err := a.store.UpdateDialogue(ctx, id, func(_ store.Reads, d *domain.Dialogue) ([]*eventsv1.Envelope, error) {
			if !d.MarkHeld(now) {
				return nil, nil // another replica did it
			}
			changed++
			ev, err := dialogueEvent(events.DialogueUpdated, *d, time.Time{}, now)
			return []*eventsv1.Envelope{ev}, err
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// dueTransition opens a scheduled consultation at its opening time and
// closes an open one at its deadline; one that was scheduled and whose
// deadline has also passed (the service was down) is opened and closed.
// Each step happens at its own time, not at now.
func dueTransition(c *domain.Consultation, _ domain.Dialogue, now time.Time) ([]string, error) {
	var types []string
	if c.Status == domain.StatusScheduled && !c.OpensAt.After(now) {
		t, err := open(c, domain.Dialogue{}, c.OpensAt)
		if err != nil {
			return nil, err
		}
		types = append(types, t...)
	}
	if c.Status == domain.StatusOpen && !c.ClosesAt.After(now) {
		t, err := closeNow(c, domain.Dialogue{}, c.ClosesAt)
		if err != nil {
			return nil, err
		}
		types = append(types, t...)
	}
	return types, nil
}

// FreezeQuestions is the consumer of submission events: the first submission
// to a consultation freezes its questions. It runs inside the consumer's inbox
// transaction.
func (a *App) FreezeQuestions(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error {
	if env.GetType() != events.SubmissionReceived {
		return nil
	}
	ev := &submissionv1.SubmissionReceivedEvent{}
	if err := events.Payload(env, ev); err != nil {
		return err
	}
	_, err := store.UpdateConsultationTx(ctx, tx, ev.GetSubmission().GetConsultationId(), func(_ store.Reads, c *domain.Consultation) ([]*eventsv1.Envelope, error) {
		now := a.clock()
		if !c.FreezeQuestions(now) {
			return nil, nil
		}
		e, err := consultationEvent(events.ConsultationUpdated, *c, now)
		return []*eventsv1.Envelope{e}, err
	})
	if apperr.IsNotFound(err) {
		// A submission to a consultation this service does not know: nothing to freeze.
		return nil
	}
	return err
}
