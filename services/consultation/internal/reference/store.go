package reference

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/outbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
)

// Schema is the Postgres schema of the consultation service, which holds the
// reference data and the outbox its events go through.
const Schema = "consultation"

// Querier runs queries: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// CoLeads returns the co-lead countries of thematicArea (ISO 3166-1 codes,
// sorted), which are empty until the secretariat assigns them. An unknown
// thematic area is an apperr NotFound error about field "thematic_area".
// Run it on a transaction to read the co-leads in that transaction.
func CoLeads(ctx context.Context, q Querier, thematicArea string) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT l.country
		FROM consultation.thematic_areas a
		LEFT JOIN consultation.thematic_area_coleads l ON l.thematic_area = a.id
		WHERE a.id = $1
		ORDER BY l.country`, thematicArea)
	if err != nil {
		return nil, fmt.Errorf("co-leads of %s: %w", thematicArea, err)
	}
	countries, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	if err != nil {
		return nil, fmt.Errorf("co-leads of %s: %w", thematicArea, err)
	}
	if len(countries) == 0 {
		return nil, apperr.NotFound("thematic_area", "thematic area %q not found", thematicArea)
	}
	out := make([]string, 0, len(countries))
	for _, c := range countries {
		if c != nil { // the one row of an area without co-leads
			out = append(out, *c)
		}
	}
	return out, nil
}

// Store reads and writes the reference data. Every write goes through a
// transaction that also takes its events into the outbox.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// lockCoLeads serializes, until the end of tx, every change that can break
// the rule that co-leads include an EU and a LAC country: new co-leads and
// changes of a country's region. Both are rare secretariat edits, so one
// lock is simpler than ordering row locks across areas and countries.
func lockCoLeads(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('consultation.thematic_area_coleads', 0))`); err != nil {
		return fmt.Errorf("lock co-leads: %w", err)
	}
	return nil
}

// CountryFilter selects countries; the zero value selects all.
type CountryFilter struct {
	Region          Region // empty for every region
	AllianceMembers bool   // only members of the Alliance
}

const countryColumns = `code, region, name_en, name_es, name_pt, name_fr, alliance_member, version, updated_at`

func scanCountry(row pgx.Row) (Country, error) {
	var c Country
	err := row.Scan(&c.Code, &c.Region, &c.Names.EN, &c.Names.ES, &c.Names.PT, &c.Names.FR,
		&c.AllianceMember, &c.Version, &c.UpdatedAt)
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, err
}

