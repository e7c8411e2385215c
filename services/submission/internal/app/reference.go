package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

var regionNames = map[consultationv1.Region]string{
	consultationv1.Region_REGION_EU:    "EU",
	consultationv1.Region_REGION_LAC:   "LAC",
	consultationv1.Region_REGION_OTHER: "OTHER",
}

// ApplyReferenceEvent keeps the countries' regions, the thematic areas'
// co-leads and the stakeholder types current from the consultation
// service's reference events (consulta.reference.>); it runs inside the
// inbox transaction of the consumer. Each row is replaced only by a newer
// version, so redelivered and reordered events converge on the latest
// state.
func ApplyReferenceEvent(ctx context.Context, tx pgx.Tx, env *eventsv1.Envelope) error {
	switch env.GetType() {
	case events.CountryUpdated:
		ev := &consultationv1.CountryUpdatedEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		c := ev.GetCountry()
		region, ok := regionNames[c.GetRegion()]
		if !ok || c.GetCode() == "" || c.GetVersion() < 1 {
			return consumer.Permanent(fmt.Errorf("event %s (%s): country %q with region %v at version %d",
				env.GetId(), env.GetType(), c.GetCode(), c.GetRegion(), c.GetVersion()))
		}
		return store.ApplyCountry(ctx, tx, c.GetCode(), region, c.GetVersion())
	case events.ThematicAreaUpdated:
		ev := &consultationv1.ThematicAreaUpdatedEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		a, err := thematicArea(ev.GetThematicArea())
		if err != nil {
			return consumer.Permanent(fmt.Errorf("event %s (%s): %w", env.GetId(), env.GetType(), err))
		}
		return store.ApplyThematicArea(ctx, tx, a)
	case events.StakeholderTypeUpdated:
		ev := &consultationv1.StakeholderTypeUpdatedEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		t := ev.GetStakeholderType()
		if t.GetId() == "" || t.GetNames().GetEn() == "" || t.GetVersion() < 1 {
			return consumer.Permanent(fmt.Errorf("event %s (%s): stakeholder type %q without an English name or version",
				env.GetId(), env.GetType(), t.GetId()))
		}
		return store.ApplyStakeholderType(ctx, tx, t.GetId(), t.GetNames().GetEn(), t.GetVersion())
	}
	return nil // an event this read model does not need
}

// thematicArea is what the read model keeps of a thematic area: its id, its
// co-leads and its version.
func thematicArea(a *consultationv1.ThematicArea) (domain.ThematicArea, error) {
	if a.GetId() == "" || a.GetVersion() < 1 {
		return domain.ThematicArea{}, fmt.Errorf("thematic area %q at version %d", a.GetId(), a.GetVersion())
	}
	return domain.ThematicArea{ID: a.GetId(), CoLeads: slices.Clone(a.GetColeadCountries()), Version: a.GetVersion()}, nil
}
