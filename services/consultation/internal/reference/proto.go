package reference

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

var regionsToProto = map[Region]consultationv1.Region{
	RegionEU:    consultationv1.Region_REGION_EU,
	RegionLAC:   consultationv1.Region_REGION_LAC,
	RegionOther: consultationv1.Region_REGION_OTHER,
}

// RegionProto converts a region to protobuf.
func RegionProto(r Region) consultationv1.Region { return regionsToProto[r] }

// RegionFromProto converts a region from protobuf; REGION_UNSPECIFIED (and
// any unknown value) gives "".
func RegionFromProto(r consultationv1.Region) Region {
	for d, p := range regionsToProto {
		if p == r {
			return d
		}
	}
	return ""
}

// NamesProto converts names to protobuf.
func NamesProto(n Names) *consultationv1.ReferenceNames {
	return &consultationv1.ReferenceNames{En: n.EN, Es: n.ES, Pt: n.PT, Fr: n.FR}
}

// NamesFromProto converts names from protobuf.
func NamesFromProto(n *consultationv1.ReferenceNames) Names {
	return Names{EN: n.GetEn(), ES: n.GetEs(), PT: n.GetPt(), FR: n.GetFr()}
}

// CountryProto converts a country to protobuf, for the API and the events.
func CountryProto(c Country) *consultationv1.Country {
	return &consultationv1.Country{
		Code:           c.Code,
		Region:         RegionProto(c.Region),
		Names:          NamesProto(c.Names),
		AllianceMember: c.AllianceMember,
		Version:        c.Version,
		UpdateTime:     timestamppb.New(c.UpdatedAt),
	}
}

// ThematicAreaProto converts a thematic area to protobuf, for the API and the
// events.
func ThematicAreaProto(a ThematicArea) *consultationv1.ThematicArea {
	return &consultationv1.ThematicArea{
		Id:              a.ID,
		Names:           NamesProto(a.Names),
		ColeadCountries: a.CoLeads,
		Version:         a.Version,
		UpdateTime:      timestamppb.New(a.UpdatedAt),
	}
}

// StakeholderTypeProto converts a stakeholder type to protobuf, for the API
// and the events.
func StakeholderTypeProto(t StakeholderType) *consultationv1.StakeholderType {
	return &consultationv1.StakeholderType{
		Id:         t.ID,
		Names:      NamesProto(t.Names),
		Version:    t.Version,
		UpdateTime: timestamppb.New(t.UpdatedAt),
	}
}