// Countries returns the countries f selects, ordered by code.
func (s *Store) Countries(ctx context.Context, f CountryFilter) ([]Country, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+countryColumns+` FROM consultation.countries
		WHERE ($1 = '' OR region = $1) AND (NOT $2 OR alliance_member)
		ORDER BY code`, string(f.Region), f.AllianceMembers)
	if err != nil {
		return nil, fmt.Errorf("list countries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Country, error) { return scanCountry(r) })
	if err != nil {
		return nil, fmt.Errorf("list countries: %w", err)
	}
	return out, nil
}

// UpdateCountryFunc changes a country, given the co-leaderships of the
// thematic areas it co-leads, and returns the events of the change: none
// when nothing changed, and then nothing is written.
type UpdateCountryFunc func(c *Country, coLed []CoLeadership) ([]*eventsv1.Envelope, error)

// UpdateCountry loads country code under a lock, lets update change it, and
// stores the result with its events, all in one transaction.
func (s *Store) UpdateCountry(ctx context.Context, code string, update UpdateCountryFunc) (Country, error) {
	var out Country
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockCoLeads(ctx, tx); err != nil {
			return err
		}
		c, err := scanCountry(tx.QueryRow(ctx, `SELECT `+countryColumns+` FROM consultation.countries WHERE code = $1 FOR UPDATE`, code))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("code", "country %q not found", code)
		}
		if err != nil {
			return fmt.Errorf("get country %s: %w", code, err)
		}
		coLed, err := coLeaderships(ctx, tx, code)
		if err != nil {
			return err
		}
		evs, err := update(&c, coLed)
		if err != nil {
			return err
		}
		out = c
		if len(evs) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `
			UPDATE consultation.countries
			SET region = $2, name_en = $3, name_es = $4, name_pt = $5, name_fr = $6, alliance_member = $7,
			    version = $8, updated_at = $9
			WHERE code = $1`,
			c.Code, c.Region, c.Names.EN, c.Names.ES, c.Names.PT, c.Names.FR, c.AllianceMember, c.Version, c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("update country %s: %w", c.Code, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
	return out, err
}

// coLeaderships returns the co-leads, with their regions, of every thematic
// area that country co-leads.
func coLeaderships(ctx context.Context, tx pgx.Tx, country string) ([]CoLeadership, error) {
	rows, err := tx.Query(ctx, `
		SELECT m.thematic_area, c.code, c.region
		FROM consultation.thematic_area_coleads l
		JOIN consultation.thematic_area_coleads m ON m.thematic_area = l.thematic_area
		JOIN consultation.countries c ON c.code = m.country
		WHERE l.country = $1
		ORDER BY m.thematic_area, c.code`, country)
	if err != nil {
		return nil, fmt.Errorf("thematic areas co-led by %s: %w", country, err)
	}
	defer rows.Close()
	var out []CoLeadership
	for rows.Next() {
		var area, code string
		var region Region
		if err := rows.Scan(&area, &code, &region); err != nil {
			return nil, fmt.Errorf("thematic areas co-led by %s: %w", country, err)
		}
		if len(out) == 0 || out[len(out)-1].ThematicArea != area {
			out = append(out, CoLeadership{ThematicArea: area, Regions: map[string]Region{}})
		}
		out[len(out)-1].Regions[code] = region
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("thematic areas co-led by %s: %w", country, err)
	}
	return out, nil
}

// ThematicAreas returns every thematic area with its co-leads, ordered by id.
func (s *Store) ThematicAreas(ctx context.Context) ([]ThematicArea, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT a.id, a.name_en, a.name_es, a.name_pt, a.name_fr, a.version, a.updated_at,
		       COALESCE(array_agg(l.country ORDER BY l.country) FILTER (WHERE l.country IS NOT NULL), '{}')
		FROM consultation.thematic_areas a
		LEFT JOIN consultation.thematic_area_coleads l ON l.thematic_area = a.id
		GROUP BY a.id
		ORDER BY a.id`)
	if err != nil {
		return nil, fmt.Errorf("list thematic areas: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ThematicArea, error) {
		var a ThematicArea
		err := r.Scan(&a.ID, &a.Names.EN, &a.Names.ES, &a.Names.PT, &a.Names.FR, &a.Version, &a.UpdatedAt, &a.CoLeads)
		a.UpdatedAt = a.UpdatedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list thematic areas: %w", err)
	}
	return out, nil
}

// CreateThematicArea inserts a, which has no co-leads yet, and its events.
func (s *Store) CreateThematicArea(ctx context.Context, a ThematicArea, evs ...*eventsv1.Envelope) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO consultation.thematic_areas (id, name_en, name_es, name_pt, name_fr, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
			a.ID, a.Names.EN, a.Names.ES, a.Names.PT, a.Names.FR, a.Version, a.UpdatedAt)
		if postgres.IsUniqueViolation(err) {
			return apperr.AlreadyExists("id", "thematic area %q already exists", a.ID)
		}
		if err != nil {
			return fmt.Errorf("insert thematic area %s: %w", a.ID, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
}

// UpdateThematicAreaFunc changes a thematic area and returns the events of
// the change: none when nothing changed, and then nothing is written.
type UpdateThematicAreaFunc func(a *ThematicArea) ([]*eventsv1.Envelope, error)

// UpdateThematicArea loads thematic area id under a lock, lets update change
// its names, and stores the result with its events in one transaction.
func (s *Store) UpdateThematicArea(ctx context.Context, id string, update UpdateThematicAreaFunc) (ThematicArea, error) {
	var out ThematicArea
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := lockThematicArea(ctx, tx, "id", id)
		if err != nil {
			return err
		}
		evs, err := update(&a)
		if err != nil {
			return err
		}
		out = a
		if len(evs) == 0 {
			return nil
		}
		if err := writeThematicArea(ctx, tx, a); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
	return out, err
}

// SetCoLeadsFunc gives a thematic area new co-leads, given the regions of
// the requested countries that exist, and returns the events of the change:
// none when nothing changed, and then nothing is written.
type SetCoLeadsFunc func(a *ThematicArea, regions map[string]Region) ([]*eventsv1.Envelope, error)

// SetCoLeads loads thematic area id under a lock and the regions of
// countries, lets update replace its co-leads, and stores the result with its
// events in one transaction. Co-leads that stay keep when and by whom they
// were assigned; new ones are assigned by assignedBy.
func (s *Store) SetCoLeads(ctx context.Context, id string, countries []string, assignedBy string, update SetCoLeadsFunc) (ThematicArea, error) {
	var out ThematicArea
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockCoLeads(ctx, tx); err != nil {
			return err
		}
		a, err := lockThematicArea(ctx, tx, "thematic_area", id)
		if err != nil {
			return err
		}
		regions, err := countryRegions(ctx, tx, countries)
		if err != nil {
			return err
		}
		evs, err := update(&a, regions)
		if err != nil {
			return err
		}
		out = a
		if len(evs) == 0 {
			return nil
		}
		if err := writeThematicArea(ctx, tx, a); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(`DELETE FROM consultation.thematic_area_coleads WHERE thematic_area = $1 AND NOT (country = ANY ($2))`,
			a.ID, a.CoLeads)
		batch.Queue(`
			INSERT INTO consultation.thematic_area_coleads (thematic_area, country, assigned_by, assigned_at)
			SELECT $1, unnest($2::text[]), $3, $4
			ON CONFLICT (thematic_area, country) DO NOTHING`,
			a.ID, a.CoLeads, assignedBy, a.UpdatedAt)
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("replace co-leads of %s: %w", a.ID, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
	return out, err
}

// lockThematicArea loads thematic area id with its co-leads and locks it
// until the end of tx. An unknown id is a NotFound error about field.
func lockThematicArea(ctx context.Context, tx pgx.Tx, field, id string) (ThematicArea, error) {
	var a ThematicArea
	err := tx.QueryRow(ctx, `
		SELECT id, name_en, name_es, name_pt, name_fr, version, updated_at
		FROM consultation.thematic_areas WHERE id = $1 FOR UPDATE`, id).Scan(
		&a.ID, &a.Names.EN, &a.Names.ES, &a.Names.PT, &a.Names.FR, &a.Version, &a.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, apperr.NotFound(field, "thematic area %q not found", id)
	}
	if err != nil {
		return a, fmt.Errorf("get thematic area %s: %w", id, err)
	}
	a.UpdatedAt = a.UpdatedAt.UTC()
	a.CoLeads, err = CoLeads(ctx, tx, id)
	return a, err
}

func writeThematicArea(ctx context.Context, tx pgx.Tx, a ThematicArea) error {
	_, err := tx.Exec(ctx, `
		UPDATE consultation.thematic_areas
		SET name_en = $2, name_es = $3, name_pt = $4, name_fr = $5, version = $6, updated_at = $7
		WHERE id = $1`,
		a.ID, a.Names.EN, a.Names.ES, a.Names.PT, a.Names.FR, a.Version, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update thematic area %s: %w", a.ID, err)
	}
	return nil
}

// countryRegions returns the regions of those of codes that are countries.
func countryRegions(ctx context.Context, tx pgx.Tx, codes []string) (map[string]Region, error) {
	rows, err := tx.Query(ctx, `SELECT code, region FROM consultation.countries WHERE code = ANY ($1)`, codes)
	if err != nil {
		return nil, fmt.Errorf("regions of %v: %w", codes, err)
	}
	defer rows.Close()
	out := make(map[string]Region, len(codes))
	for rows.Next() {
		var code string
		var region Region
		if err := rows.Scan(&code, &region); err != nil {
			return nil, fmt.Errorf("regions of %v: %w", codes, err)
		}
		out[code] = region
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("regions of %v: %w", codes, err)
	}
	return out, nil
}

const stakeholderTypeColumns = `id, name_en, name_es, name_pt, name_fr, version, updated_at`

func scanStakeholderType(row pgx.Row) (StakeholderType, error) {
	var t StakeholderType
	err := row.Scan(&t.ID, &t.Names.EN, &t.Names.ES, &t.Names.PT, &t.Names.FR, &t.Version, &t.UpdatedAt)
	t.UpdatedAt = t.UpdatedAt.UTC()
	return t, err
}

// StakeholderTypes returns every stakeholder type, ordered by id.
func (s *Store) StakeholderTypes(ctx context.Context) ([]StakeholderType, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+stakeholderTypeColumns+` FROM consultation.stakeholder_types ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list stakeholder types: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StakeholderType, error) { return scanStakeholderType(r) })
	if err != nil {
		return nil, fmt.Errorf("list stakeholder types: %w", err)
	}
	return out, nil
}

