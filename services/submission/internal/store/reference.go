package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// ApplyCountry stores the region of country code at version in the read
// model unless it holds the same or a newer version, so that redelivered and
// reordered events converge on the latest state.
func ApplyCountry(ctx context.Context, tx pgx.Tx, code, region string, version int64) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO submission.countries (code, region, version)
		VALUES ($1, $2, $3)
		ON CONFLICT (code) DO UPDATE
		SET region = EXCLUDED.region, version = EXCLUDED.version
		WHERE submission.countries.version < EXCLUDED.version`,
		code, region, version)
	if err != nil {
		return fmt.Errorf("apply country %s v%d: %w", code, version, err)
	}
	return nil
}

// ApplyStakeholderType stores stakeholder type id at version in the read
// model unless it holds the same or a newer version.
func ApplyStakeholderType(ctx context.Context, tx pgx.Tx, id, nameEN string, version int64) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO submission.stakeholder_types (id, name_en, version)
		VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE
		SET name_en = EXCLUDED.name_en, version = EXCLUDED.version
		WHERE submission.stakeholder_types.version < EXCLUDED.version`,
		id, nameEN, version)
	if err != nil {
		return fmt.Errorf("apply stakeholder type %s v%d: %w", id, version, err)
	}
	return nil
}

// ApplyThematicArea stores the co-leads of thematic area a unless the read
// model holds the same or a newer version of it.
func ApplyThematicArea(ctx context.Context, tx pgx.Tx, a domain.ThematicArea) error {
	coLeads := a.CoLeads
	if coLeads == nil {
		coLeads = []string{}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO submission.thematic_areas (id, colead_countries, version)
		VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE
		SET colead_countries = EXCLUDED.colead_countries, version = EXCLUDED.version
		WHERE submission.thematic_areas.version < EXCLUDED.version`,
		a.ID, coLeads, a.Version)
	if err != nil {
		return fmt.Errorf("apply thematic area %s v%d: %w", a.ID, a.Version, err)
	}
	return nil
}

// RefreshThematicArea stores a, read from the consultation service, with the
// version guard of ApplyThematicArea, in a transaction of its own.
func (s *Store) RefreshThematicArea(ctx context.Context, a domain.ThematicArea) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error { return ApplyThematicArea(ctx, tx, a) })
}

// ThematicArea returns thematic area id with its current co-leads, or an
// apperr NotFound error when the read model has not heard of it.
func (s *Store) ThematicArea(ctx context.Context, id string) (domain.ThematicArea, error) {
	a := domain.ThematicArea{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT colead_countries, version FROM submission.thematic_areas WHERE id = $1`, id).
		Scan(&a.CoLeads, &a.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, apperr.NotFound("thematic_area", "thematic area %q not in the read model", id)
	}
	if err != nil {
		return a, fmt.Errorf("read thematic area %s: %w", id, err)
	}
	return a, nil
}
