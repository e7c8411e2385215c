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
	"github.com/consulta-platform/consulta/services/consultation/internal/reference"
)

// Schema is the Postgres schema this service owns.
const Schema = "consultation"

// Store reads and writes the consultation schema. Its Reads run on the
// pool; inside a transaction, use the Reads that the update methods hand
// over.
type Store struct {
	Reads
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{Reads: Reads{q: pool}, pool: pool} }

// Reads are the reads a change needs besides the row it changes: co-leads
// and dialogues. Inside a transaction they must run on that transaction:
// a read that took a second connection from the pool while the transaction
// holds one could wait forever once every connection is held by a
// transaction waiting the same way.
type Reads struct {
	q querier
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
		return addEvents(ctx, tx, evs)
	})
}

// GetDialogue returns the dialogue id with its consultations.
func (r Reads) GetDialogue(ctx context.Context, id string) (domain.Dialogue, error) {
	return getDialogue(ctx, r.q, id, "")
}

const dialogueColumns = `id, thematic_area, title, colead_countries, starts_at, ends_at, venue_city, venue_country,
	status, version, created_by, created_at, updated_at,
	ARRAY(SELECT c.id::text FROM consultation.consultations c WHERE c.dialogue_id = d.id ORDER BY c.created_at)`

func scanDialogue(row pgx.Row) (domain.Dialogue, error) {
	var d domain.Dialogue
	var endsAt *time.Time
	err := row.Scan(&d.ID, &d.ThematicArea, &d.Title, &d.CoLeadCountries, &d.StartsAt, &endsAt, &d.VenueCity, &d.VenueCountry,
		&d.Status, &d.Version, &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt, &d.ConsultationIDs)
	if endsAt != nil {
		d.EndsAt = *endsAt
	}
	return d, err
}