// CreateStakeholderType inserts t and its events.
func (s *Store) CreateStakeholderType(ctx context.Context, t StakeholderType, evs ...*eventsv1.Envelope) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO consultation.stakeholder_types (`+stakeholderTypeColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			t.ID, t.Names.EN, t.Names.ES, t.Names.PT, t.Names.FR, t.Version, t.UpdatedAt)
		if postgres.IsUniqueViolation(err) {
			return apperr.AlreadyExists("id", "stakeholder type %q already exists", t.ID)
		}
		if err != nil {
			return fmt.Errorf("insert stakeholder type %s: %w", t.ID, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
}

// UpdateStakeholderTypeFunc changes a stakeholder type and returns the events
// of the change: none when nothing changed, and then nothing is written.
type UpdateStakeholderTypeFunc func(t *StakeholderType) ([]*eventsv1.Envelope, error)

// UpdateStakeholderType loads stakeholder type id under a lock, lets update
// change it, and stores the result with its events in one transaction.
func (s *Store) UpdateStakeholderType(ctx context.Context, id string, update UpdateStakeholderTypeFunc) (StakeholderType, error) {
	var out StakeholderType
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := scanStakeholderType(tx.QueryRow(ctx,
			`SELECT `+stakeholderTypeColumns+` FROM consultation.stakeholder_types WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("id", "stakeholder type %q not found", id)
		}
		if err != nil {
			return fmt.Errorf("get stakeholder type %s: %w", id, err)
		}
		evs, err := update(&t)
		if err != nil {
			return err
		}
		out = t
		if len(evs) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `
			UPDATE consultation.stakeholder_types
			SET name_en = $2, name_es = $3, name_pt = $4, name_fr = $5, version = $6, updated_at = $7
			WHERE id = $1`,
			t.ID, t.Names.EN, t.Names.ES, t.Names.PT, t.Names.FR, t.Version, t.UpdatedAt)
		if err != nil {
			return fmt.Errorf("update stakeholder type %s: %w", t.ID, err)
		}
		return outbox.Add(ctx, tx, Schema, evs...)
	})
	return out, err
}

// dbTime is t as Postgres stores it: in microseconds, and read back in UTC,
// so that what a write returns equals what a read returns.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
