package domain

import (
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
)

// Status is where a submission is in its life.
type Status string

// Submission statuses.
const (
	StatusPendingConfirmation Status = "pending_confirmation"
	StatusActive              Status = "active"
	StatusWithdrawn           Status = "withdrawn"
	StatusExpired             Status = "expired"
)

// Publication is how a submission is shown to the public.
type Publication string

// Publication choices.
const (
	PublicNamed     Publication = "public_named"
	PublicAnonymous Publication = "public_anonymous"
	Confidential    Publication = "confidential"
)

// LanguageSource says how the language of a submission was established.
type LanguageSource string

// Language sources.
const (
	LanguageDeclared LanguageSource = "declared"
	LanguageDetected LanguageSource = "detected"
	LanguageDefault  LanguageSource = "default"
)

// Submission is one respondent's answers to one consultation, at its
// latest version.
type Submission struct {
	ID             string
	ConsultationID string
	Respondent     Respondent
	Language       string
	LanguageSource LanguageSource
	Answers        []Answer
	Publication    Publication
	Status         Status
	Version        int64
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// IdempotencyKey and RequestHash make a retried create return this
	// submission.
	IdempotencyKey string
	RequestHash    []byte
	// ConfirmationExpiresAt is when a pending submission expires.
	ConfirmationExpiresAt time.Time
	ConfirmedAt           time.Time
	WithdrawnAt           time.Time
	ErasedAt              time.Time
	// Translations are those of the text answers of the latest version,
	// when loaded.
	Translations []Translation
	// Receipt is the receipt of the latest version, when loaded.
	Receipt *Receipt
	// ReceiptKey is the key of the latest version's receipt, set only where
	// the submitter is answered (the write that made the version, or an
	// idempotent retry of the creation); it is never part of a read.
	ReceiptKey []byte
}

// Counted reports whether s counts in summaries: accepted and not withdrawn.
func (s Submission) Counted() bool { return s.Status == StatusActive }

// Editable checks that s can still change: it is pending or active, and its
// consultation still takes submissions.
func (s Submission) Editable(c Consultation, now time.Time) error {
	if s.Status != StatusActive && s.Status != StatusPendingConfirmation {
		return apperr.FailedPrecondition("id", "submission %s is %s and can no longer change", s.ID, s.Status)
	}
	if err := c.Accepts(now); err != nil {
		return apperr.FailedPrecondition("id", "the consultation of submission %s no longer takes changes: %v", s.ID, err)
	}
	return nil
}

// CheckVersion implements optimistic concurrency.
func (s Submission) CheckVersion(want int64) error {
	if want != s.Version {
		return apperr.Conflict("version", "submission %s is at version %d, not %d: reload and retry", s.ID, s.Version, want)
	}
	return nil
}

// ResolvePublication turns the respondent's choice into the publication of
// a submission: unspecified means the consultation's default.
func (c Consultation) ResolvePublication(p Publication) Publication {
	switch {
	case p != "":
		return p
	case c.DefaultPublication != "":
		return Publication(c.DefaultPublication)
	}
	return PublicNamed
}

// Visibility is what a reader may see of submissions.
type Visibility int

// Visibilities, from least to most.
const (
	// SeeNothing: not this submission.
	SeeNothing Visibility = iota
	// SeePublic: public submissions, anonymous ones without names.
	SeePublic
	// SeeAll: everything but contact data (co-leads).
	SeeAll
	// SeeAllWithContact: everything (the secretariat, the author).
	SeeAllWithContact
)

// Redact returns what a reader with visibility v may see of s, and false
// when they may not see it at all. Only active submissions are public.
func (s Submission) Redact(v Visibility) (Submission, bool) {
	switch v {
	case SeeAllWithContact:
		return s, true
	case SeeAll:
		s.Respondent.ContactEmail = ""
		s.ReceiptKey = nil
		return s, true
	case SeePublic:
		if s.Status != StatusActive || s.Publication == Confidential {
			return Submission{}, false
		}
		s.Respondent.ContactEmail = ""
		if s.Publication == PublicAnonymous {
			s.Respondent.PersonName = ""
			s.Respondent.OrganisationName = ""
			s.Respondent.TransparencyRegisterID = ""
		}
		s.CreatedBy = ""
		s.ReceiptKey = nil
		return s, true
	}
	return Submission{}, false
}
