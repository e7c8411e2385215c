// Package reference is the consultation service's reference data: countries
// (region, names, Alliance membership), thematic areas with their co-lead
// countries, and stakeholder types. They are data the secretariat edits, not
// code. This package holds their rules (domain.go), their storage in the
// consultation schema (store.go), the use cases that join the two with the
// consulta.reference.* events (service.go), and the gRPC edge of
// ReferenceService (server.go, proto.go).
package reference

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/consulta-platform/consulta/pkg/apperr"
)

// Region is the side of the Alliance a country belongs to.
type Region string

// Regions.
const (
	RegionEU    Region = "EU"
	RegionLAC   Region = "LAC"
	RegionOther Region = "OTHER"
)

// Valid reports whether r is one of the regions above.
func (r Region) Valid() bool {
	return r == RegionEU || r == RegionLAC || r == RegionOther
}

// Names is the name of an item in each language the platform is offered in.
type Names struct {
	EN, ES, PT, FR string
}

// maxNameLen is the longest name accepted, in characters.
const maxNameLen = 200

// normalize trims the names and adds a problem to errs, under field.<lang>,
// for each that is blank or too long.
func (n *Names) normalize(field string, errs *apperr.List) {
	for _, f := range []struct {
		lang string
		v    *string
	}{{"en", &n.EN}, {"es", &n.ES}, {"pt", &n.PT}, {"fr", &n.FR}} {
		*f.v = strings.TrimSpace(*f.v)
		switch l := utf8.RuneCountInString(*f.v); {
		case l == 0:
			errs.Add(field+"."+f.lang, "must not be empty")
		case l > maxNameLen:
			errs.Add(field+"."+f.lang, "must be at most %d characters, not %d", maxNameLen, l)
		}
	}
}

