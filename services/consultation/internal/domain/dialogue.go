// Package domain holds the rules of dialogues and consultations: what a valid
// questionnaire is, who may manage what, and how a consultation moves through
// its lifecycle. It knows nothing of gRPC, protobuf or SQL.
package domain

import (
	"slices"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/geo"
)

// DialogueStatus is where a dialogue is in its life.
type DialogueStatus string

// Dialogue statuses.
const (
	DialoguePlanned   DialogueStatus = "planned"
	DialogueHeld      DialogueStatus = "held"
	DialogueCancelled DialogueStatus = "cancelled"
)

// Dialogue is a bi-regional policy dialogue of one thematic area.
type Dialogue struct {
	ID              string
	ThematicArea    string
	Title           string
	CoLeadCountries []string
	StartsAt        time.Time
	EndsAt          time.Time // zero when unknown
	VenueCity       string
	VenueCountry    string
	Status          DialogueStatus
	// ConsultationIDs are the consultations held ahead of it (read only).
	ConsultationIDs []string
	Version         int64
	CreatedBy       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// NewDialogue checks a dialogue about to be scheduled by p at now. coLeads
// are the countries co-leading its thematic area, who lead its dialogues.
func NewDialogue(p auth.Principal, d Dialogue, coLeads []string, now time.Time) (Dialogue, error) {
	if len(coLeads) == 0 {
		return Dialogue{}, apperr.FailedPrecondition("thematic_area",
			"thematic area %q has no co-leads yet: the secretariat assigns them first", d.ThematicArea)
	}
	if !CanManage(p, coLeads) {
		return Dialogue{}, apperr.Denied("only the secretariat or a co-lead of %s (%v) may schedule its dialogues", d.ThematicArea, coLeads)
	}
	if err := checkDialogueFields(d, now); err != nil {
		return Dialogue{}, err
	}
	d.CoLeadCountries = slices.Clone(coLeads)
	d.Status = DialoguePlanned
	d.Version = 1
	d.CreatedBy = p.Subject
	d.CreatedAt, d.UpdatedAt = now, now
	return d, nil
}

func checkDialogueFields(d Dialogue, now time.Time) error {
	var errs apperr.List
	if d.VenueCountry != "" {
		if err := geo.Country(d.VenueCountry); err != nil {
			errs.Add("venue_country", "%v", err)
		}
	}
	if !d.StartsAt.After(now) {
		errs.Add("starts_at", "must be in the future")
	}
	if !d.EndsAt.IsZero() && d.EndsAt.Before(d.StartsAt) {
		errs.Add("ends_at", "must not be before starts_at")
	}
	return errs.Err()
}

// DialogueChanges are the fields of a dialogue its managers may edit.
type DialogueChanges struct {
	Title        string
	StartsAt     time.Time
	EndsAt       time.Time
	VenueCity    string
	VenueCountry string
}

// Update applies changes to a planned dialogue.
func (d *Dialogue) Update(ch DialogueChanges, now time.Time) error {
	if d.Status != DialoguePlanned {
		return apperr.FailedPrecondition("id", "dialogue %s is %s; only a planned dialogue can be changed", d.ID, d.Status)
	}
	next := *d
	next.Title, next.StartsAt, next.EndsAt, next.VenueCity, next.VenueCountry = ch.Title, ch.StartsAt, ch.EndsAt, ch.VenueCity, ch.VenueCountry
	if err := checkDialogueFields(next, now); err != nil {
		return err
	}
	*d = next
	d.Version++
	d.UpdatedAt = now
	return nil
}

// Cancel cancels a planned dialogue.
func (d *Dialogue) Cancel(now time.Time) error {
	if d.Status != DialoguePlanned {
		return apperr.FailedPrecondition("id", "dialogue %s is %s; only a planned dialogue can be cancelled", d.ID, d.Status)
	}
	d.Status = DialogueCancelled
	d.Version++
	d.UpdatedAt = now
	return nil
}

// MarkHeld records that a planned dialogue has taken place: its end (or, when
// no end is known, its start) has passed. It reports whether d changed.
func (d *Dialogue) MarkHeld(now time.Time) bool {
	end := d.EndsAt
	if end.IsZero() {
		end = d.StartsAt
	}
	if d.Status != DialoguePlanned || end.After(now) {
		return false
	}
	d.Status = DialogueHeld
	d.Version++
	d.UpdatedAt = now
	return true
}

// CheckVersion implements optimistic concurrency: want 0 skips the check.
func (d *Dialogue) CheckVersion(want int64) error {
	if want != 0 && want != d.Version {
		return apperr.Conflict("version", "dialogue %s is at version %d, not %d: reload and retry", d.ID, d.Version, want)
	}
	return nil
}

// CanManage reports whether p may manage what countries co-lead: the
// secretariat always, a co-lead when their country is one of them.
func CanManage(p auth.Principal, countries []string) bool {
	switch p.Role {
	case auth.RoleSecretariat:
		return true
	case auth.RoleColead:
		return p.Country != "" && slices.Contains(countries, p.Country)
	}
	return false
}
