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
	"github.com/consulta-platform/consulta/services/consultation/internal/domain"
	"github.com/consulta-platform/consulta/services/consultation/internal/protoconv"
	"github.com/consulta-platform/consulta/services/consultation/internal/store"
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

// CreateDialogue schedules d on behalf of p.
func (a *App) CreateDialogue(ctx context.Context, p auth.Principal, d domain.Dialogue) (domain.Dialogue, error) {
	now := a.now().UTC()
	d, err := domain.NewDialogue(p, d, now)
	if err != nil {
		return d, err
	}
	ok, err := a.store.ThematicAreaExists(ctx, d.ThematicArea)
	if err != nil {
		return d, err
	}
	if !ok {
		return d, apperr.Invalid("thematic_area", "unknown thematic area %q", d.ThematicArea)
	}
	d.ID = newID()
	ev, err := events.New(events.DialogueScheduled, events.Aggregate{Type: "dialogue", ID: d.ID, Version: d.Version},
		&consultationv1.DialogueScheduledEvent{Dialogue: protoconv.Dialogue(d)}, now)
	if err != nil {
		return d, err
	}
	if err := a.store.CreateDialogue(ctx, d, ev); err != nil {
		return d, err
	}
	return d, nil
}

// GetDialogue returns a dialogue; dialogues are public.
func (a *App) GetDialogue(ctx context.Context, id string) (domain.Dialogue, error) {
	return a.store.GetDialogue(ctx, id)
}

// CreateConsultation drafts c on behalf of p.
func (a *App) CreateConsultation(ctx context.Context, p auth.Principal, c domain.Consultation) (domain.Consultation, error) {
	d, err := a.store.GetDialogue(ctx, c.DialogueID)
	if err != nil {
		if apperr.IsNotFound(err) {
			return c, apperr.NotFound("dialogue_id", "dialogue %s not found", c.DialogueID)
		}
		return c, err
	}
	now := a.now().UTC()
	c, err = domain.NewConsultation(p, d, c, now)
	if err != nil {
		return c, err
	}
	c.ID = newID()
	ev, err := consultationEvent(events.ConsultationDrafted, c, now)
	if err != nil {
		return c, err
	}
	if err := a.store.CreateConsultation(ctx, c, ev); err != nil {
		return c, err
	}
	return c, nil
}

// GetConsultation returns consultation id when p may see it.
func (a *App) GetConsultation(ctx context.Context, p auth.Principal, id string) (domain.Consultation, error) {
	c, err := a.store.GetConsultation(ctx, id)
	if err != nil {
		return c, err
	}
	if !c.VisibleTo(p) {
		// A draft is not public: answer as if it did not exist.
		return domain.Consultation{}, apperr.NotFound("id", "consultation %s not found", id)
	}
	return c, nil
}

// OpenConsultation opens consultation id for submissions.
func (a *App) OpenConsultation(ctx context.Context, p auth.Principal, id string, version int64) (domain.Consultation, error) {
	return a.transition(ctx, p, id, version, events.ConsultationOpened, (*domain.Consultation).Open)
}

// CloseConsultation stops consultation id taking submissions.
func (a *App) CloseConsultation(ctx context.Context, p auth.Principal, id string, version int64) (domain.Consultation, error) {
	return a.transition(ctx, p, id, version, events.ConsultationClosed, (*domain.Consultation).Close)
}

func (a *App) transition(ctx context.Context, p auth.Principal, id string, version int64, eventType string,
	change func(*domain.Consultation, time.Time) error) (domain.Consultation, error) {
	return a.store.UpdateConsultation(ctx, id, func(c *domain.Consultation) ([]*eventsv1.Envelope, error) {
		if !domain.CanManage(p, c.CoLeadCountries) {
			if !c.VisibleTo(p) {
				return nil, apperr.NotFound("id", "consultation %s not found", id)
			}
			return nil, apperr.Denied("only the secretariat or a co-lead of %v may manage consultation %s", c.CoLeadCountries, id)
		}
		if err := c.CheckVersion(version); err != nil {
			return nil, err
		}
		now := a.now().UTC()
		if err := change(c, now); err != nil {
			return nil, err
		}
		ev, err := consultationEvent(eventType, *c, now)
		if err != nil {
			return nil, err
		}
		return []*eventsv1.Envelope{ev}, nil
	})
}

func consultationEvent(eventType string, c domain.Consultation, now time.Time) (*eventsv1.Envelope, error) {
	pc := protoconv.Consultation(c)
	agg := events.Aggregate{Type: "consultation", ID: c.ID, Version: c.Version}
	switch eventType {
	case events.ConsultationDrafted:
		return events.New(eventType, agg, &consultationv1.ConsultationDraftedEvent{Consultation: pc}, now)
	case events.ConsultationOpened:
		return events.New(eventType, agg, &consultationv1.ConsultationOpenedEvent{Consultation: pc}, now)
	case events.ConsultationClosed:
		return events.New(eventType, agg, &consultationv1.ConsultationClosedEvent{Consultation: pc}, now)
	}
	return nil, fmt.Errorf("no payload for event type %s", eventType)
}

func newID() string {
	// UUIDv7: time-ordered, so new rows land at the end of the primary key.
	return uuid.Must(uuid.NewV7()).String()
}