// CheckNames trims n and checks that every name is 1 to 200 characters long;
// field names the request field that holds them ("names").
func CheckNames(field string, n Names) (Names, error) {
	var errs apperr.List
	n.normalize(field, &errs)
	return n, errs.Err()
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

// checkID checks the identifier of a new thematic area or stakeholder type.
func checkID(field, id string, errs *apperr.List) {
	if !idPattern.MatchString(id) {
		errs.Add(field, "%q must be 2 to 40 lower-case letters, digits or underscores, starting with a letter", id)
	}
}

// checkVersion implements optimistic concurrency: want 0 skips the check.
func checkVersion(what string, have, want int64) error {
	switch {
	case want < 0:
		return apperr.Invalid("version", "must not be negative")
	case want != 0 && want != have:
		return apperr.Conflict("version", "%s is at version %d, not %d: reload and retry", what, have, want)
	}
	return nil
}

// Country is a country of ISO 3166-1.
type Country struct {
	Code           string
	Region         Region
	Names          Names
	AllianceMember bool
	Version        int64
	UpdatedAt      time.Time
}

// CountryChange is what UpdateCountry changes; nil fields keep their value.
type CountryChange struct {
	Region         *Region
	Names          *Names
	AllianceMember *bool
}

// Check validates the change before anything is read or written.
func (ch *CountryChange) Check() error {
	var errs apperr.List
	if ch.Region != nil && !ch.Region.Valid() {
		errs.Add("region", "must be EU, LAC or OTHER, not %q", *ch.Region)
	}
	if ch.Names != nil {
		ch.Names.normalize("names", &errs)
	}
	return errs.Err()
}

// CoLeadership is the co-lead countries of one thematic area, with their
// regions.
type CoLeadership struct {
	ThematicArea string
	Regions      map[string]Region
}

// Apply changes c as ch says at now, given the thematic areas c co-leads,
// and reports whether anything changed. A change of region that would leave
// one of those areas without an EU or a LAC co-lead is refused: the
// secretariat changes the co-leads first.
func (c *Country) Apply(ch CountryChange, coLed []CoLeadership, now time.Time) (bool, error) {
	next := *c
	if ch.Region != nil {
		next.Region = *ch.Region
	}
	if ch.Names != nil {
		next.Names = *ch.Names
	}
	if ch.AllianceMember != nil {
		next.AllianceMember = *ch.AllianceMember
	}
	if next.Region == c.Region && next.Names == c.Names && next.AllianceMember == c.AllianceMember {
		return false, nil
	}
	if next.Region != c.Region {
		for _, l := range coLed {
			regions := make(map[string]Region, len(l.Regions))
			for code, r := range l.Regions {
				regions[code] = r
			}
			regions[c.Code] = next.Region
			if missing := missingRegions(regions); len(missing) > 0 {
				return false, apperr.FailedPrecondition("region",
					"%s co-leads thematic area %s, which would be left without a co-lead of region %s: change its co-leads first",
					c.Code, l.ThematicArea, strings.Join(missing, " and "))
			}
		}
	}
	next.Version++
	next.UpdatedAt = now
	*c = next
	return true, nil
}

// ThematicArea is a theme of the Alliance's policy dialogues.
type ThematicArea struct {
	ID    string
	Names Names
	// CoLeads are the ISO 3166-1 codes of the co-lead countries, sorted;
	// empty until the secretariat assigns them.
	CoLeads   []string
	Version   int64
	UpdatedAt time.Time
}

// NewThematicArea checks a thematic area about to be created at now; it has
// no co-leads yet.
func NewThematicArea(id string, names Names, now time.Time) (ThematicArea, error) {
	var errs apperr.List
	checkID("id", id, &errs)
	names.normalize("names", &errs)
	if err := errs.Err(); err != nil {
		return ThematicArea{}, err
	}
	return ThematicArea{ID: id, Names: names, CoLeads: []string{}, Version: 1, UpdatedAt: now}, nil
}

// Rename gives a the names n at now, and reports whether they changed.
func (a *ThematicArea) Rename(n Names, now time.Time) bool {
	if a.Names == n {
		return false
	}
	a.Names = n
	a.Version++
	a.UpdatedAt = now
	return true
}

// CheckCoLeadsShape checks a requested set of co-lead countries before the
// countries table is read: not empty, no country twice.
func CheckCoLeadsShape(countries []string) error {
	var errs apperr.List
	if len(countries) == 0 {
		errs.Add("countries", "must name at least one EU and one LAC country")
	}
	for i, c := range countries {
		if j := slices.Index(countries, c); j < i {
			errs.Add(fmt.Sprintf("countries[%d]", i), "%s is listed twice (also countries[%d])", c, j)
		}
	}
	return errs.Err()
}

// SetCoLeads replaces the co-leads of a with countries at now, given the
// regions of those of them that are known countries, and reports whether the
// set changed. Every country must be known, and there must be at least one
// EU and one LAC country among them.
func (a *ThematicArea) SetCoLeads(countries []string, regions map[string]Region, now time.Time) (bool, error) {
	if err := CheckCoLeadsShape(countries); err != nil {
		return false, err
	}
	var errs apperr.List
	for i, c := range countries {
		if _, ok := regions[c]; !ok {
			errs.Add(fmt.Sprintf("countries[%d]", i), "%q is not a known country", c)
		}
	}
	if err := errs.Err(); err != nil {
		return false, err
	}
	if missing := missingRegions(regions); len(missing) > 0 {
		return false, apperr.Invalid("countries",
			"co-leads must include at least one EU and one LAC country; [%s] include no %s country",
			strings.Join(countriesWithRegions(countries, regions), ", "), strings.Join(missing, " and no "))
	}
	next := slices.Clone(countries)
	slices.Sort(next)
	if slices.Equal(next, a.CoLeads) {
		return false, nil
	}
	a.CoLeads = next
	a.Version++
	a.UpdatedAt = now
	return true, nil
}

// missingRegions returns which of EU and LAC no country in regions belongs to.
func missingRegions(regions map[string]Region) []string {
	var eu, lac bool
	for _, r := range regions {
		eu = eu || r == RegionEU
		lac = lac || r == RegionLAC
	}
	var missing []string
	if !eu {
		missing = append(missing, string(RegionEU))
	}
	if !lac {
		missing = append(missing, string(RegionLAC))
	}
	return missing
}

func countriesWithRegions(countries []string, regions map[string]Region) []string {
	out := make([]string, len(countries))
	for i, c := range countries {
		out[i] = fmt.Sprintf("%s (%s)", c, regions[c])
	}
	return out
}

// StakeholderType is a kind of respondent.
type StakeholderType struct {
	ID        string
	Names     Names
	Version   int64
	UpdatedAt time.Time
}

// NewStakeholderType checks a stakeholder type about to be created at now.
func NewStakeholderType(id string, names Names, now time.Time) (StakeholderType, error) {
	var errs apperr.List
	checkID("id", id, &errs)
	names.normalize("names", &errs)
	if err := errs.Err(); err != nil {
		return StakeholderType{}, err
	}
	return StakeholderType{ID: id, Names: names, Version: 1, UpdatedAt: now}, nil
}

// Rename gives t the names n at now, and reports whether they changed.
func (t *StakeholderType) Rename(n Names, now time.Time) bool {
	if t.Names == n {
		return false
	}
	t.Names = n
	t.Version++
	t.UpdatedAt = now
	return true
}
