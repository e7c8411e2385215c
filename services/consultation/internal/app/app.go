// Package app is the consultation service's use cases: it checks who may do
// what, applies the domain rules, and stores each change with its events.
package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/pagetoken"
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
	"github.com/consulta-platform/consulta/services/consultation/internal/protoconv"
	"github.com/consulta-platform/consulta/services/consultation/internal/store"
	"google.golang.org/protobuf/proto"
)

// App runs the use cases.
type App struct {
	store *store.Store
	now   func() time.Time
}

// New returns the use cases on st; now is the clock (time.Now when nil).
func New(st *store.Store, now func() time.Time) *App {
	if now == nil {
		now = time.Now
	}
	return &App{store: st, now: now}
}

func (a *App) clock() time.Time { return a.now().UTC() }

// CreateDialogue schedules d on behalf of p; the co-leads of its thematic
// area lead it.
func (a *App) CreateDialogue(ctx context.Context, p auth.Principal, d domain.Dialogue) (domain.Dialogue, error) {
	coLeads, err := a.store.CoLeads(ctx, d.ThematicArea)
	if apperr.IsNotFound(err) {
		return d, apperr.Invalid("thematic_area", "unknown thematic area %q", d.ThematicArea)
	}
	if err != nil {
		return d, err
	}
	now := a.clock()
	if d, err = domain.NewDialogue(p, d, coLeads, now); err != nil {
		return d, err
	}
	d.ID = newID()
	ev, err := dialogueEvent(events.DialogueScheduled, d, time.Time{}, now)
	if err != nil {
		return d, err
	}
	return d, a.store.CreateDialogue(ctx, d, ev)
}

// GetDialogue returns a dialogue; dialogues are public.
func (a *App) GetDialogue(ctx context.Context, id string) (domain.Dialogue, error) {
	return a.store.GetDialogue(ctx, id)
}

// UpdateDialogue changes a planned dialogue; a new start moves its digests.
func (a *App) UpdateDialogue(ctx context.Context, p auth.Principal, id string, version int64, ch domain.DialogueChanges) (domain.Dialogue, error) {
	return a.store.UpdateDialogue(ctx, id, func(reads store.Reads, d *domain.Dialogue) ([]*eventsv1.Envelope, error) {
		if err := mayManageDialogue(ctx, reads, p, d); err != nil {
			return nil, err
		}
		if err := d.CheckVersion(version); err != nil {
			return nil, err
		}
		previous := d.StartsAt
		now := a.clock()
		if err := d.Update(ch, now); err != nil {
			return nil, err
		}
		if previous.Equal(d.StartsAt) {
			previous = time.Time{}
		}
		ev, err := dialogueEvent(events.DialogueUpdated, *d, previous, now)
		return []*eventsv1.Envelope{ev}, err
	})
}

// CancelDialogue cancels a planned dialogue and, through its event, its digests.
func (a *App) CancelDialogue(ctx context.Context, p auth.Principal, id string, version int64) (domain.Dialogue, error) {
	return a.store.UpdateDialogue(ctx, id, func(reads store.Reads, d *domain.Dialogue) ([]*eventsv1.Envelope, error) {
		if err := mayManageDialogue(ctx, reads, p, d); err != nil {
			return nil, err
		}
		if err := d.CheckVersion(version); err != nil {
			return nil, err
		}
		now := a.clock()
		if err := d.Cancel(now); err != nil {
			return nil, err
		}
		ev, err := dialogueEvent(events.DialogueCancelled, *d, time.Time{}, now)
		return []*eventsv1.Envelope{ev}, err
	})
}

func mayManageDialogue(ctx context.Context, reads store.Reads, p auth.Principal, d *domain.Dialogue) error {
	coLeads, err := reads.CoLeads(ctx, d.ThematicArea)
	if err != nil {
		return err
	}
	if !domain.CanManage(p, coLeads) {
		return apperr.Denied("only the secretariat or a co-lead of %s (%v) may manage dialogue %s", d.ThematicArea, coLeads, d.ID)
	}
	d.CoLeadCountries = coLeads
	return nil
}

