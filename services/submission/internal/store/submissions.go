package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// Mail is a message for the mail outbox, sent by the mailer after commit.
type Mail struct {
	To, Subject, Body string
}

// Change is what a write adds besides the submission row: the events for
// the outbox and, sometimes, a mail.
type Change struct {
	Events []*eventsv1.Envelope
	Mail   *Mail
	// NewVersion adds a version row and a receipt for the submission's
	// current version (creations, edits, withdrawals; not confirmations).
	NewVersion bool
	// Withdrawn marks that new version as the one that withdrew it.
	Withdrawn bool
	// ReceiptMail, when set, makes the mail that carries the receipt of
	// the submission's current version to its submitter (nil: no mail). It
	// is called inside the transaction, once that receipt exists, with sub
	// holding the receipt and its key, so the mail is queued in the same
	// transaction as the change it reports; it must do no I/O.
	ReceiptMail func(sub domain.Submission) *Mail
}

const submissionColumns = `id, consultation_id, stakeholder_type, country, region, organisation_name, person_name,
	transparency_register_id, contact_email, language, language_source, answers, publication, status, version,
	created_by, created_at, updated_at, coalesce(idempotency_key, ''), request_hash, confirmation_expires_at,
	confirmed_at, withdrawn_at, erased_at`

func scanSubmission(row pgx.Row) (domain.Submission, error) {
	var s domain.Submission
	var answers []byte
	var expires, confirmed, withdrawn, erased *time.Time
	r := &s.Respondent
	err := row.Scan(&s.ID, &s.ConsultationID, &r.StakeholderType, &r.Country, &r.Region, &r.OrganisationName, &r.PersonName,
		&r.TransparencyRegisterID, &r.ContactEmail, &s.Language, &s.LanguageSource, &answers, &s.Publication, &s.Status, &s.Version,
		&s.CreatedBy, &s.CreatedAt, &s.UpdatedAt, &s.IdempotencyKey, &s.RequestHash, &expires,
		&confirmed, &withdrawn, &erased)
	if err != nil {
		return s, err
	}
	for dst, src := range map[*time.Time]*time.Time{&s.ConfirmationExpiresAt: expires, &s.ConfirmedAt: confirmed,
		&s.WithdrawnAt: withdrawn, &s.ErasedAt: erased} {
		if src != nil {
			*dst = *src
		}
	}
	if err := json.Unmarshal(answers, &s.Answers); err != nil {
		return s, fmt.Errorf("decode answers of %s: %w", s.ID, err)
	}
	return s, nil
}

