// Package store keeps dialogues and consultations in the consultation schema.
// Every write goes through a transaction that also takes the events the change
// produces into the outbox, so state and events never disagree.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
)

// Schema is the Postgres schema this service owns.
const Schema = "consultation"

// Store reads and writes the consultation schema.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// ThematicAreaExists reports whether id is a known thematic area.
func (s *Store) ThematicAreaExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM consultation.thematic_areas WHERE id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("thematic area %s: %w", id, err)
	}
	return ok, nil
}

// CreateDialogue inserts d and its events.
func (s *Store) CreateDialogue(ctx context.Context, d domain.Dialogue, evs ...*eventsv1.Envelope) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var endsAt *time.Time
		if !d.EndsAt.IsZero() {
			endsAt = &d.EndsAt
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO consultation.dialogues
			  (id, thematic_area, title, colead_countries, starts_at, ends_at, venue_city, venue_country,
			   status, version, created_by, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			d.ID, d.ThematicArea, d.Title, d.CoLeadCountries, d.StartsAt, endsAt, d.VenueCity, d.VenueCountry,
			d.Status, d.Version, d.CreatedBy, d.CreatedAt, d.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert dialogue %s: %w", d.ID, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
}

// GetDialogue returns the dialogue id.
func (s *Store) GetDialogue(ctx context.Context, id string) (domain.Dialogue, error) {
	var d domain.Dialogue
	var endsAt *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT id, thematic_area, title, colead_countries, starts_at, ends_at, venue_city, venue_country,
		       status, version, created_by, created_at, updated_at
		FROM consultation.dialogues WHERE id = $1`, id).Scan(
		&d.ID, &d.ThematicArea, &d.Title, &d.CoLeadCountries, &d.StartsAt, &endsAt, &d.VenueCity, &d.VenueCountry,
		&d.Status, &d.Version, &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, apperr.NotFound("id", "dialogue %s not found", id)
	}
	if err != nil {
		return d, fmt.Errorf("get dialogue %s: %w", id, err)
	}
	if endsAt != nil {
		d.EndsAt = *endsAt
	}
	return d, nil
}

// CreateConsultation inserts c and its events.
func (s *Store) CreateConsultation(ctx context.Context, c domain.Consultation, evs ...*eventsv1.Envelope) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		doc, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode consultation %s: %w", c.ID, err)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO consultation.consultations
			  (id, dialogue_id, status, opens_at, closes_at, version, document, created_by, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
			c.ID, c.DialogueID, c.Status, nullTime(c.OpensAt), c.ClosesAt, c.Version, doc, c.CreatedBy, c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("insert consultation %s: %w", c.ID, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
}

// GetConsultation returns the consultation id.
func (s *Store) GetConsultation(ctx context.Context, id string) (domain.Consultation, error) {
	return getConsultation(ctx, s.pool, id, "")
}

// UpdateFunc changes a consultation and returns the events the change produces.
type UpdateFunc func(c *domain.Consultation) ([]*eventsv1.Envelope, error)

// UpdateConsultation loads consultation id under a row lock, lets update change
// it, and stores the result with its events, all in one transaction.
func (s *Store) UpdateConsultation(ctx context.Context, id string, update UpdateFunc) (domain.Consultation, error) {
	var out domain.Consultation
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := getConsultation(ctx, tx, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		evs, err := update(&c)
		if err != nil {
			return err
		}
		doc, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode consultation %s: %w", c.ID, err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE consultation.consultations
			SET status = $2, opens_at = $3, closes_at = $4, version = $5, document = $6, updated_at = $7
			WHERE id = $1`,
			c.ID, c.Status, nullTime(c.OpensAt), c.ClosesAt, c.Version, doc, c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("update consultation %s: %w", c.ID, err)
		}
		out = c
		return outbox.Add(ctx, tx, Schema, evs...)
	})
	return out, err
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getConsultation(ctx context.Context, q querier, id, lock string) (domain.Consultation, error) {
	var c domain.Consultation
	var doc []byte
	err := q.QueryRow(ctx, `SELECT document FROM consultation.consultations WHERE id = $1 `+lock, id).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, apperr.NotFound("id", "consultation %s not found", id)
	}
	if err != nil {
		return c, fmt.Errorf("get consultation %s: %w", id, err)
	}
	if err := json.Unmarshal(doc, &c); err != nil {
		return c, fmt.Errorf("decode consultation %s: %w", id, err)
	}
	return c, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
