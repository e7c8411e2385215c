package app

import (
	"context"
	"log/slog"
	"strings"

	"github.com/google/uuid"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// PersonalData is everything the service holds about an email address.
type PersonalData struct {
	// Email is the address asked about, in its normal form (NormaliseEmail).
	Email string
	// Submissions that hold the address, now or in an earlier version.
	Submissions []PersonalSubmission
	// Erasures already carried out for the address.
	Erasures []Erasure
}

// PersonalSubmission is one submission with every stored version.
type PersonalSubmission struct {
	ID             string
	ConsultationID string
	Status         domain.Status
	// Versions, oldest first, each as a submission at that version with its
	// receipt. A version's status is its submission's current status for the
	// latest version, withdrawn for the version that withdrew it, and not
	// recorded ("") for the others.
	Versions []domain.Submission
}

// Erasure is the audit record of an erasure.
type Erasure = store.ErasureRecord

// NormaliseEmail is the form of an address that rate limits count and
// data-protection requests match and tag (domain.NormaliseEmail): without
// surrounding space, quotes, "+tag", the domain's trailing dots or case.
func NormaliseEmail(email string) string { return domain.NormaliseEmail(email) }

// ExportPersonalData returns everything held about email, matched by normal
// form (NormaliseEmail: "Ana+x@Example.org." finds what was given as
// "ana@example.org"): every submission whose contact address has that
// normal form, now or in an earlier version, with all its versions, and the
// erasures of the address (also those recorded under the earlier normal
// form, lower case and trimmed). An address the service knows nothing about gives an empty
// export, not an error: the answer to "what do you hold" is then "nothing".
// The policy limits the RPC to the secretariat.
func (a *App) ExportPersonalData(ctx context.Context, email string) (PersonalData, error) {
	addr := NormaliseEmail(email)
	if addr == "" {
		return PersonalData{}, apperr.Invalid("email", "is required")
	}
	out := PersonalData{Email: addr}
	recs, err := a.store.PersonalData(ctx, addr)
	if err != nil {
		return out, err
	}
	for _, rec := range recs {
		sub := rec.Submission
		ps := PersonalSubmission{ID: sub.ID, ConsultationID: sub.ConsultationID, Status: sub.Status}
		for _, pv := range rec.Versions {
			v := pv.Content
			vs := domain.Submission{
				ID: sub.ID, ConsultationID: sub.ConsultationID, Respondent: v.Respondent, Language: v.Language,
				Answers: v.Answers, Publication: v.Publication, Version: v.Version, CreatedBy: sub.CreatedBy,
				CreatedAt: sub.CreatedAt, UpdatedAt: v.CreatedAt, Receipt: pv.Receipt,
			}
			switch {
			case v.Withdrawn:
				vs.Status = domain.StatusWithdrawn
			case v.Version == sub.Version:
				vs.Status, vs.LanguageSource = sub.Status, sub.LanguageSource
			}
			ps.Versions = append(ps.Versions, vs)
		}
		out.Submissions = append(out.Submissions, ps)
	}
	if out.Erasures, err = a.store.Erasures(ctx, a.cfg.Signer.AddressTag(addr), a.cfg.Signer.legacyAddressTag(email)); err != nil {
		return out, err
	}
	return out, nil
}

// ErasePersonalData erases what the service holds about email, in one
// transaction: the contact address and the person's name are overwritten in
// every submission that holds the address (by normal form, NormaliseEmail,
// so every spelling of one mailbox) and in all its versions; for
// individuals (stakeholder type "individual") the organisation name and the
// texts of their answers (text answers and the references of file answers;
// choices, scales and rankings are no texts) are removed too; events that
// an earlier version wrote to the outbox with texts lose them; mail waiting
// for the address is deleted; an audit record keeps a keyed tag of the
// address (Signer.AddressTag), who asked (p.Subject), why and which submissions; and one
// consulta.submission.erased event per submission, carrying ids only, has
// the service's erasures consumer delete the submission's earlier messages
// from the stream once every consumer has them (events.EraseSubmission).
// Versions and receipts stay: the submission keeps its version, and the
// chain of receipts stays verifiable; the receipt keys of the erased
// versions are deleted (for individuals the content salts too), so neither
// the database nor a public receipt can confirm a guess of the erased data.
//
// When nothing is held about the address, including when it was erased
// before, ErasePersonalData returns NotFound on field "email" ("nothing
// held about this address") and writes nothing, no audit record either:
// erasing twice is harmless, and the first erasure's record stands.
func (a *App) ErasePersonalData(ctx context.Context, p auth.Principal, email, reason string) (Erasure, error) {
	addr := NormaliseEmail(email)
	if addr == "" {
		return Erasure{}, apperr.Invalid("email", "is required")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Erasure{}, apperr.Invalid("reason", "is required: say why, for the audit record")
	}
	now := a.clock()
	rec := Erasure{
		ID: uuid.Must(uuid.NewV7()).String(), AddressTag: a.cfg.Signer.AddressTag(addr), RequestedBy: p.Subject,
		Reason: reason, ErasedAt: now,
	}
	erased, blobs, err := a.store.Erase(ctx, addr, rec, func(erased []store.ErasedSubmission) ([]*eventsv1.Envelope, error) {
		envs := make([]*eventsv1.Envelope, 0, len(erased))
		for _, e := range erased {
			env, err := events.New(events.SubmissionErased,
				events.Aggregate{Type: "submission", ID: e.ID, Version: e.Version},
				&submissionv1.SubmissionErasedEvent{SubmissionId: e.ID, ConsultationId: e.ConsultationID, Version: e.Version}, now)
			if err != nil {
				return nil, err
			}
			envs = append(envs, env)
		}
		return envs, nil
	})
	if err != nil {
		return Erasure{}, err
	}
	if len(erased) == 0 {
		return Erasure{}, apperr.NotFound("email", "nothing held about this address")
	}
	// The individuals' own documents: their rows are gone, the bytes go now.
	// A failure here leaves bytes nobody references, which a retry of the
	// erasure cannot find again: log it loudly for the operator.
	for _, key := range blobs {
		if a.cfg.Blobs == nil {
			break
		}
		if err := a.cfg.Blobs.Delete(ctx, key); err != nil {
			slog.ErrorContext(ctx, "erasure: document bytes not deleted; delete them by hand", "blob_key", key, "err", err)
		}
	}
	for _, e := range erased {
		rec.SubmissionIDs = append(rec.SubmissionIDs, e.ID)
	}
	return rec, nil
}
