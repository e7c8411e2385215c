// Package store keeps the summary projections in the summary schema: counts
// of submissions per consultation, stakeholder type and region.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema is the Postgres schema this service owns.
const Schema = "summary"

// Counts is what the projection knows of one consultation.
type Counts struct {
	ConsultationID    string
	Total             int64
	ByStakeholderType map[string]int64
	ByRegion          map[string]int64
	UpdatedAt         time.Time
}

// CountSubmission adds one submission to the counts, inside the consumer's
// inbox transaction tx.
func CountSubmission(ctx context.Context, tx pgx.Tx, consultationID, stakeholderType, region string, at time.Time) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO summary.counts (consultation_id, stakeholder_type, region, submissions, updated_at)
		VALUES ($1, $2, $3, 1, $4)
		ON CONFLICT (consultation_id, stakeholder_type, region)
		DO UPDATE SET submissions = summary.counts.submissions + 1,
		              updated_at = greatest(summary.counts.updated_at, EXCLUDED.updated_at)`,
		consultationID, stakeholderType, region, at)
	if err != nil {
		return fmt.Errorf("count submission for %s: %w", consultationID, err)
	}
	return nil
}

// Store reads the projections.
type Store struct{ pool *pgxpool.Pool }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Counts returns the counts of consultation id; zero counts when nothing has
// been submitted yet.
func (s *Store) Counts(ctx context.Context, id string) (Counts, error) {
	c := Counts{ConsultationID: id, ByStakeholderType: map[string]int64{}, ByRegion: map[string]int64{}}
	rows, err := s.pool.Query(ctx, `
		SELECT stakeholder_type, region, submissions, updated_at
		FROM summary.counts WHERE consultation_id = $1`, id)
	if err != nil {
		return c, fmt.Errorf("counts of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st, region string
		var n int64
		var at time.Time
		if err := rows.Scan(&st, &region, &n, &at); err != nil {
			return c, fmt.Errorf("counts of %s: %w", id, err)
		}
		c.Total += n
		c.ByStakeholderType[st] += n
		c.ByRegion[region] += n
		if at.After(c.UpdatedAt) {
			c.UpdatedAt = at
		}
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("counts of %s: %w", id, err)
	}
	return c, nil
}