// CreateSubmission inserts sub with its first version, receipt, events and
// mail in one transaction. When sub carries an idempotency key that the
// consultation has seen, nothing is written and the submission stored under
// that key is returned with existing=true.
func (s *Store) CreateSubmission(ctx context.Context, sub domain.Submission, ch Change) (out domain.Submission, existing bool, err error) {
	answers, err := json.Marshal(sub.Answers)
	if err != nil {
		return sub, false, fmt.Errorf("encode answers: %w", err)
	}
	err = postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r := sub.Respondent
		var key *string
		if sub.IdempotencyKey != "" {
			key = &sub.IdempotencyKey
		}
		// A concurrent insert with the same key waits here for the other
		// transaction, then finds the conflict.
		tag, err := tx.Exec(ctx, `
			INSERT INTO submission.submissions
			  (id, consultation_id, stakeholder_type, country, region, organisation_name, person_name,
			   transparency_register_id, contact_email, language, language_source, answers, publication, status,
			   version, created_by, created_at, updated_at, idempotency_key, request_hash, confirmation_expires_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$17,$18,$19,$20)
			ON CONFLICT (consultation_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
			sub.ID, sub.ConsultationID, r.StakeholderType, r.Country, r.Region, r.OrganisationName, r.PersonName,
			r.TransparencyRegisterID, r.ContactEmail, sub.Language, sub.LanguageSource, answers, sub.Publication, sub.Status,
			sub.Version, sub.CreatedBy, sub.CreatedAt, key, sub.RequestHash, nullTime(sub.ConfirmationExpiresAt))
		if err != nil {
			return fmt.Errorf("insert submission %s: %w", sub.ID, err)
		}
		if tag.RowsAffected() == 0 {
			out, err = scanSubmission(tx.QueryRow(ctx, `SELECT `+submissionColumns+` FROM submission.submissions
				WHERE consultation_id = $1 AND idempotency_key = $2`, sub.ConsultationID, sub.IdempotencyKey))
			if err != nil {
				return fmt.Errorf("submission with idempotency key: %w", err)
			}
			existing = true
			return nil
		}
		out = sub
		return s.record(ctx, tx, &out, ch)
	})
	if err != nil {
		return out, false, err
	}
	if existing {
		if err = s.withReceiptKey(ctx, &out); err != nil {
			return out, true, err
		}
	}
	return out, existing, nil
}

// record writes what accompanies a change of sub: its new version and
// receipt, its events and its mail.
func (s *Store) record(ctx context.Context, tx pgx.Tx, sub *domain.Submission, ch Change) error {
	if ch.NewVersion {
		if err := lockDocuments(ctx, tx, sub); err != nil {
			return err
		}
		v := domain.VersionContent{
			ConsultationID: sub.ConsultationID, SubmissionID: sub.ID, Version: sub.Version, Respondent: sub.Respondent,
			Language: sub.Language, Answers: sub.Answers, Publication: sub.Publication, Withdrawn: ch.Withdrawn,
			CreatedAt: sub.UpdatedAt,
		}
		answers, err := json.Marshal(v.Answers)
		if err != nil {
			return fmt.Errorf("encode answers: %w", err)
		}
		// A fresh key per version (docs/receipts.md). crypto/rand reads the
		// kernel's generator: no network, nothing that waits on others.
		key, err := domain.NewReceiptKey()
		if err != nil {
			return err
		}
		c, digest := domain.Commit(key, v)
		r := v.Respondent
		_, err = tx.Exec(ctx, `
			INSERT INTO submission.submission_versions
			  (submission_id, version, stakeholder_type, country, region, organisation_name, person_name,
			   transparency_register_id, contact_email, language, answers, publication, withdrawn, created_at,
			   receipt_format, receipt_key, content_salt, personal_digest)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
			v.SubmissionID, v.Version, r.StakeholderType, r.Country, r.Region, r.OrganisationName, r.PersonName,
			r.TransparencyRegisterID, r.ContactEmail, v.Language, answers, v.Publication, v.Withdrawn, v.CreatedAt,
			c.Format, c.Key, c.ContentSalt, c.PersonalDigest)
		if err != nil {
			return fmt.Errorf("insert version %d of %s: %w", v.Version, v.SubmissionID, err)
		}
		if sub.Receipt, err = appendReceipt(ctx, tx, v, digest); err != nil {
			return err
		}
		sub.ReceiptKey = key
	}
	if err := queueMail(ctx, tx, ch.Mail); err != nil {
		return err
	}
	if ch.ReceiptMail != nil {
		if sub.Receipt == nil {
			// A change without a new version (a confirmation) mails the
			// receipt its latest version already has.
			if err := receiptWithKey(ctx, tx, sub); err != nil {
				return err
			}
		}
		if sub.Receipt != nil {
			if err := queueMail(ctx, tx, ch.ReceiptMail(*sub)); err != nil {
				return err
			}
		}
	}
	// The answers are what can make a submission's event large.
	return outbox.WithField(outbox.Add(ctx, tx, Schema, ch.Events...), "answers", "the answers are")
}

