// Package store keeps submissions and the consultation read model in the
// submission schema. Personal data (contact email) is stored here and nowhere
// else.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// Schema is the Postgres schema this service owns.
const Schema = "submission"

// Store reads and writes the submission schema. Its Reads run on the pool;
// inside a transaction, use the Reads that UpdateSubmission hands over.
type Store struct {
	Reads
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{Reads: Reads{q: pool}, pool: pool} }

// querier runs queries: the pool, or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Reads are the reads a use case makes to check a change: the read models
// and the uploaded documents. Inside a transaction they must run on that
// transaction (see UpdateSubmission): a read that took a second connection
// from the pool while the transaction holds one could wait forever once
// every connection is held by a transaction waiting the same way.
type Reads struct {
	q querier
}

// ApplyConsultation stores c in the read model unless it already holds the
// same or a newer version, so redelivered and reordered events converge on
// the latest state. The consumer and the read-through (a consultation read
// from the consultation service when the read model lags) both store
// through here. The one exception to "same version changes nothing" is a
// row written before the read model recorded thematic areas: the same
// version with its area fills it in.
func ApplyConsultation(ctx context.Context, tx pgx.Tx, c domain.Consultation) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode consultation %s: %w", c.ID, err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO submission.consultations (id, version, status, closes_at, document, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (id) DO UPDATE
		SET version = EXCLUDED.version, status = EXCLUDED.status, closes_at = EXCLUDED.closes_at,
		    document = EXCLUDED.document, updated_at = now()
		WHERE submission.consultations.version < EXCLUDED.version
		   OR (submission.consultations.version = EXCLUDED.version
		       AND coalesce(submission.consultations.document->>'thematic_area', '') = ''
		       AND coalesce(EXCLUDED.document->>'thematic_area', '') <> '')`,
		c.ID, c.Version, c.Status, c.ClosesAt, doc)
	if err != nil {
		return fmt.Errorf("apply consultation %s v%d: %w", c.ID, c.Version, err)
	}
	return nil
}

// RefreshConsultation stores c, read from the consultation service, with
// the version guard of ApplyConsultation, in a transaction of its own.
func (s *Store) RefreshConsultation(ctx context.Context, c domain.Consultation) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error { return ApplyConsultation(ctx, tx, c) })
}

// Consultation returns the read model of consultation id.
func (r Reads) Consultation(ctx context.Context, id string) (domain.Consultation, error) {
	var c domain.Consultation
	var doc []byte
	err := r.q.QueryRow(ctx, `SELECT document FROM submission.consultations WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, apperr.NotFound("consultation_id", "consultation %s not found", id)
	}
	if err != nil {
		return c, fmt.Errorf("read consultation %s: %w", id, err)
	}
	if err := json.Unmarshal(doc, &c); err != nil {
		return c, fmt.Errorf("decode consultation %s: %w", id, err)
	}
	return c, nil
}

// StakeholderTypeExists reports whether id is a known stakeholder type.
func (r Reads) StakeholderTypeExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := r.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM submission.stakeholder_types WHERE id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("stakeholder type %s: %w", id, err)
	}
	return ok, nil
}

// Region returns the region of country: EU, LAC, or OTHER for any country
// that is not an Alliance member.
func (r Reads) Region(ctx context.Context, country string) (string, error) {
	var region string
	err := r.q.QueryRow(ctx, `SELECT region FROM submission.countries WHERE code = $1`, country).Scan(&region)
	if errors.Is(err, pgx.ErrNoRows) {
		return "OTHER", nil
	}
	if err != nil {
		return "", fmt.Errorf("region of %s: %w", country, err)
	}
	return region, nil
}
