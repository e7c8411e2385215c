package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

func referenceEnvelope(t *testing.T, typ, aggType, id string, version int64, payload proto.Message) *eventsv1.Envelope {
	t.Helper()
	env, err := events.New(typ, events.Aggregate{Type: aggType, ID: id, Version: version}, payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func countryEvent(t *testing.T, code string, region consultationv1.Region, version int64) *eventsv1.Envelope {
	return referenceEnvelope(t, events.CountryUpdated, "country", code, version, &consultationv1.CountryUpdatedEvent{
		Country: &consultationv1.Country{Code: code, Region: region, Version: version,
			Names: &consultationv1.ReferenceNames{En: code, Es: code, Pt: code, Fr: code}}})
}

func stakeholderTypeEvent(t *testing.T, id, nameEN string, version int64) *eventsv1.Envelope {
	return referenceEnvelope(t, events.StakeholderTypeUpdated, "stakeholder_type", id, version, &consultationv1.StakeholderTypeUpdatedEvent{
		StakeholderType: &consultationv1.StakeholderType{Id: id, Version: version,
			Names: &consultationv1.ReferenceNames{En: nameEN, Es: nameEN, Pt: nameEN, Fr: nameEN}}})
}

func stakeholderTypeName(t *testing.T, pool *pgxpool.Pool, id string) (string, int64) {
	t.Helper()
	var name string
	var version int64
	err := pool.QueryRow(t.Context(), `SELECT name_en, version FROM submission.stakeholder_types WHERE id = $1`, id).Scan(&name, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return name, version
}

// TestReferenceReadModelConvergesWhateverTheOrder applies one history of
// reference events in several orders, with repeats, and expects the latest
// version of every row each time.
func TestReferenceReadModelConvergesWhateverTheOrder(t *testing.T) {
	ctx := context.Background()
	history := []*eventsv1.Envelope{
		countryEvent(t, "BR", consultationv1.Region_REGION_OTHER, 2),
		countryEvent(t, "BR", consultationv1.Region_REGION_LAC, 3),
		countryEvent(t, "US", consultationv1.Region_REGION_LAC, 2), // not seeded here
		countryEvent(t, "US", consultationv1.Region_REGION_OTHER, 3),
		stakeholderTypeEvent(t, "academia", "Academic institutions", 2),
		stakeholderTypeEvent(t, "academia", "Academia and research", 3),
		stakeholderTypeEvent(t, "media", "Media", 1), // created
		thematicAreaEvent(t, "ai_hpc", 2, "BR", "ES"),
		thematicAreaEvent(t, "ai_hpc", 3, "CL", "ES"), // BR out, CL in
	}
	orders := [][]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8},
		{8, 7, 6, 5, 4, 3, 2, 1, 0},
		{1, 0, 1, 5, 3, 8, 2, 4, 6, 6, 0, 7},
		{3, 3, 5, 5, 6, 1, 2, 4, 0, 7, 7, 8, 7},
	}
	for _, order := range orders {
		pool := testenv.Pool(t)
		for _, i := range order {
			if err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return ApplyReferenceEvent(ctx, tx, history[i]) }); err != nil {
				t.Fatalf("order %v: apply event %d: %v", order, i, err)
			}
		}
		st := store.New(pool)
		for code, want := range map[string]string{"BR": "LAC", "US": "OTHER", "DE": "EU"} {
			if got, err := st.Region(ctx, code); err != nil || got != want {
				t.Errorf("order %v: region of %s = %q, %v; want %s", order, code, got, err, want)
			}
		}
		var version int64
		if err := pool.QueryRow(ctx, `SELECT version FROM submission.countries WHERE code = 'BR'`).Scan(&version); err != nil || version != 3 {
			t.Errorf("order %v: BR at version %d (%v), want 3", order, version, err)
		}
		if name, v := stakeholderTypeName(t, pool, "academia"); name != "Academia and research" || v != 3 {
			t.Errorf("order %v: academia = %q v%d", order, name, v)
		}
		if name, v := stakeholderTypeName(t, pool, "media"); name != "Media" || v != 1 {
			t.Errorf("order %v: media = %q v%d", order, name, v)
		}
		if ok, err := st.StakeholderTypeExists(ctx, "media"); err != nil || !ok {
			t.Errorf("order %v: media exists = %v, %v", order, ok, err)
		}
		if a, err := st.ThematicArea(ctx, "ai_hpc"); err != nil || a.Version != 3 || !a.CoLeadBy("CL") || a.CoLeadBy("BR") || !a.CoLeadBy("ES") {
			t.Errorf("order %v: ai_hpc = %+v, %v; want co-led by CL and ES at version 3", order, a, err)
		}
	}
}

func thematicAreaEvent(t *testing.T, id string, version int64, coLeads ...string) *eventsv1.Envelope {
	return referenceEnvelope(t, events.ThematicAreaUpdated, "thematic_area", id, version, &consultationv1.ThematicAreaUpdatedEvent{
		ThematicArea: &consultationv1.ThematicArea{Id: id, Version: version, ColeadCountries: coLeads,
			Names: &consultationv1.ReferenceNames{En: id, Es: id, Pt: id, Fr: id}}})
}

// TestReferenceEventRedeliveredThroughInbox: a redelivered event finds its id
// in the inbox and changes nothing, even when the row moved on meanwhile.
func TestReferenceEventRedeliveredThroughInbox(t *testing.T) {
	ctx := t.Context()
	pool := testenv.Pool(t)
	handle := inbox.Handler(pool, store.Schema, "submission-reference-test", ApplyReferenceEvent)
	first := stakeholderTypeEvent(t, "government", "Public authority", 2)
	second := stakeholderTypeEvent(t, "government", "Government or public authority", 3)
	for _, env := range []*eventsv1.Envelope{first, second, first, second, first} {
		if err := handle(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	if name, v := stakeholderTypeName(t, pool, "government"); name != "Government or public authority" || v != 3 {
		t.Errorf("government = %q v%d", name, v)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM submission.inbox WHERE consumer = 'submission-reference-test'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d inbox rows (%v), want 2", n, err)
	}
}

func TestReferenceEventWithoutRegionIsRejected(t *testing.T) {
	ctx := t.Context()
	pool := testenv.Pool(t)
	bad := countryEvent(t, "BR", consultationv1.Region_REGION_UNSPECIFIED, 5)
	err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return ApplyReferenceEvent(ctx, tx, bad) })
	if err == nil || !strings.Contains(err.Error(), "permanent") {
		t.Fatalf("event without a region: err = %v, want a permanent error", err)
	}
	if got, err := store.New(pool).Region(ctx, "BR"); err != nil || got != "LAC" {
		t.Errorf("region of BR = %q, %v; want LAC", got, err)
	}
}