// queueMail adds m, when there is one, to the mail outbox in tx.
func queueMail(ctx context.Context, tx pgx.Tx, m *Mail) error {
	if m == nil {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO submission.mail_outbox (id, to_address, subject, body) VALUES ($1,$2,$3,$4)`,
		uuid.Must(uuid.NewV7()), m.To, m.Subject, m.Body)
	if err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

// receiptWithKey loads, through tx, the receipt of sub's latest version
// that has one, and its key; sub.Receipt stays nil when there is none.
func receiptWithKey(ctx context.Context, tx pgx.Tx, sub *domain.Submission) error {
	r, err := scanReceipt(tx.QueryRow(ctx, `SELECT `+receiptColumns+` FROM submission.receipts
		WHERE submission_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1`, sub.ID, sub.Version))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("receipt of %s v%d: %w", sub.ID, sub.Version, err)
	}
	sub.Receipt = &r
	err = tx.QueryRow(ctx, `SELECT receipt_key FROM submission.submission_versions WHERE submission_id = $1 AND version = $2`,
		sub.ID, r.Version).Scan(&sub.ReceiptKey)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("receipt key of %s v%d: %w", sub.ID, r.Version, err)
	}
	return nil
}

// appendReceipt adds the receipt of v at the end of its consultation's
// chain. The chain head's row lock orders the receipts of one consultation.
func appendReceipt(ctx context.Context, tx pgx.Tx, v domain.VersionContent, digest []byte) (*domain.Receipt, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO submission.chain_heads (consultation_id, seq, chain_digest)
		VALUES ($1, 0, $2) ON CONFLICT DO NOTHING`, v.ConsultationID, domain.GenesisDigest); err != nil {
		return nil, fmt.Errorf("chain head of %s: %w", v.ConsultationID, err)
	}
	var seq int64
	var prev []byte
	if err := tx.QueryRow(ctx, `SELECT seq, chain_digest FROM submission.chain_heads WHERE consultation_id = $1 FOR UPDATE`,
		v.ConsultationID).Scan(&seq, &prev); err != nil {
		return nil, fmt.Errorf("lock chain head of %s: %w", v.ConsultationID, err)
	}
	r := &domain.Receipt{
		ID: uuid.Must(uuid.NewV7()).String(), ConsultationID: v.ConsultationID, SubmissionID: v.SubmissionID,
		Version: v.Version, Sequence: seq + 1, ContentDigest: digest, PreviousDigest: prev,
		IssuedAt: v.CreatedAt,
	}
	r.ChainDigest = domain.ChainDigest(r.ConsultationID, r.Sequence, r.PreviousDigest, r.ContentDigest)
	_, err := tx.Exec(ctx, `INSERT INTO submission.receipts
		(consultation_id, seq, receipt_id, submission_id, version, content_digest, previous_digest, chain_digest, issued_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		r.ConsultationID, r.Sequence, r.ID, r.SubmissionID, r.Version, r.ContentDigest, r.PreviousDigest, r.ChainDigest, r.IssuedAt)
	if err != nil {
		return nil, fmt.Errorf("insert receipt: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE submission.chain_heads SET seq = $2, chain_digest = $3 WHERE consultation_id = $1`,
		r.ConsultationID, r.Sequence, r.ChainDigest); err != nil {
		return nil, fmt.Errorf("advance chain head: %w", err)
	}
	return r, nil
}

