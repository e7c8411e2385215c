// Package auth decides who is calling and what they may call.
//
// Callers present OIDC-compatible JWT bearer tokens; a Verifier checks them
// against a JWKS (a URL, a file, inline bytes, or the jwks_uri found by
// OpenID Connect discovery from the issuer) and turns the claims into a
// Principal. Key sets are fetched, cached and refreshed by
// github.com/MicahParks/jwkset and signatures checked by
// github.com/golang-jwt/jwt; which keys are trusted, for which algorithm, is
// decided here. Callers without a token are Principal{Role: RolePublic}. A Policy
// lists, per gRPC method, the roles allowed to call it; everything not listed
// is denied. Object-level checks (a co-lead acting only for their country)
// belong in handlers, which read the caller with FromContext.
//
// For development, DevKey is a local Ed25519 issuer: `consulta token` mints
// tokens with it and `consulta dev` trusts its JWKS.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what a caller is allowed to do, coarsely. Fine-grained checks are
// made in handlers.
type Role string

const (
	// RoleSecretariat oversees everything.
	RoleSecretariat Role = "secretariat"
	// RoleColead is an official of a co-leading country (Principal.Country).
	RoleColead Role = "colead"
	// RoleStakeholder is a registered participant who submits answers.
	RoleStakeholder Role = "stakeholder"
	// RolePublic is an anonymous caller, without a token.
	RolePublic Role = "public"
)

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool {
	switch r {
	case RoleSecretariat, RoleColead, RoleStakeholder, RolePublic:
		return true
	}
	return false
}

// Principal is the authenticated caller. Anonymous callers are
// Principal{Role: RolePublic}.
type Principal struct {
	// Subject is the token's "sub": a stable, opaque user id.
	Subject string
	Role    Role
	// Country is the ISO 3166-1 alpha-2 code (upper case) a co-lead acts for.
	// Always set for RoleColead; may be set for other roles.
	Country string
}

// IsAuthenticated reports whether the caller presented a valid token.
func (p Principal) IsAuthenticated() bool {
	return p.Role != RolePublic && p.Role != ""
}

// validate checks that p is something a token may carry.
func (p Principal) validate() error {
	if p.Subject == "" {
		return fmt.Errorf("missing subject")
	}
	switch p.Role {
	case "":
		return fmt.Errorf("missing role")
	case RolePublic:
		return fmt.Errorf("role %q cannot be granted by a token", p.Role)
	}
	if !p.Role.Valid() {
		return fmt.Errorf("unknown role %q", truncate(string(p.Role)))
	}
	if p.Role == RoleColead && p.Country == "" {
		return fmt.Errorf("colead without country")
	}
	if p.Country != "" && !isCountryCode(p.Country) {
		return fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code", truncate(p.Country))
	}
	return nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller stored by WithPrincipal, or
// Principal{Role: RolePublic} when there is none.
func FromContext(ctx context.Context) Principal {
	p, ok := ctx.Value(principalKey{}).(Principal)
	if !ok || p.Role == "" {
		return Principal{Role: RolePublic}
	}
	return p
}

// Policy maps a full gRPC method name
// ("/consulta.consultation.v1.ConsultationService/CreateDialogue") to the
// roles allowed to call it. Methods not listed are denied to everyone.
// Listing RolePublic opens a method to every caller, with or without a token.
type Policy map[string][]Role

// Merge returns a new Policy holding the methods of p and of others; a method
// listed more than once is allowed to the union of its roles. p is unchanged.
func (p Policy) Merge(others ...Policy) Policy {
	out := make(Policy, len(p))
	for _, src := range append([]Policy{p}, others...) {
		for method, roles := range src {
			for _, r := range roles {
				if !slices.Contains(out[method], r) {
					out[method] = append(out[method], r)
				}
			}
			if _, ok := out[method]; !ok {
				// Listed with no roles: keep the entry so it is visible,
				// it still allows nobody.
				out[method] = []Role{}
			}
		}
	}
	return out
}

// Allows reports whether role r may call method. Unknown methods are denied.
func (p Policy) Allows(method string, r Role) bool {
	roles, ok := p[method]
	if !ok {
		return false
	}
	return slices.Contains(roles, RolePublic) || (r != "" && slices.Contains(roles, r))
}

// Lists reports whether method appears in the policy at all.
func (p Policy) Lists(method string) bool {
	_, ok := p[method]
	return ok
}
