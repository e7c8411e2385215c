package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
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