// Submission returns submission id with the receipt of its latest version.
func (s *Store) Submission(ctx context.Context, id string) (domain.Submission, error) {
	sub, err := scanSubmission(s.pool.QueryRow(ctx, `SELECT `+submissionColumns+` FROM submission.submissions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, apperr.NotFound("id", "submission %s not found", id)
	}
	if err != nil {
		return sub, fmt.Errorf("get submission %s: %w", id, err)
	}
	if sub.Receipt, err = s.LatestReceipt(ctx, sub.ID, sub.Version); err != nil {
		return sub, err
	}
	ts, err := s.translationsOf(ctx, []string{sub.ID})
	sub.Translations = ts[sub.ID]
	return sub, err
}

// UpdateFunc changes a submission and says what else the change writes. It
// reads what it needs through reads, which run in the transaction; it does
// no other I/O.
type UpdateFunc func(reads Reads, sub *domain.Submission) (Change, error)

// UpdateSubmission loads submission id under a row lock, lets update change
// it, and stores the result with what the change adds, in one transaction
// that holds one connection of the pool.
func (s *Store) UpdateSubmission(ctx context.Context, id string, update UpdateFunc) (domain.Submission, error) {
	var out domain.Submission
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		sub, err := scanSubmission(tx.QueryRow(ctx, `SELECT `+submissionColumns+` FROM submission.submissions WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("id", "submission %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("get submission %s: %w", id, err)
		}
		ch, err := update(Reads{q: tx}, &sub)
		if err != nil {
			return err
		}
		answers, err := json.Marshal(sub.Answers)
		if err != nil {
			return fmt.Errorf("encode answers: %w", err)
		}
		r := sub.Respondent
		_, err = tx.Exec(ctx, `
			UPDATE submission.submissions
			SET stakeholder_type = $2, country = $3, region = $4, organisation_name = $5, person_name = $6,
			    transparency_register_id = $7, contact_email = $8, language = $9, language_source = $10, answers = $11,
			    publication = $12, status = $13, version = $14, updated_at = $15, confirmed_at = $16, withdrawn_at = $17
			WHERE id = $1`,
			sub.ID, r.StakeholderType, r.Country, r.Region, r.OrganisationName, r.PersonName, r.TransparencyRegisterID,
			r.ContactEmail, sub.Language, sub.LanguageSource, answers, sub.Publication, sub.Status, sub.Version, sub.UpdatedAt,
			nullTime(sub.ConfirmedAt), nullTime(sub.WithdrawnAt))
		if err != nil {
			return fmt.Errorf("update submission %s: %w", id, err)
		}
		out = sub
		return s.record(ctx, tx, &out, ch)
	})
	if err == nil && out.Receipt == nil {
		out.Receipt, err = s.LatestReceipt(ctx, out.ID, out.Version)
	}
	return out, err
}

