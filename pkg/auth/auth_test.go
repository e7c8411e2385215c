package auth

import (
	"context"
	"slices"
	"testing"
)

func TestFromContextDefaultsToPublic(t *testing.T) {
	if got := FromContext(context.Background()); got != (Principal{Role: RolePublic}) {
		t.Fatalf("FromContext(empty) = %+v, want public", got)
	}
	p := Principal{Subject: "u1", Role: RoleColead, Country: "BR"}
	if got := FromContext(WithPrincipal(context.Background(), p)); got != p {
		t.Fatalf("FromContext = %+v, want %+v", got, p)
	}
	if FromContext(context.Background()).IsAuthenticated() {
		t.Fatal("public principal is authenticated")
	}
	if !p.IsAuthenticated() {
		t.Fatal("colead principal is not authenticated")
	}
}

func TestPolicyDeniesByDefault(t *testing.T) {
	const (
		create = "/consulta.consultation.v1.ConsultationService/CreateDialogue"
		list   = "/consulta.consultation.v1.ConsultationService/ListConsultations"
		secret = "/consulta.consultation.v1.ConsultationService/Unlisted"
		closed = "/consulta.consultation.v1.ConsultationService/Nobody"
	)
	p := Policy{
		create: {RoleSecretariat, RoleColead},
		list:   {RolePublic},
		closed: {},
	}
	tests := []struct {
		method string
		role   Role
		want   bool
	}{
		{create, RoleSecretariat, true},
		{create, RoleColead, true},
		{create, RoleStakeholder, false},
		{create, RolePublic, false},
		{create, "", false},
		{list, RolePublic, true},
		{list, RoleStakeholder, true}, // public methods are open to everyone
		{secret, RoleSecretariat, false},
		{secret, RolePublic, false},
		{closed, RoleSecretariat, false},
	}
	for _, tt := range tests {
		if got := p.Allows(tt.method, tt.role); got != tt.want {
			t.Errorf("Allows(%s, %q) = %v, want %v", tt.method, tt.role, got, tt.want)
		}
	}
	if !p.Lists(closed) || p.Lists(secret) {
		t.Error("Lists is wrong")
	}
	if (Policy)(nil).Allows(create, RoleSecretariat) {
		t.Error("nil policy allows a call")
	}
}

func TestPolicyMerge(t *testing.T) {
	a := Policy{"/s/A": {RoleSecretariat}, "/s/B": {RoleColead}}
	b := Policy{"/s/B": {RoleSecretariat, RoleColead}, "/s/C": {RolePublic}, "/s/D": nil}
	m := a.Merge(b)
	if got := m["/s/B"]; !slices.Equal(got, []Role{RoleColead, RoleSecretariat}) {
		t.Errorf("merged /s/B = %v", got)
	}
	if !m.Allows("/s/A", RoleSecretariat) || !m.Allows("/s/C", RoleStakeholder) {
		t.Error("merged policy lost an entry")
	}
	if !m.Lists("/s/D") || m.Allows("/s/D", RoleSecretariat) {
		t.Error("a method listed with no roles must be listed and allow nobody")
	}
	if len(a["/s/B"]) != 1 {
		t.Error("Merge modified its receiver")
	}
}
