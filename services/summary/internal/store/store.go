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

// SubmissionState is a submission as the summary projects it.
type SubmissionState struct {
	ID, ConsultationID, StakeholderType, Region string
	Counted                                     bool
	Version                                     int64
	At                                          time.Time
}

// ApplySubmission moves a submission between counts to match st, inside the
// consumer's inbox transaction tx. An event older than what the projection
// holds changes nothing, so reordered events converge.
//
// Any number of replicas may apply events of one submission at once. Each
// first makes sure the submission's row exists (a placeholder at version 0
// that counts nothing) and then locks it, so their transactions take turns
// on a row that is really there: FOR UPDATE on a missing row locks nothing,
// and two replicas handling the first events of a submission would each
// find no row and each count it.
func ApplySubmission(ctx context.Context, tx pgx.Tx, st SubmissionState) error {
	// An INSERT that meets a row another transaction inserted and has not
	// committed yet waits for that transaction; the SELECT after it then
	// sees the committed row (each statement takes a new snapshot at READ
	// COMMITTED) and locks it.
	_, err := tx.Exec(ctx, `INSERT INTO summary.submissions (id, consultation_id, stakeholder_type, region, counted, version)
		VALUES ($1, $2, $3, $4, false, 0)
		ON CONFLICT (id) DO NOTHING`,
		st.ID, st.ConsultationID, st.StakeholderType, st.Region)
	if err != nil {
		return fmt.Errorf("projection of %s: %w", st.ID, err)
	}
	var prev SubmissionState
	err = tx.QueryRow(ctx, `SELECT consultation_id::text, stakeholder_type, region, counted, version
		FROM summary.submissions WHERE id = $1 FOR UPDATE`, st.ID).Scan(
		&prev.ConsultationID, &prev.StakeholderType, &prev.Region, &prev.Counted, &prev.Version)
	switch {
	case err != nil:
		return fmt.Errorf("projection of %s: %w", st.ID, err)
	case prev.Version >= st.Version:
		return nil
	}
	if prev.Counted {
		if err := addCount(ctx, tx, prev.ConsultationID, prev.StakeholderType, prev.Region, -1, st.At); err != nil {
			return err
		}
	}
	if st.Counted {
		if err := addCount(ctx, tx, st.ConsultationID, st.StakeholderType, st.Region, 1, st.At); err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE summary.submissions
		SET stakeholder_type = $2, region = $3, counted = $4, version = $5
		WHERE id = $1`,
		st.ID, st.StakeholderType, st.Region, st.Counted, st.Version)
	if err != nil {
		return fmt.Errorf("projection of %s: %w", st.ID, err)
	}
	return nil
}

func addCount(ctx context.Context, tx pgx.Tx, consultationID, stakeholderType, region string, delta int, at time.Time) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO summary.counts (consultation_id, stakeholder_type, region, submissions, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (consultation_id, stakeholder_type, region)
		DO UPDATE SET submissions = summary.counts.submissions + EXCLUDED.submissions,
		              updated_at = greatest(summary.counts.updated_at, EXCLUDED.updated_at)`,
		consultationID, stakeholderType, region, delta, at)
	if err != nil {
		return fmt.Errorf("count for %s: %w", consultationID, err)
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
		FROM summary.counts WHERE consultation_id = $1 AND submissions <> 0`, id)
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