func getDialogue(ctx context.Context, q querier, id, lock string) (domain.Dialogue, error) {
	d, err := scanDialogue(q.QueryRow(ctx, `SELECT `+dialogueColumns+` FROM consultation.dialogues d WHERE id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, apperr.NotFound("id", "dialogue %s not found", id)
	}
	if err != nil {
		return d, fmt.Errorf("get dialogue %s: %w", id, err)
	}
	return d, nil
}

// DialogueUpdateFunc changes a dialogue and returns the events of the
// change. It reads what else it needs through reads, which run in the
// transaction; it does no other I/O.
type DialogueUpdateFunc func(reads Reads, d *domain.Dialogue) ([]*eventsv1.Envelope, error)

// UpdateDialogue loads dialogue id under a row lock, lets update change it,
// and stores the result with its events in one transaction. An update that
// returns no events writes nothing.
func (s *Store) UpdateDialogue(ctx context.Context, id string, update DialogueUpdateFunc) (domain.Dialogue, error) {
	var out domain.Dialogue
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// FOR UPDATE OF d: the consultations sub-select is not locked.
		d, err := getDialogue(ctx, tx, id, "FOR UPDATE OF d")
		if err != nil {
			return err
		}
		evs, err := update(Reads{q: tx}, &d)
		out = d
		if err != nil || len(evs) == 0 {
			return err // no events: nothing changed, nothing to write
		}
		_, err = tx.Exec(ctx, `
			UPDATE consultation.dialogues
			SET title = $2, starts_at = $3, ends_at = $4, venue_city = $5, venue_country = $6,
			    status = $7, version = $8, updated_at = $9
			WHERE id = $1`,
			d.ID, d.Title, d.StartsAt, nullTime(d.EndsAt), d.VenueCity, d.VenueCountry, d.Status, d.Version, d.UpdatedAt)
		if err != nil {
			return fmt.Errorf("update dialogue %s: %w", id, err)
		}
		out = d
		return addEvents(ctx, tx, evs)
	})
	return out, err
}

// DialogueFilter selects dialogues.
type DialogueFilter struct {
	ThematicArea string
	Status       domain.DialogueStatus
	// After is the keyset position: dialogues after (StartsAt, ID).
	AfterStartsAt time.Time
	AfterID       string
	Limit         int
}

// ListDialogues returns dialogues by start time, then id.
func (s *Store) ListDialogues(ctx context.Context, f DialogueFilter) ([]domain.Dialogue, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+dialogueColumns+` FROM consultation.dialogues d
		WHERE ($1 = '' OR thematic_area = $1) AND ($2 = '' OR status = $2)
		  AND ($3::text = '' OR (starts_at, id) > ($4, $3::uuid))
		ORDER BY starts_at, id LIMIT $5`,
		f.ThematicArea, string(f.Status), f.AfterID, f.AfterStartsAt, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list dialogues: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Dialogue, error) { return scanDialogue(r) })
	if err != nil {
		return nil, fmt.Errorf("list dialogues: %w", err)
	}
	return out, nil
}

// CoLeads returns the countries co-leading a thematic area, sorted; an
// unknown area is a not-found error on thematic_area.
func (r Reads) CoLeads(ctx context.Context, thematicArea string) ([]string, error) {
	return reference.CoLeads(ctx, r.q, thematicArea)
}

// ManagedAreas returns the thematic areas that country co-leads.
func (s *Store) ManagedAreas(ctx context.Context, country string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT thematic_area FROM consultation.thematic_area_coleads WHERE country = $1`, country)
	if err != nil {
		return nil, fmt.Errorf("areas co-led by %s: %w", country, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("areas co-led by %s: %w", country, err)
	}
	return out, nil
}

// UnknownStakeholderType returns the first of ids that is not a known
// stakeholder type, or "".
func (s *Store) UnknownStakeholderType(ctx context.Context, ids []string) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	var unknown *string
	err := s.pool.QueryRow(ctx, `SELECT min(x) FROM unnest($1::text[]) x
		WHERE x NOT IN (SELECT id FROM consultation.stakeholder_types)`, ids).Scan(&unknown)
	if err != nil {
		return "", fmt.Errorf("stakeholder types: %w", err)
	}
	if unknown == nil {
		return "", nil
	}
	return *unknown, nil
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
			  (id, dialogue_id, status, opens_at, closes_at, version, document, created_by, created_at, updated_at,
			   thematic_area, languages, colead_countries)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			c.ID, c.DialogueID, c.Status, nullTime(c.OpensAt), c.ClosesAt, c.Version, doc, c.CreatedBy, c.CreatedAt, c.UpdatedAt,
			c.ThematicArea, c.Languages, c.CoLeadCountries)
		if err != nil {
			return fmt.Errorf("insert consultation %s: %w", c.ID, err)
		}
		return addEvents(ctx, tx, evs)
	})
}

// GetConsultation returns the consultation id.
func (s *Store) GetConsultation(ctx context.Context, id string) (domain.Consultation, error) {
	return getConsultation(ctx, s.pool, id, "")
}

// UpdateFunc changes a consultation and returns the events the change
// produces. It reads what else it needs through reads, which run in the
// transaction; it does no other I/O.
type UpdateFunc func(reads Reads, c *domain.Consultation) ([]*eventsv1.Envelope, error)

// UpdateConsultation loads consultation id under a row lock, lets update change
// it, and stores the result with its events, all in one transaction.
func (s *Store) UpdateConsultation(ctx context.Context, id string, update UpdateFunc) (domain.Consultation, error) {
	var out domain.Consultation
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = UpdateConsultationTx(ctx, tx, id, update)
		return err
	})
	return out, err
}

// UpdateConsultationTx is UpdateConsultation inside the caller's transaction
// (a consumer's inbox transaction). An update that returns no events writes
// nothing.
func UpdateConsultationTx(ctx context.Context, tx pgx.Tx, id string, update UpdateFunc) (domain.Consultation, error) {
	c, err := getConsultation(ctx, tx, id, "FOR UPDATE")
	if err != nil {
		return c, err
	}
	evs, err := update(Reads{q: tx}, &c)
	if err != nil || len(evs) == 0 {
		return c, err
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return c, fmt.Errorf("encode consultation %s: %w", c.ID, err)
	}
	_, err = tx.Exec(ctx, `
		UPDATE consultation.consultations
		SET status = $2, opens_at = $3, closes_at = $4, version = $5, document = $6, updated_at = $7,
		    languages = $8, colead_countries = $9
		WHERE id = $1`,
		c.ID, c.Status, nullTime(c.OpensAt), c.ClosesAt, c.Version, doc, c.UpdatedAt, c.Languages, c.CoLeadCountries)
	if err != nil {
		return c, fmt.Errorf("update consultation %s: %w", c.ID, err)
	}
	return c, addEvents(ctx, tx, evs)
}

