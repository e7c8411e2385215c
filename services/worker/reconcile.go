package worker

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

// DefaultReconcileInterval is how often the reconciler compares the jobs in
// Redis with what the database says should be there.
const DefaultReconcileInterval = 15 * time.Minute

// reconcileRetry is how soon a failed reconciliation is tried again (the
// consultation service may not answer yet at start).
const reconcileRetry = 10 * time.Second

// ConsultationReader is the part of the consultation service's API the
// reconciler reads: the public listings and dialogues, which hold everything the jobs
// are made from (dialogues' start times; published consultations with their
// texts and languages). The worker owns no database and reads no other
// service's tables; consultationv1.ConsultationServiceClient implements it.
type ConsultationReader interface {
	ListDialogues(ctx context.Context, in *consultationv1.ListDialoguesRequest, opts ...grpc.CallOption) (*consultationv1.ListDialoguesResponse, error)
	ListConsultations(ctx context.Context, in *consultationv1.ListConsultationsRequest, opts ...grpc.CallOption) (*consultationv1.ListConsultationsResponse, error)
	// GetDialogue lets a digest check, when it falls due, that its dialogue
	// still starts when the digest says.
	GetDialogue(ctx context.Context, in *consultationv1.GetDialogueRequest, opts ...grpc.CallOption) (*consultationv1.GetDialogueResponse, error)
}

// Reconciled counts the jobs one reconciliation found missing and enqueued.
type Reconciled struct {
	Digests      int
	Translations int
}

// Reconcile re-creates, from the consultation service's data, every job that
// should be in Redis: the digests still due of every planned dialogue, and
// a translation job for every language a published consultation misses
// texts in. Jobs take the same deterministic ids as those the events make,
// so a job already there (queued, scheduled, or completed within its
// retention) is not enqueued again: after a Redis that lost its data, each
// job comes back exactly once; with Redis intact, nothing changes.
//
// Submission translations are not reconciled: their job is a placeholder
// that records nothing (no submission text is machine-translated yet), so
// there is no "awaiting translation" state to rebuild them from.
func (s *Service) Reconcile(ctx context.Context) (Reconciled, error) {
	var r Reconciled
	if s.deps.Consultations == nil {
		return r, nil
	}
	token := ""
	for {
		resp, err := s.deps.Consultations.ListDialogues(ctx, &consultationv1.ListDialoguesRequest{
			Status: consultationv1.DialogueStatus_DIALOGUE_STATUS_PLANNED, PageSize: 200, PageToken: token,
		})
		if err != nil {
			return r, fmt.Errorf("reconcile: list dialogues: %w", err)
		}
		for _, d := range resp.GetDialogues() {
			n, err := s.enqueueDigests(ctx, d, false)
			if err != nil {
				return r, fmt.Errorf("reconcile: digests of dialogue %s: %w", d.GetId(), err)
			}
			r.Digests += n
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	for {
		// No statuses: scheduled, open and closed, the consultations whose
		// publication asked for translations. Drafts wait for publication.
		resp, err := s.deps.Consultations.ListConsultations(ctx, &consultationv1.ListConsultationsRequest{
			PageSize: 200, PageToken: token,
		})
		if err != nil {
			return r, fmt.Errorf("reconcile: list consultations: %w", err)
		}
		for _, c := range resp.GetConsultations() {
			n, err := s.enqueueTranslations(ctx, c)
			if err != nil {
				return r, fmt.Errorf("reconcile: translations of consultation %s: %w", c.GetId(), err)
			}
			r.Translations += n
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	return r, nil
}

// runReconciler reconciles at start and then every ReconcileInterval until
// ctx is cancelled; a failed run is retried sooner.
func (s *Service) runReconciler(ctx context.Context) error {
	interval := s.deps.ReconcileInterval
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	log := s.deps.Logger.With("component", "reconciler")
	for {
		wait := interval
		r, err := s.Reconcile(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.WarnContext(ctx, "reconciliation failed", "retry_in", min(reconcileRetry, interval), "err", err)
			wait = min(reconcileRetry, interval)
		case r.Digests+r.Translations > 0:
			// Jobs were missing: Redis lost data, or an event has not been
			// consumed yet. Worth a line either way.
			log.WarnContext(ctx, "reconciler re-created missing jobs", "digests", r.Digests, "translations", r.Translations)
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