// LatestReceipt returns the receipt of a submission version; nil when that
// version has none (versions accepted before receipts existed).
func (s *Store) LatestReceipt(ctx context.Context, submissionID string, version int64) (*domain.Receipt, error) {
	r, err := scanReceipt(s.pool.QueryRow(ctx, `SELECT `+receiptColumns+` FROM submission.receipts
		WHERE submission_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1`, submissionID, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("receipt of %s v%d: %w", submissionID, version, err)
	}
	return &r, nil
}

const receiptColumns = `receipt_id, consultation_id, submission_id, version, seq, content_digest, previous_digest, chain_digest, issued_at`

func scanReceipt(row pgx.Row) (domain.Receipt, error) {
	var r domain.Receipt
	err := row.Scan(&r.ID, &r.ConsultationID, &r.SubmissionID, &r.Version, &r.Sequence, &r.ContentDigest,
		&r.PreviousDigest, &r.ChainDigest, &r.IssuedAt)
	return r, err
}

// Receipt returns receipt id with its neighbours in the chain (nil at the
// ends).
func (s *Store) Receipt(ctx context.Context, id string) (r domain.Receipt, prev, next *domain.Receipt, err error) {
	r, err = scanReceipt(s.pool.QueryRow(ctx, `SELECT `+receiptColumns+` FROM submission.receipts WHERE receipt_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil, nil, apperr.NotFound("receipt_id", "receipt %s not found", id)
	}
	if err != nil {
		return r, nil, nil, fmt.Errorf("receipt %s: %w", id, err)
	}
	neighbour := func(seq int64) (*domain.Receipt, error) {
		n, err := scanReceipt(s.pool.QueryRow(ctx, `SELECT `+receiptColumns+` FROM submission.receipts
			WHERE consultation_id = $1 AND seq = $2`, r.ConsultationID, seq))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return &n, err
	}
	if prev, err = neighbour(r.Sequence - 1); err != nil {
		return r, nil, nil, fmt.Errorf("receipt before %s: %w", id, err)
	}
	if next, err = neighbour(r.Sequence + 1); err != nil {
		return r, nil, nil, fmt.Errorf("receipt after %s: %w", id, err)
	}
	return r, prev, next, nil
}

// Version returns one stored version of a submission with what the
// service kept of its receipt's commitment; erased reports that its
// personal data was overwritten.
func (s *Store) Version(ctx context.Context, consultationID, submissionID string, version int64) (v domain.VersionContent, c domain.Commitment, erased bool, err error) {
	row := s.pool.QueryRow(ctx, `SELECT `+versionColumns+`, `+commitmentColumns+` FROM submission.submission_versions v
		WHERE submission_id = $1 AND version = $2`, submissionID, version)
	v, erased, err = scanVersion(row, consultationID, &c.Format, &c.Key, &c.ContentSalt, &c.PersonalDigest)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, c, false, apperr.NotFound("version", "version %d of submission %s not found", version, submissionID)
	}
	return v, c, erased, err
}

// commitmentColumns are a version's commitment, as domain.Commitment;
// saltColumns all of it but the format.
const (
	saltColumns       = `v.receipt_key, v.content_salt, v.personal_digest`
	commitmentColumns = `v.receipt_format, ` + saltColumns
)

const versionColumns = `v.submission_id, v.version, v.stakeholder_type, v.country, v.region, v.organisation_name, v.person_name,
	v.transparency_register_id, v.contact_email, v.language, v.answers, v.publication, v.withdrawn, v.created_at, v.erased_at IS NOT NULL`

// scanVersion scans versionColumns, then into more when given.
func scanVersion(row pgx.Row, consultationID string, more ...any) (domain.VersionContent, bool, error) {
	v := domain.VersionContent{ConsultationID: consultationID}
	var answers []byte
	var erased bool
	r := &v.Respondent
	err := row.Scan(append([]any{&v.SubmissionID, &v.Version, &r.StakeholderType, &r.Country, &r.Region, &r.OrganisationName, &r.PersonName,
		&r.TransparencyRegisterID, &r.ContactEmail, &v.Language, &answers, &v.Publication, &v.Withdrawn, &v.CreatedAt, &erased}, more...)...)
	if err != nil {
		return v, false, err
	}
	if err := json.Unmarshal(answers, &v.Answers); err != nil {
		return v, erased, fmt.Errorf("decode answers: %w", err)
	}
	return v, erased, nil
}

// ChainEntry is one receipt with the version it covers.
type ChainEntry struct {
	Receipt domain.Receipt
	// Version is nil when the version row is missing.
	Version *domain.VersionContent
	// Commitment is what was kept to recheck the version's digest.
	Commitment domain.Commitment
	Erased     bool
}

// WalkChain calls fn for every receipt of a consultation in chain order,
// with the version it covers, streaming so that a long chain is not held in
// memory.
func (s *Store) WalkChain(ctx context.Context, consultationID string, fn func(ChainEntry) error) error {
	rows, err := s.pool.Query(ctx, `SELECT r.receipt_id, r.consultation_id, r.submission_id, r.version, r.seq, r.content_digest,
			r.previous_digest, r.chain_digest, r.issued_at, v.submission_id IS NOT NULL, `+versionColumnsNullable+`,
			coalesce(v.receipt_format, 0), `+saltColumns+`
		FROM submission.receipts r
		LEFT JOIN submission.submission_versions v ON v.submission_id = r.submission_id AND v.version = r.version
		WHERE r.consultation_id = $1 ORDER BY r.seq`, consultationID)
	if err != nil {
		return fmt.Errorf("walk chain of %s: %w", consultationID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ChainEntry
		var present bool
		var vc nullableVersion
		r := &e.Receipt
		if err := rows.Scan(&r.ID, &r.ConsultationID, &r.SubmissionID, &r.Version, &r.Sequence, &r.ContentDigest,
			&r.PreviousDigest, &r.ChainDigest, &r.IssuedAt, &present, &vc.stakeholderType, &vc.country, &vc.region,
			&vc.organisation, &vc.person, &vc.register, &vc.email, &vc.language, &vc.answers, &vc.publication,
			&vc.withdrawn, &vc.createdAt, &vc.erased, &e.Commitment.Format, &e.Commitment.Key, &e.Commitment.ContentSalt,
			&e.Commitment.PersonalDigest); err != nil {
			return fmt.Errorf("walk chain of %s: %w", consultationID, err)
		}
		if present {
			v, err := vc.content(r)
			if err != nil {
				return err
			}
			e.Version, e.Erased = &v, *vc.erased
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

const versionColumnsNullable = `v.stakeholder_type, v.country, v.region, v.organisation_name, v.person_name,
	v.transparency_register_id, v.contact_email, v.language, v.answers, v.publication, v.withdrawn, v.created_at,
	v.erased_at IS NOT NULL`

type nullableVersion struct {
	stakeholderType, country, region, organisation, person, register, email, language, publication *string
	answers                                                                                        []byte
	withdrawn, erased                                                                              *bool
	createdAt                                                                                      *time.Time
}

func (n nullableVersion) content(r *domain.Receipt) (domain.VersionContent, error) {
	v := domain.VersionContent{
		ConsultationID: r.ConsultationID, SubmissionID: r.SubmissionID, Version: r.Version,
		Respondent: domain.Respondent{StakeholderType: *n.stakeholderType, Country: *n.country, Region: *n.region,
			OrganisationName: *n.organisation, PersonName: *n.person, TransparencyRegisterID: *n.register, ContactEmail: *n.email},
		Language: *n.language, Publication: domain.Publication(*n.publication), Withdrawn: *n.withdrawn, CreatedAt: *n.createdAt,
	}
	if err := json.Unmarshal(n.answers, &v.Answers); err != nil {
		return v, fmt.Errorf("decode answers of %s v%d: %w", r.SubmissionID, r.Version, err)
	}
	return v, nil
}

// Document is an uploaded position paper.
type Document struct {
	Key, ConsultationID, MediaType, SHA256 string
	Size                                   int64
	// CreatedAt is when it was uploaded (the last time, for content
	// uploaded again): its grace period runs from then.
	CreatedAt time.Time
}

// AddDocument records an uploaded document; uploading the same content
// twice records it once, and starts its grace period again.
func (s *Store) AddDocument(ctx context.Context, d Document) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO submission.documents (blob_key, consultation_id, media_type, size_bytes, sha256, created_at)
		VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (blob_key) DO UPDATE
		SET created_at = greatest(submission.documents.created_at, EXCLUDED.created_at)`,
		d.Key, d.ConsultationID, d.MediaType, d.Size, d.SHA256, d.CreatedAt)
	if err != nil {
		return fmt.Errorf("record document %s: %w", d.Key, err)
	}
	return nil
}

// Document returns the document stored under key.
func (r Reads) Document(ctx context.Context, key string) (Document, error) {
	d := Document{Key: key}
	err := r.q.QueryRow(ctx, `SELECT consultation_id, media_type, size_bytes, sha256 FROM submission.documents WHERE blob_key = $1`,
		key).Scan(&d.ConsultationID, &d.MediaType, &d.Size, &d.SHA256)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, apperr.NotFound("blob_id", "no uploaded document %q", key)
	}
	if err != nil {
		return d, fmt.Errorf("document %s: %w", key, err)
	}
	return d, nil
}

// DueExpirations returns up to limit pending submissions whose confirmation
// time has run out.
func (s *Store) DueExpirations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text FROM submission.submissions
		WHERE status = 'pending_confirmation' AND confirmation_expires_at <= $1 LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due expirations: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("due expirations: %w", err)
	}
	return out, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ByIdempotencyKey returns the submission created with key for a
