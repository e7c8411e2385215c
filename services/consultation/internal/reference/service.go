package reference

import (
	"context"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// Aggregate types of the reference events' envelopes.
const (
	AggregateCountry         = "country"
	AggregateThematicArea    = "thematic_area"
	AggregateStakeholderType = "stakeholder_type"
)

// Service runs the use cases of the reference data: anyone reads, only the
// secretariat writes, and every change is stored with its event.
type Service struct {
	store *Store
	now   func() time.Time
}

// NewService returns the use cases on st; now is the clock (time.Now when
// nil).
func NewService(st *Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now}
}

func (s *Service) clock() time.Time { return dbTime(s.now()) }

// requireSecretariat is the object-level twin of the policy, which already
// lets only the secretariat call the writes.
func requireSecretariat(p auth.Principal, what string) error {
	if p.Role != auth.RoleSecretariat {
		return apperr.Denied("only the secretariat may %s", what)
	}
	return nil
}

// Countries returns the countries f selects.
func (s *Service) Countries(ctx context.Context, f CountryFilter) ([]Country, error) {
	if f.Region != "" && !f.Region.Valid() {
		return nil, apperr.Invalid("region", "must be EU, LAC or OTHER, not %q", f.Region)
	}
	return s.store.Countries(ctx, f)
}

// UpdateCountry changes country code as ch says, when p is the secretariat
// and version (0 skips the check) is the country's version. A change that
// changes nothing writes nothing and emits no event.
func (s *Service) UpdateCountry(ctx context.Context, p auth.Principal, code string, ch CountryChange, version int64) (Country, error) {
	if err := requireSecretariat(p, "change countries"); err != nil {
		return Country{}, err
	}
	if err := ch.Check(); err != nil {
		return Country{}, err
	}
	return s.store.UpdateCountry(ctx, code, func(c *Country, coLed []CoLeadership) ([]*eventsv1.Envelope, error) {
		if err := checkVersion("country "+c.Code, c.Version, version); err != nil {
			return nil, err
		}
		now := s.clock()
		changed, err := c.Apply(ch, coLed, now)
		if err != nil || !changed {
			return nil, err
		}
		ev, err := events.New(events.CountryUpdated, events.Aggregate{Type: AggregateCountry, ID: c.Code, Version: c.Version},
			&consultationv1.CountryUpdatedEvent{Country: CountryProto(*c)}, now)
		if err != nil {
			return nil, err
		}
		return []*eventsv1.Envelope{ev}, nil
	})
}

// ThematicAreas returns every thematic area with its co-leads.
func (s *Service) ThematicAreas(ctx context.Context) ([]ThematicArea, error) {
	return s.store.ThematicAreas(ctx)
}

// CreateThematicArea adds thematic area id, without co-leads, when p is the
// secretariat.
func (s *Service) CreateThematicArea(ctx context.Context, p auth.Principal, id string, names Names) (ThematicArea, error) {
	if err := requireSecretariat(p, "create thematic areas"); err != nil {
		return ThematicArea{}, err
	}
	a, err := NewThematicArea(id, names, s.clock())
	if err != nil {
		return ThematicArea{}, err
	}
	ev, err := thematicAreaEvent(a)
	if err != nil {
		return ThematicArea{}, err
	}
	if err := s.store.CreateThematicArea(ctx, a, ev); err != nil {
		return ThematicArea{}, err
	}
	return a, nil
}

// UpdateThematicArea renames thematic area id when p is the secretariat and
// version (0 skips the check) is its version.
func (s *Service) UpdateThematicArea(ctx context.Context, p auth.Principal, id string, names Names, version int64) (ThematicArea, error) {
	if err := requireSecretariat(p, "rename thematic areas"); err != nil {
		return ThematicArea{}, err
	}
	names, err := CheckNames("names", names)
	if err != nil {
		return ThematicArea{}, err
	}
	return s.store.UpdateThematicArea(ctx, id, func(a *ThematicArea) ([]*eventsv1.Envelope, error) {
		if err := checkVersion("thematic area "+a.ID, a.Version, version); err != nil {
			return nil, err
		}
		if !a.Rename(names, s.clock()) {
			return nil, nil
		}
		ev, err := thematicAreaEvent(*a)
		if err != nil {
			return nil, err
		}
		return []*eventsv1.Envelope{ev}, nil
	})
}

