package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// ConsultationSource reads from the consultation service itself, for the
// moments the read models have not caught up with it: a submission sent
// right after OpenConsultation returned arrives before the event that opened
// the consultation, and a thematic area whose co-leads were assigned before
// the read model kept co-leads has no row yet. Both methods answer with what
// the consultation service holds now, as a caller without a token would
// see it (drafts do not exist for it), or with an apperr NotFound error when
// there is no such thing.
type ConsultationSource interface {
	Consultation(ctx context.Context, id string) (*consultationv1.Consultation, error)
	ThematicArea(ctx context.Context, id string) (*consultationv1.ThematicArea, error)
}

// acceptingConsultation returns consultation id and the time now when it
// takes submissions now. The read model answers first; when it does not
// know the consultation or holds a state that refuses submissions (not yet
// open, closed, past a deadline an extension may have moved), the answer may
// only be late: the consultation service is asked, its answer stored with
// the consumer's version guard, and the read model asked once more. Only a
// consultation the consultation service does not know either is NotFound.
// It must not run inside a transaction: it may call the consultation
// service.
func (a *App) acceptingConsultation(ctx context.Context, id string) (domain.Consultation, time.Time, error) {
	c, err := a.store.Consultation(ctx, id)
	now := a.clock()
	if err == nil {
		err = c.Accepts(now)
	}
	if err == nil || a.cfg.Source == nil || !mayBeLate(err) {
		return c, now, err
	}
	if err := a.readThroughConsultation(ctx, id); err != nil {
		return domain.Consultation{}, now, err
	}
	if c, err = a.store.Consultation(ctx, id); err != nil {
		return c, now, err
	}
	now = a.clock()
	return c, now, c.Accepts(now)
}

// mayBeLate reports whether err, from the read model, may only mean that
// the read model has not heard of a change yet.
func mayBeLate(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e) && (e.Kind == apperr.KindNotFound || e.Kind == apperr.KindFailedPrecondition)
}

// readThroughConsultation stores consultation id as the consultation
// service holds it now, unless the read model holds a newer version.
func (a *App) readThroughConsultation(ctx context.Context, id string) error {
	pc, err := a.cfg.Source.Consultation(ctx, id)
	if apperr.IsNotFound(err) {
		return apperr.NotFound("consultation_id", "consultation %s not found", id)
	}
	if err != nil {
		return fmt.Errorf("read consultation %s through: %w", id, err)
	}
	if pc.GetId() != id || pc.GetVersion() < 1 {
		return fmt.Errorf("read consultation %s through: the consultation service answered with %q at version %d", id, pc.GetId(), pc.GetVersion())
	}
	return a.store.RefreshConsultation(ctx, ReadModel(pc))
}

// coLeadOf reports whether country co-leads, now, the thematic area of
// consultation c. The co-leads come from the read model of thematic areas,
// which follows every change of co-leads, not from the copy of the
// consultation's last event. A consultation or an area the read models do
// not know yet is read once from the consultation service.
func (a *App) coLeadOf(ctx context.Context, c domain.Consultation, country string) (bool, error) {
	if c.ThematicArea == "" {
		// Stored before the read model recorded areas: read it again.
		if a.cfg.Source == nil {
			return false, nil
		}
		err := a.readThroughConsultation(ctx, c.ID)
		if apperr.IsNotFound(err) {
			return false, nil // a draft the public may not see: nobody's to read here
		}
		if err != nil {
			return false, err
		}
		if c, err = a.store.Consultation(ctx, c.ID); err != nil {
			return false, err
		}
		if c.ThematicArea == "" {
			return false, nil
		}
	}
	area, err := a.store.ThematicArea(ctx, c.ThematicArea)
	if apperr.IsNotFound(err) && a.cfg.Source != nil {
		area, err = a.readThroughThematicArea(ctx, c.ThematicArea)
	}
	if apperr.IsNotFound(err) {
		return false, nil // an area nobody co-leads
	}
	if err != nil {
		return false, err
	}
	return area.CoLeadBy(country), nil
}

// readThroughThematicArea stores thematic area id as the consultation
// service holds it now, unless the read model holds a newer version, and
// returns what the read model then holds.
func (a *App) readThroughThematicArea(ctx context.Context, id string) (domain.ThematicArea, error) {
	pa, err := a.cfg.Source.ThematicArea(ctx, id)
	if err != nil {
		return domain.ThematicArea{}, fmt.Errorf("read thematic area %s through: %w", id, err)
	}
	area, err := thematicArea(pa)
	if err != nil || area.ID != id {
		return domain.ThematicArea{}, fmt.Errorf("read thematic area %s through: the consultation service answered with %q: %v", id, pa.GetId(), err)
	}
	if err := a.store.RefreshThematicArea(ctx, area); err != nil {
		return domain.ThematicArea{}, err
	}
	return a.store.ThematicArea(ctx, id)
}