// consultation, with its latest receipt.
func (s *Store) ByIdempotencyKey(ctx context.Context, consultationID, key string) (domain.Submission, error) {
	sub, err := scanSubmission(s.pool.QueryRow(ctx, `SELECT `+submissionColumns+` FROM submission.submissions
		WHERE consultation_id = $1 AND idempotency_key = $2`, consultationID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, apperr.NotFound("idempotency_key", "no submission with this key")
	}
	if err != nil {
		return sub, fmt.Errorf("submission by idempotency key: %w", err)
	}
	return sub, s.withReceiptKey(ctx, &sub)
}

// withReceiptKey loads the latest receipt of sub and the key of its
// commitment, for an idempotent retry, which answers the submitter as the
// first request did. The key is gone once the submission was erased.
func (s *Store) withReceiptKey(ctx context.Context, sub *domain.Submission) error {
	var err error
	if sub.Receipt, err = s.LatestReceipt(ctx, sub.ID, sub.Version); err != nil || sub.Receipt == nil {
		return err
	}
	err = s.pool.QueryRow(ctx, `SELECT receipt_key FROM submission.submission_versions WHERE submission_id = $1 AND version = $2`,
		sub.ID, sub.Receipt.Version).Scan(&sub.ReceiptKey)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("receipt key of %s v%d: %w", sub.ID, sub.Receipt.Version, err)
	}
	return nil
}