// SetCoLeads replaces the co-lead countries of thematic area id with
// countries, when p is the secretariat and version (0 skips the check) is
// the area's version. The countries must be known, and include at least one
// EU and one LAC country; otherwise nothing is written.
func (s *Service) SetCoLeads(ctx context.Context, p auth.Principal, id string, countries []string, version int64) (ThematicArea, error) {
	if err := requireSecretariat(p, "assign co-leads"); err != nil {
		return ThematicArea{}, err
	}
	if err := CheckCoLeadsShape(countries); err != nil {
		return ThematicArea{}, err
	}
	return s.store.SetCoLeads(ctx, id, countries, p.Subject, func(a *ThematicArea, regions map[string]Region) ([]*eventsv1.Envelope, error) {
		// Bad countries first: the caller must fix them whatever the version.
		next := *a
		changed, err := next.SetCoLeads(countries, regions, s.clock())
		if err != nil {
			return nil, err
		}
		if err := checkVersion("thematic area "+a.ID, a.Version, version); err != nil {
			return nil, err
		}
		*a = next
		if !changed {
			return nil, nil
		}
		ev, err := thematicAreaEvent(*a)
		if err != nil {
			return nil, err
		}
		return []*eventsv1.Envelope{ev}, nil
	})
}

func thematicAreaEvent(a ThematicArea) (*eventsv1.Envelope, error) {
	return events.New(events.ThematicAreaUpdated, events.Aggregate{Type: AggregateThematicArea, ID: a.ID, Version: a.Version},
		&consultationv1.ThematicAreaUpdatedEvent{ThematicArea: ThematicAreaProto(a)}, a.UpdatedAt)
}

// StakeholderTypes returns every stakeholder type.
func (s *Service) StakeholderTypes(ctx context.Context) ([]StakeholderType, error) {
	return s.store.StakeholderTypes(ctx)
}

// CreateStakeholderType adds stakeholder type id when p is the secretariat.
func (s *Service) CreateStakeholderType(ctx context.Context, p auth.Principal, id string, names Names) (StakeholderType, error) {
	if err := requireSecretariat(p, "create stakeholder types"); err != nil {
		return StakeholderType{}, err
	}
	t, err := NewStakeholderType(id, names, s.clock())
	if err != nil {
		return StakeholderType{}, err
	}
	ev, err := stakeholderTypeEvent(t)
	if err != nil {
		return StakeholderType{}, err
	}
	if err := s.store.CreateStakeholderType(ctx, t, ev); err != nil {
		return StakeholderType{}, err
	}
	return t, nil
}

// UpdateStakeholderType renames stakeholder type id when p is the
// secretariat and version (0 skips the check) is its version.
func (s *Service) UpdateStakeholderType(ctx context.Context, p auth.Principal, id string, names Names, version int64) (StakeholderType, error) {
	if err := requireSecretariat(p, "rename stakeholder types"); err != nil {
		return StakeholderType{}, err
	}
	names, err := CheckNames("names", names)
	if err != nil {
		return StakeholderType{}, err
	}
	return s.store.UpdateStakeholderType(ctx, id, func(t *StakeholderType) ([]*eventsv1.Envelope, error) {
		if err := checkVersion("stakeholder type "+t.ID, t.Version, version); err != nil {
			return nil, err
		}
		if !t.Rename(names, s.clock()) {
			return nil, nil
		}
		ev, err := stakeholderTypeEvent(*t)
		if err != nil {
			return nil, err
		}
		return []*eventsv1.Envelope{ev}, nil
	})
}

func stakeholderTypeEvent(t StakeholderType) (*eventsv1.Envelope, error) {
	return events.New(events.StakeholderTypeUpdated, events.Aggregate{Type: AggregateStakeholderType, ID: t.ID, Version: t.Version},
		&consultationv1.StakeholderTypeUpdatedEvent{StakeholderType: StakeholderTypeProto(t)}, t.UpdatedAt)
}
