package reference

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	secretariat = auth.Principal{Subject: "sec-1", Role: auth.RoleSecretariat}
	colead      = auth.Principal{Subject: "co-1", Role: auth.RoleColead, Country: "BR"}
	stakeholder = auth.Principal{Subject: "st-1", Role: auth.RoleStakeholder}
)

// testNow is the real now at microsecond precision, as Postgres stores it.
var testNow = time.Now().UTC().Truncate(time.Microsecond)

func newService(t *testing.T) (*Service, *pgxpool.Pool) {
	t.Helper()
	pool := testenv.Pool(t)
	return NewService(NewStore(pool), func() time.Time { return testNow }), pool
}

// outboxEvents returns the events in the consultation outbox, oldest first.
func outboxEvents(t *testing.T, pool *pgxpool.Pool) []*eventsv1.Envelope {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT subject, payload FROM consultation.outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*eventsv1.Envelope
	for rows.Next() {
		var subject string
		var payload []byte
		if err := rows.Scan(&subject, &payload); err != nil {
			t.Fatal(err)
		}
		env, err := events.Unmarshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		if env.GetType() != subject {
			t.Fatalf("outbox row with subject %s holds an event of type %s", subject, env.GetType())
		}
		out = append(out, env)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantOneEvent checks that exactly one event was added to the outbox since it
// held before events, and that it has the given subject and aggregate, and
// returns it.
func wantOneEvent(t *testing.T, pool *pgxpool.Pool, before int, subject, aggID string, version int64) *eventsv1.Envelope {
	t.Helper()
	evs := outboxEvents(t, pool)
	if len(evs) != before+1 {
		t.Fatalf("outbox has %d events, want %d (one more)", len(evs), before+1)
	}
	env := evs[before]
	if env.GetType() != subject || env.GetAggregateId() != aggID || env.GetAggregateVersion() != version {
		t.Fatalf("event = %s %s v%d, want %s %s v%d", env.GetType(), env.GetAggregateId(), env.GetAggregateVersion(),
			subject, aggID, version)
	}
	return env
}

// wantErr checks that err is a domain error of kind about field.
func wantErr(t *testing.T, err error, kind apperr.Kind, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want kind %d about %q", kind, field)
	}
	var list apperr.List
	if errors.As(err, &list) {
		for _, e := range list {
			if e.Kind == kind && e.Field == field {
				return
			}
		}
		t.Fatalf("err = %v, want kind %d about %q", err, kind, field)
	}
	var e *apperr.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Field != field {
		t.Fatalf("err = %v (%#v), want kind %d about %q", err, e, kind, field)
	}
}

func countryByCode(t *testing.T, svc *Service, code string) Country {
	t.Helper()
	cs, err := svc.Countries(t.Context(), CountryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cs, func(c Country) bool { return c.Code == code })
	if i < 0 {
		t.Fatalf("no country %s", code)
	}
	return cs[i]
}

func thematicArea(t *testing.T, svc *Service, id string) ThematicArea {
	t.Helper()
	as, err := svc.ThematicAreas(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(as, func(a ThematicArea) bool { return a.ID == id })
	if i < 0 {
		t.Fatalf("no thematic area %s", id)
	}
	return as[i]
}

func TestSeededCountries(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	all, err := svc.Countries(ctx, CountryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 249 {
		t.Errorf("%d countries, want the 249 of ISO 3166-1", len(all))
	}
	regions := map[Region]int{}
	members := 0
	for _, c := range all {
		regions[c.Region]++
		if c.AllianceMember {
			members++
			if c.Region == RegionOther {
				t.Errorf("%s is an Alliance member of region OTHER", c.Code)
			}
		}
		if c.Names.EN == "" || c.Names.ES == "" || c.Names.PT == "" || c.Names.FR == "" {
			t.Errorf("%s lacks a name: %+v", c.Code, c.Names)
		}
		if c.Version != 1 {
			t.Errorf("%s is at version %d, want 1", c.Code, c.Version)
		}
	}
	if regions[RegionEU] != 27 || regions[RegionLAC] != 33 || members != 60 {
		t.Errorf("regions %v and %d members, want 27 EU, 33 LAC and 60 members", regions, members)
	}
	for code, want := range map[string]Names{
		"DE": {EN: "Germany", ES: "Alemania", PT: "Alemanha", FR: "Allemagne"},
		"BR": {EN: "Brazil", ES: "Brasil", PT: "Brasil", FR: "Brésil"},
	} {
		if got := countryByCode(t, svc, code).Names; got != want {
			t.Errorf("names of %s = %+v, want %+v", code, got, want)
		}
	}
	lac, err := svc.Countries(ctx, CountryFilter{Region: RegionLAC, AllianceMembers: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(lac) != 33 || lac[0].Code != "AG" {
		t.Errorf("LAC members: %d starting with %+v, want 33 starting with AG", len(lac), lac[0])
	}
	_, err = svc.Countries(ctx, CountryFilter{Region: "ASIA"})
	wantErr(t, err, apperr.KindInvalid, "region")
}

func TestSeededThematicAreasAndStakeholderTypes(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()
	areas, err := svc.ThematicAreas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range areas {
		ids = append(ids, a.ID)
		if a.Names.EN == "" || a.Names.ES == "" || a.Names.PT == "" || a.Names.FR == "" || a.Names.ES == a.Names.EN {
			t.Errorf("thematic area %s is not translated: %+v", a.ID, a.Names)
		}
		if len(a.CoLeads) != 0 || a.Version != 1 {
			t.Errorf("thematic area %s: co-leads %v at version %d, want none at 1", a.ID, a.CoLeads, a.Version)
		}
	}
	if want := []string{"ai_hpc", "connectivity", "cybersecurity", "data_governance", "e_governance"}; !slices.Equal(ids, want) {
		t.Errorf("thematic areas %v, want %v", ids, want)
	}
	if got := thematicArea(t, svc, "data_governance").Names.ES; got != "Gobernanza de datos" {
		t.Errorf("data_governance in Spanish = %q", got)
	}

	types, err := svc.StakeholderTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, st := range types {
		ids = append(ids, st.ID)
		if st.Names.EN == "" || st.Names.ES == "" || st.Names.PT == "" || st.Names.FR == "" {
			t.Errorf("stakeholder type %s lacks a name: %+v", st.ID, st.Names)
		}
	}
	// The same ids as the submission service's copy (read here only to
	// compare the two migrations).
	rows, err := pool.Query(ctx, `SELECT id FROM submission.stakeholder_types ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var submissionIDs []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		submissionIDs = append(submissionIDs, id)
	}
	if len(ids) != 8 || !slices.Equal(ids, submissionIDs) {
		t.Errorf("stakeholder types %v, want the 8 of the submission schema %v", ids, submissionIDs)
	}
}

func TestSetCoLeads(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()

	a, err := svc.SetCoLeads(ctx, secretariat, "data_governance", []string{"ES", "BR"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.CoLeads, []string{"BR", "ES"}) || a.Version != 2 || !a.UpdatedAt.Equal(testNow) {
		t.Fatalf("after setting co-leads: %+v", a)
	}
	env := wantOneEvent(t, pool, 0, events.ThematicAreaUpdated, "data_governance", 2)
	ev := &consultationv1.ThematicAreaUpdatedEvent{}
	if err := events.Payload(env, ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.GetThematicArea().GetColeadCountries(); !slices.Equal(got, []string{"BR", "ES"}) {
		t.Errorf("event carries co-leads %v", got)
	}
	if got := thematicArea(t, svc, "data_governance"); !slices.Equal(got.CoLeads, []string{"BR", "ES"}) || got.Version != 2 {
		t.Errorf("stored: %+v", got)
	}
	var by string
	if err := pool.QueryRow(ctx, `SELECT assigned_by FROM consultation.thematic_area_coleads WHERE country = 'BR'`).Scan(&by); err != nil || by != secretariat.Subject {
		t.Errorf("assigned_by = %q, %v", by, err)
	}

	bad := []struct {
		name      string
		p         auth.Principal
		area      string
		countries []string
		version   int64
		kind      apperr.Kind
		field     string
	}{
		{"no LAC country", secretariat, "data_governance", []string{"ES", "FR"}, 0, apperr.KindInvalid, "countries"},
		{"no EU country", secretariat, "data_governance", []string{"BR"}, 0, apperr.KindInvalid, "countries"},
		{"only OTHER", secretariat, "data_governance", []string{"US", "CA"}, 0, apperr.KindInvalid, "countries"},
		{"unknown country", secretariat, "data_governance", []string{"BR", "XX"}, 0, apperr.KindInvalid, "countries[1]"},
		{"country twice", secretariat, "data_governance", []string{"BR", "ES", "BR"}, 0, apperr.KindInvalid, "countries[2]"},
		{"lower case", secretariat, "data_governance", []string{"br", "ES"}, 0, apperr.KindInvalid, "countries[0]"},
		{"none", secretariat, "data_governance", nil, 0, apperr.KindInvalid, "countries"},
		{"unknown area", secretariat, "space", []string{"BR", "ES"}, 0, apperr.KindNotFound, "thematic_area"},
		{"stale version", secretariat, "data_governance", []string{"AR", "FR"}, 1, apperr.KindConflict, "version"},
		{"co-lead", colead, "data_governance", []string{"AR", "FR"}, 0, apperr.KindDenied, ""},
		{"stakeholder", stakeholder, "data_governance", []string{"AR", "FR"}, 0, apperr.KindDenied, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.SetCoLeads(ctx, tc.p, tc.area, tc.countries, tc.version)
			wantErr(t, err, tc.kind, tc.field)
			if got := thematicArea(t, svc, "data_governance"); !slices.Equal(got.CoLeads, []string{"BR", "ES"}) || got.Version != 2 {
				t.Errorf("thematic area changed: %+v", got)
			}
			if n := len(outboxEvents(t, pool)); n != 1 {
				t.Errorf("outbox has %d events, want still 1", n)
			}
		})
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM consultation.thematic_area_coleads`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("%d co-lead rows (%v), want 2", rows, err)
	}

	// The same set again changes nothing and emits nothing.
	if a, err := svc.SetCoLeads(ctx, secretariat, "data_governance", []string{"BR", "ES"}, 2); err != nil || a.Version != 2 {
		t.Fatalf("same co-leads again: %+v, %v", a, err)
	}
	if n := len(outboxEvents(t, pool)); n != 1 {
		t.Errorf("outbox has %d events after a change to nothing, want 1", n)
	}

	// A new set keeps the assignment of the co-leads that stay.
	a, err = svc.SetCoLeads(ctx, secretariat, "data_governance", []string{"AR", "BR", "PT"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.CoLeads, []string{"AR", "BR", "PT"}) || a.Version != 3 {
		t.Fatalf("after replacing co-leads: %+v", a)
	}
	wantOneEvent(t, pool, 1, events.ThematicAreaUpdated, "data_governance", 3)
	got, err := CoLeads(ctx, pool, "data_governance")
	if err != nil || !slices.Equal(got, []string{"AR", "BR", "PT"}) {
		t.Errorf("CoLeads = %v, %v", got, err)
	}
}

func TestCoLeads(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()
	got, err := CoLeads(ctx, pool, "cybersecurity")
	if err != nil || len(got) != 0 || got == nil {
		t.Errorf("CoLeads of an area without co-leads = %#v, %v; want an empty slice", got, err)
	}
	_, err = CoLeads(ctx, pool, "space")
	wantErr(t, err, apperr.KindNotFound, "thematic_area")
	if _, err := svc.SetCoLeads(ctx, secretariat, "cybersecurity", []string{"UY", "MX", "EE", "US"}, 0); err != nil {
		t.Fatal(err)
	}
	got, err = CoLeads(ctx, pool, "cybersecurity")
	if err != nil || !slices.Equal(got, []string{"EE", "MX", "US", "UY"}) {
		t.Errorf("CoLeads = %v, %v; want them sorted", got, err)
	}
}

func TestUpdateCountry(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()
	names := Names{EN: " Brazil ", ES: "Brasil", PT: "Brasil", FR: "Brésil (République fédérative du)"}
	member := false
	c, err := svc.UpdateCountry(ctx, secretariat, "BR", CountryChange{Names: &names, AllianceMember: &member}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Names.EN != "Brazil" || c.Names.FR != names.FR || c.AllianceMember || c.Region != RegionLAC || c.Version != 2 {
		t.Fatalf("after update: %+v", c)
	}
	env := wantOneEvent(t, pool, 0, events.CountryUpdated, "BR", 2)
	ev := &consultationv1.CountryUpdatedEvent{}
	if err := events.Payload(env, ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetCountry().GetRegion() != consultationv1.Region_REGION_LAC || ev.GetCountry().GetAllianceMember() ||
		ev.GetCountry().GetNames().GetFr() != names.FR {
		t.Errorf("event carries %v", ev.GetCountry())
	}
	if got := countryByCode(t, svc, "BR"); got != c {
		t.Errorf("stored %+v, returned %+v", got, c)
	}

	other := RegionOther
	asia := Region("ASIA")
	blank := Names{EN: "Brazil", ES: " ", PT: "Brasil", FR: strings.Repeat("é", 201)}
	bad := []struct {
		name    string
		p       auth.Principal
		code    string
		ch      CountryChange
		version int64
		kind    apperr.Kind
		field   string
	}{
		{"stale version", secretariat, "BR", CountryChange{Region: &other}, 1, apperr.KindConflict, "version"},
		{"unknown region", secretariat, "BR", CountryChange{Region: &asia}, 0, apperr.KindInvalid, "region"},
		{"blank name", secretariat, "BR", CountryChange{Names: &blank}, 0, apperr.KindInvalid, "names.es"},
		{"long name", secretariat, "BR", CountryChange{Names: &blank}, 0, apperr.KindInvalid, "names.fr"},
		{"unknown country", secretariat, "XX", CountryChange{Region: &other}, 0, apperr.KindNotFound, "code"},
		{"co-lead", colead, "BR", CountryChange{Region: &other}, 0, apperr.KindDenied, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.UpdateCountry(ctx, tc.p, tc.code, tc.ch, tc.version)
			wantErr(t, err, tc.kind, tc.field)
			if got := countryByCode(t, svc, "BR"); got != c {
				t.Errorf("country changed: %+v", got)
			}
			if n := len(outboxEvents(t, pool)); n != 1 {
				t.Errorf("outbox has %d events, want still 1", n)
			}
		})
	}

	// Nothing to change: nothing written, no event.
	if got, err := svc.UpdateCountry(ctx, secretariat, "BR", CountryChange{AllianceMember: &member}, 2); err != nil || got != c {
		t.Errorf("update to the same value: %+v, %v", got, err)
	}
	if n := len(outboxEvents(t, pool)); n != 1 {
		t.Errorf("outbox has %d events after a change to nothing, want 1", n)
	}
}

// TestRegionChangeKeepsCoLeadRule: a country cannot leave its region while a
// thematic area depends on it for its EU or LAC co-lead.
func TestRegionChangeKeepsCoLeadRule(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()
	if _, err := svc.SetCoLeads(ctx, secretariat, "ai_hpc", []string{"BR", "ES", "FR"}, 0); err != nil {
		t.Fatal(err)
	}
	other := RegionOther
	_, err := svc.UpdateCountry(ctx, secretariat, "BR", CountryChange{Region: &other}, 0)
	wantErr(t, err, apperr.KindFailedPrecondition, "region")
	if got := countryByCode(t, svc, "BR"); got.Region != RegionLAC || got.Version != 1 {
		t.Errorf("BR changed: %+v", got)
	}
	// ES may go: FR is still an EU co-lead.
	c, err := svc.UpdateCountry(ctx, secretariat, "ES", CountryChange{Region: &other}, 0)
	if err != nil || c.Region != RegionOther {
		t.Fatalf("ES to OTHER: %+v, %v", c, err)
	}
	wantOneEvent(t, pool, 1, events.CountryUpdated, "ES", 2)
	// Now FR is the last one.
	_, err = svc.UpdateCountry(ctx, secretariat, "FR", CountryChange{Region: &other}, 0)
	wantErr(t, err, apperr.KindFailedPrecondition, "region")
}

func TestThematicAreaCreateAndUpdate(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()
	names := Names{EN: "Digital skills", ES: "Competencias digitales", PT: "Competências digitais", FR: "Compétences numériques"}
	a, err := svc.CreateThematicArea(ctx, secretariat, "digital_skills", names)
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 || len(a.CoLeads) != 0 {
		t.Fatalf("created %+v", a)
	}
	wantOneEvent(t, pool, 0, events.ThematicAreaUpdated, "digital_skills", 1)
	if got := thematicArea(t, svc, "digital_skills"); got.Names != names {
		t.Errorf("stored %+v", got)
	}

	_, err = svc.CreateThematicArea(ctx, secretariat, "digital_skills", names)
	wantErr(t, err, apperr.KindAlreadyExists, "id")
	_, err = svc.CreateThematicArea(ctx, secretariat, "Digital-Skills", names)
	wantErr(t, err, apperr.KindInvalid, "id")
	_, err = svc.CreateThematicArea(ctx, secretariat, "skills", Names{EN: "Skills"})
	wantErr(t, err, apperr.KindInvalid, "names.pt")
	_, err = svc.CreateThematicArea(ctx, stakeholder, "skills", names)
	wantErr(t, err, apperr.KindDenied, "")
	if n := len(outboxEvents(t, pool)); n != 1 {
		t.Errorf("outbox has %d events after failed creates, want 1", n)
	}

	renamed := names
	renamed.FR = "Compétences numériques et formation"
	a, err = svc.UpdateThematicArea(ctx, secretariat, "digital_skills", renamed, 1)
	if err != nil || a.Version != 2 || a.Names != renamed {
		t.Fatalf("renamed: %+v, %v", a, err)
	}
	wantOneEvent(t, pool, 1, events.ThematicAreaUpdated, "digital_skills", 2)
	_, err = svc.UpdateThematicArea(ctx, secretariat, "digital_skills", names, 1)
	wantErr(t, err, apperr.KindConflict, "version")
	_, err = svc.UpdateThematicArea(ctx, secretariat, "space", names, 0)
	wantErr(t, err, apperr.KindNotFound, "id")
	if got := thematicArea(t, svc, "digital_skills"); got.Names != renamed || got.Version != 2 {
		t.Errorf("stored %+v", got)
	}
	if n := len(outboxEvents(t, pool)); n != 2 {
		t.Errorf("outbox has %d events, want 2", n)
	}
}

func TestStakeholderTypeCreateAndUpdate(t *testing.T) {
	svc, pool := newService(t)
	ctx := t.Context()
	names := Names{EN: "Trade union", ES: "Sindicato", PT: "Sindicato", FR: "Syndicat"}
	st, err := svc.CreateStakeholderType(ctx, secretariat, "trade_union", names)
	if err != nil || st.Version != 1 {
		t.Fatalf("created %+v, %v", st, err)
	}
	env := wantOneEvent(t, pool, 0, events.StakeholderTypeUpdated, "trade_union", 1)
	ev := &consultationv1.StakeholderTypeUpdatedEvent{}
	if err := events.Payload(env, ev); err != nil || ev.GetStakeholderType().GetNames().GetEs() != "Sindicato" {
		t.Errorf("event carries %v (%v)", ev.GetStakeholderType(), err)
	}
	_, err = svc.CreateStakeholderType(ctx, secretariat, "academia", names)
	wantErr(t, err, apperr.KindAlreadyExists, "id")

	renamed := names
	renamed.EN = "Trade union or workers' organisation"
	st, err = svc.UpdateStakeholderType(ctx, secretariat, "trade_union", renamed, 1)
	if err != nil || st.Version != 2 || st.Names != renamed {
		t.Fatalf("renamed: %+v, %v", st, err)
	}
	wantOneEvent(t, pool, 1, events.StakeholderTypeUpdated, "trade_union", 2)
	_, err = svc.UpdateStakeholderType(ctx, secretariat, "trade_union", names, 1)
	wantErr(t, err, apperr.KindConflict, "version")
	_, err = svc.UpdateStakeholderType(ctx, colead, "trade_union", names, 2)
	wantErr(t, err, apperr.KindDenied, "")
	_, err = svc.UpdateStakeholderType(ctx, secretariat, "nobody", names, 0)
	wantErr(t, err, apperr.KindNotFound, "id")
	if n := len(outboxEvents(t, pool)); n != 2 {
		t.Errorf("outbox has %d events, want 2", n)
	}
	types, err := svc.StakeholderTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(types, func(x StakeholderType) bool { return x.ID == "trade_union" })
	if i < 0 || types[i] != st {
		t.Errorf("stored %+v, want %+v", types, st)
	}
}