// SubmissionFilter selects submissions of one consultation.
type SubmissionFilter struct {
	ConsultationID  string
	StakeholderType string
	Country         string
	Region          string
	Language        string
	After, Before   time.Time
	// PublicOnly keeps active, non-confidential submissions.
	PublicOnly bool
	// Keyset position: submissions after (AfterCreatedAt, AfterID).
	AfterCreatedAt time.Time
	AfterID        string
	Limit          int
}

// ListSubmissions returns submissions by creation time, then id.
func (s *Store) ListSubmissions(ctx context.Context, f SubmissionFilter) ([]domain.Submission, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+submissionColumns+` FROM submission.submissions
		WHERE consultation_id = $1
		  AND ($2 = '' OR stakeholder_type = $2) AND ($3 = '' OR country = $3) AND ($4 = '' OR region = $4)
		  AND ($5 = '' OR language = $5)
		  AND ($6::timestamptz IS NULL OR created_at >= $6) AND ($7::timestamptz IS NULL OR created_at < $7)
		  AND (NOT $8 OR (status = 'active' AND publication <> 'confidential'))
		  AND ($9::text = '' OR (created_at, id) > ($10, $9::uuid))
		ORDER BY created_at, id LIMIT $11`,
		f.ConsultationID, f.StakeholderType, f.Country, f.Region, f.Language, nullTime(f.After), nullTime(f.Before),
		f.PublicOnly, f.AfterID, f.AfterCreatedAt, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list submissions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Submission, error) { return scanSubmission(r) })
	if err != nil {
		return nil, fmt.Errorf("list submissions: %w", err)
	}
	ids := make([]string, len(out))
	for i, sub := range out {
		ids[i] = sub.ID
	}
	ts, err := s.translationsOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list submissions: %w", err)
	}
	for i := range out {
		out[i].Translations = ts[out[i].ID]
	}
	return out, nil
}

// ChainHead returns the end of a consultation's chain (sequence 0 when it
// has no receipts).
func (s *Store) ChainHead(ctx context.Context, consultationID string) (domain.Receipt, error) {
	h := domain.Receipt{ConsultationID: consultationID, ChainDigest: domain.GenesisDigest}
	err := s.pool.QueryRow(ctx, `SELECT seq, chain_digest FROM submission.chain_heads WHERE consultation_id = $1`,
		consultationID).Scan(&h.Sequence, &h.ChainDigest)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("chain head of %s: %w", consultationID, err)
	}
	return h, nil
}

// SubmissionsWithoutReceipt returns submissions of a consultation whose
// latest version has no receipt.
func (s *Store) SubmissionsWithoutReceipt(ctx context.Context, consultationID string) ([]domain.Submission, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.id::text, s.version FROM submission.submissions s
		WHERE s.consultation_id = $1
		  AND NOT EXISTS (SELECT 1 FROM submission.receipts r WHERE r.submission_id = s.id AND r.version = s.version)
		ORDER BY s.created_at LIMIT 10`, consultationID)
	if err != nil {
		return nil, fmt.Errorf("submissions without receipt: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Submission, error) {
		var sub domain.Submission
		err := r.Scan(&sub.ID, &sub.Version)
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("submissions without receipt: %w", err)
	}
	return out, nil
}