// ListDialogues lists dialogues by start time.
func (a *App) ListDialogues(ctx context.Context, area string, status domain.DialogueStatus, pageSize int, pageToken string) ([]domain.Dialogue, string, error) {
	pos, err := pagetoken.Decode(pageToken)
	if err != nil {
		return nil, "", err
	}
	limit := pagetoken.Limit(pageSize, 50, 200)
	ds, err := a.store.ListDialogues(ctx, store.DialogueFilter{
		ThematicArea: area, Status: status, AfterStartsAt: pos.At, AfterID: pos.ID, Limit: limit + 1,
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ds) > limit {
		ds = ds[:limit]
		last := ds[limit-1]
		next = pagetoken.Encode(pagetoken.Position{At: last.StartsAt, ID: last.ID})
	}
	return ds, next, nil
}

// CreateConsultation drafts a consultation for a dialogue on behalf of p.
func (a *App) CreateConsultation(ctx context.Context, p auth.Principal, dialogueID string, dr domain.Draft) (domain.Consultation, error) {
	d, err := a.store.GetDialogue(ctx, dialogueID)
	if err != nil {
		if apperr.IsNotFound(err) {
			return domain.Consultation{}, apperr.NotFound("dialogue_id", "dialogue %s not found", dialogueID)
		}
		return domain.Consultation{}, err
	}
	coLeads, err := a.store.CoLeads(ctx, d.ThematicArea)
	if err != nil {
		return domain.Consultation{}, err
	}
	if err := a.checkAudience(ctx, dr.Audience); err != nil {
		return domain.Consultation{}, err
	}
	now := a.clock()
	c, err := domain.NewConsultation(p, d, coLeads, dr, now)
	if err != nil {
		return c, err
	}
	c.ID = newID()
	ev, err := consultationEvent(events.ConsultationDrafted, c, now)
	if err != nil {
		return c, err
	}
	return c, a.store.CreateConsultation(ctx, c, ev)
}

func (a *App) checkAudience(ctx context.Context, audience []string) error {
	unknown, err := a.store.UnknownStakeholderType(ctx, audience)
	if err != nil {
		return err
	}
	if unknown != "" {
		return apperr.Invalid("audience", "unknown stakeholder type %q", unknown)
	}
	return nil
}

// GetConsultation returns consultation id when p may see it.
func (a *App) GetConsultation(ctx context.Context, p auth.Principal, id string) (domain.Consultation, error) {
	c, err := a.store.GetConsultation(ctx, id)
	if err != nil {
		return c, err
	}
	if c.Status == domain.StatusDraft {
		coLeads, err := a.store.CoLeads(ctx, c.ThematicArea)
		if err != nil {
			return c, err
		}
		if !domain.CanManage(p, coLeads) {
			// A draft is not public: answer as if it did not exist.
			return domain.Consultation{}, apperr.NotFound("id", "consultation %s not found", id)
		}
	}
	return c, nil
}

// UpdateConsultation replaces the editable fields of consultation id.
func (a *App) UpdateConsultation(ctx context.Context, p auth.Principal, id string, version int64, dr domain.Draft) (domain.Consultation, error) {
	if err := a.checkAudience(ctx, dr.Audience); err != nil {
		return domain.Consultation{}, err
	}
	return a.manage(ctx, p, id, version, func(c *domain.Consultation, d domain.Dialogue, now time.Time) ([]string, error) {
		changed, err := c.Edit(dr, d, now)
		if !changed {
			return nil, err
		}
		return []string{events.ConsultationUpdated}, err
	})
}

// ScheduleConsultation publishes a draft to open by itself at its opens_at.
func (a *App) ScheduleConsultation(ctx context.Context, p auth.Principal, id string, version int64) (domain.Consultation, error) {
	return a.manage(ctx, p, id, version, func(c *domain.Consultation, _ domain.Dialogue, now time.Time) ([]string, error) {
		return []string{events.ConsultationPublished}, c.Schedule(now)
	})
}

// OpenConsultation opens consultation id for submissions now.
func (a *App) OpenConsultation(ctx context.Context, p auth.Principal, id string, version int64) (domain.Consultation, error) {
	return a.manage(ctx, p, id, version, open)
}

func open(c *domain.Consultation, _ domain.Dialogue, now time.Time) ([]string, error) {
	published, err := c.Open(now)
	if published {
		return []string{events.ConsultationPublished, events.ConsultationOpened}, err
	}
	return []string{events.ConsultationOpened}, err
}

// CloseConsultation stops consultation id taking submissions.
func (a *App) CloseConsultation(ctx context.Context, p auth.Principal, id string, version int64) (domain.Consultation, error) {
	return a.manage(ctx, p, id, version, closeNow)
}

func closeNow(c *domain.Consultation, _ domain.Dialogue, now time.Time) ([]string, error) {
	return []string{events.ConsultationClosed}, c.Close(now)
}

// ExtendConsultation moves the deadline later, reopening a closed consultation.
func (a *App) ExtendConsultation(ctx context.Context, p auth.Principal, id string, version int64, closesAt time.Time) (domain.Consultation, error) {
	return a.manage(ctx, p, id, version, func(c *domain.Consultation, d domain.Dialogue, now time.Time) ([]string, error) {
		reopened, err := c.Extend(closesAt, d, now)
		if reopened {
			return []string{events.ConsultationOpened}, err
		}
		return []string{events.ConsultationUpdated}, err
	})
}

// ArchiveConsultation retires a closed consultation.
func (a *App) ArchiveConsultation(ctx context.Context, p auth.Principal, id string, version int64) (domain.Consultation, error) {
	return a.manage(ctx, p, id, version, func(c *domain.Consultation, _ domain.Dialogue, now time.Time) ([]string, error) {
		return []string{events.ConsultationArchived}, c.Archive(now)
	})
}

// ReviewTranslation replaces one text in one language with a reviewed one.
func (a *App) ReviewTranslation(ctx context.Context, p auth.Principal, id string, version int64, path, lang, text string) (domain.Consultation, error) {
	return a.manage(ctx, p, id, version, func(c *domain.Consultation, _ domain.Dialogue, now time.Time) ([]string, error) {
		changed, err := c.SetTranslations(lang, domain.OriginReviewed, []domain.Translation{{Path: path, Text: text}}, now)
		if changed == 0 {
			return nil, err
		}
		return []string{events.ConsultationUpdated}, err
	})
}

// change applies a lifecycle step or an edit to c and names the events it
// produces.
type change func(c *domain.Consultation, d domain.Dialogue, now time.Time) ([]string, error)

// manage runs a change of consultation id on behalf of p: permission,
// version, the change, and its events, in one transaction, which also reads
// the current co-leads and the dialogue.
func (a *App) manage(ctx context.Context, p auth.Principal, id string, version int64, ch change) (domain.Consultation, error) {
	return a.store.UpdateConsultation(ctx, id, func(reads store.Reads, c *domain.Consultation) ([]*eventsv1.Envelope, error) {
		coLeads, err := reads.CoLeads(ctx, c.ThematicArea)
		if err != nil {
			return nil, err
		}
		if !domain.CanManage(p, coLeads) {
			if c.Status == domain.StatusDraft {
				return nil, apperr.NotFound("id", "consultation %s not found", id)
			}
			return nil, apperr.Denied("only the secretariat or a co-lead of %s (%v) may manage consultation %s", c.ThematicArea, coLeads, id)
		}
		c.CoLeadCountries = coLeads
		if err := c.CheckVersion(version); err != nil {
			return nil, err
		}
		return a.applyChange(ctx, reads, c, ch)
	})
}

// applyChange applies ch to c, with c's dialogue read through reads.
func (a *App) applyChange(ctx context.Context, reads store.Reads, c *domain.Consultation, ch change) ([]*eventsv1.Envelope, error) {
	d, err := reads.GetDialogue(ctx, c.DialogueID)
	if err != nil {
		return nil, err
	}
	now := a.clock()
	types, err := ch(c, d, now)
	if err != nil {
		return nil, err
	}
	evs := make([]*eventsv1.Envelope, 0, len(types))
	for _, t := range types {
		ev, err := consultationEvent(t, *c, now)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// ListConsultations lists consultations by deadline. Drafts appear only to
// those who manage them.
func (a *App) ListConsultations(ctx context.Context, p auth.Principal, f store.ConsultationFilter, pageSize int, pageToken string) ([]domain.Consultation, string, error) {
	pos, err := pagetoken.Decode(pageToken)
	if err != nil {
		return nil, "", err
	}
	if len(f.Statuses) == 0 {
		f.Statuses = []domain.Status{domain.StatusScheduled, domain.StatusOpen, domain.StatusClosed}
	}
	switch p.Role {
	case auth.RoleSecretariat:
		f.AllDrafts = true
	case auth.RoleColead:
		if f.DraftAreas, err = a.store.ManagedAreas(ctx, p.Country); err != nil {
			return nil, "", err
		}
	}
	limit := pagetoken.Limit(pageSize, 50, 200)
	f.AfterClosesAt, f.AfterID, f.Limit = pos.At, pos.ID, limit+1
	cs, err := a.store.ListConsultations(ctx, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(cs) > limit {
		cs = cs[:limit]
		last := cs[limit-1]
		next = pagetoken.Encode(pagetoken.Position{At: last.ClosesAt, ID: last.ID})
	}
	return cs, next, nil
}

func dialogueEvent(eventType string, d domain.Dialogue, previousStartsAt time.Time, now time.Time) (*eventsv1.Envelope, error) {
	pd := protoconv.Dialogue(d)
	var payload proto.Message
	switch eventType {
	case events.DialogueScheduled:
		payload = &consultationv1.DialogueScheduledEvent{Dialogue: pd}
	case events.DialogueUpdated:
		ev := &consultationv1.DialogueUpdatedEvent{Dialogue: pd}
		if !previousStartsAt.IsZero() {
			ev.PreviousStartsAt = protoconv.Timestamp(previousStartsAt)
		}
		payload = ev
	case events.DialogueCancelled:
		payload = &consultationv1.DialogueCancelledEvent{Dialogue: pd}
	default:
		return nil, fmt.Errorf("no payload for event type %s", eventType)
	}
	return events.New(eventType, events.Aggregate{Type: "dialogue", ID: d.ID, Version: d.Version}, payload, now)
}

func consultationEvent(eventType string, c domain.Consultation, now time.Time) (*eventsv1.Envelope, error) {
	pc := protoconv.Consultation(c)
	var payload proto.Message
	switch eventType {
	case events.ConsultationDrafted:
		payload = &consultationv1.ConsultationDraftedEvent{Consultation: pc}
	case events.ConsultationPublished:
		payload = &consultationv1.ConsultationPublishedEvent{Consultation: pc}
	case events.ConsultationOpened:
		payload = &consultationv1.ConsultationOpenedEvent{Consultation: pc}
	case events.ConsultationUpdated:
		payload = &consultationv1.ConsultationUpdatedEvent{Consultation: pc}
	case events.ConsultationClosed:
		payload = &consultationv1.ConsultationClosedEvent{Consultation: pc}
	case events.ConsultationArchived:
		payload = &consultationv1.ConsultationArchivedEvent{Consultation: pc}
	default:
		return nil, fmt.Errorf("no payload for event type %s", eventType)
	}
	return events.New(eventType, events.Aggregate{Type: "consultation", ID: c.ID, Version: c.Version}, payload, now)
}

func newID() string {
	// UUIDv7: time-ordered, so new rows land at the end of the primary key.
	return uuid.Must(uuid.NewV7()).String()
}