// querier runs queries: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
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

// ConsultationFilter selects consultations for a listing.
type ConsultationFilter struct {
	ThematicArea  string
	Language      string
	Statuses      []domain.Status
	CoLeadCountry string
	// DraftAreas are the thematic areas whose drafts the caller may see; nil
	// means none, AllDrafts means every area (the secretariat).
	DraftAreas []string
	AllDrafts  bool
	// Keyset position: consultations after (AfterClosesAt, AfterID).
	AfterClosesAt time.Time
	AfterID       string
	Limit         int
}

// ListConsultations returns consultations by deadline, then id.
func (s *Store) ListConsultations(ctx context.Context, f ConsultationFilter) ([]domain.Consultation, error) {
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	rows, err := s.pool.Query(ctx, `SELECT document FROM consultation.consultations
		WHERE status = ANY($1)
		  AND ($2 = '' OR thematic_area = $2)
		  AND ($3 = '' OR $3 = ANY(languages))
		  AND ($4 = '' OR $4 = ANY(colead_countries))
		  AND (status <> 'draft' OR $5 OR thematic_area = ANY($6))
		  AND ($7::text = '' OR (closes_at, id) > ($8, $7::uuid))
		ORDER BY closes_at, id LIMIT $9`,
		statuses, f.ThematicArea, f.Language, f.CoLeadCountry, f.AllDrafts, f.DraftAreas, f.AfterID, f.AfterClosesAt, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list consultations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Consultation, error) {
		var doc []byte
		var c domain.Consultation
		if err := r.Scan(&doc); err != nil {
			return c, err
		}
		return c, json.Unmarshal(doc, &c)
	})
	if err != nil {
		return nil, fmt.Errorf("list consultations: %w", err)
	}
	return out, nil
}

// Due returns up to limit consultations whose scheduled transition is due
// at now: scheduled ones past opens_at and open ones past closes_at.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		(SELECT id::text FROM consultation.consultations WHERE status = 'scheduled' AND opens_at <= $1 LIMIT $2)
		UNION ALL
		(SELECT id::text FROM consultation.consultations WHERE status = 'open' AND closes_at <= $1 LIMIT $2)`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due transitions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("due transitions: %w", err)
	}
	return out, nil
}

// NextDue returns when the next scheduled transition falls due, or the zero
// time when none is pending.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next *time.Time
	err := s.pool.QueryRow(ctx, `SELECT least(
		(SELECT min(opens_at) FROM consultation.consultations WHERE status = 'scheduled'),
		(SELECT min(closes_at) FROM consultation.consultations WHERE status = 'open'),
		(SELECT min(coalesce(ends_at, starts_at)) FROM consultation.dialogues WHERE status = 'planned'))`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due transition: %w", err)
	}
	if next == nil {
		return time.Time{}, nil
	}
	return *next, nil
}

// DueDialogues returns up to limit planned dialogues that have ended by now
// (or started, when no end is known).
func (s *Store) DueDialogues(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text FROM consultation.dialogues
		WHERE status = 'planned' AND coalesce(ends_at, starts_at) <= $1 LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("due dialogues: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("due dialogues: %w", err)
	}
	return out, nil
}

// addEvents writes evs to the outbox. Events carry the whole consultation,
// whose questions (with their texts in every language) are what can make
// one too large to publish: a refusal names them.
func addEvents(ctx context.Context, tx pgx.Tx, evs []*eventsv1.Envelope) error {
	return outbox.WithField(outbox.Add(ctx, tx, Schema, evs...), "questions", "the consultation's questions and texts are")
}
