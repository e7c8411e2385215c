package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestServiceVerifier: the service key's token, and nothing else, is the
// service role; a token of another key is refused; any other token goes to
// the next verifier.
func TestServiceVerifier(t *testing.T) {
	ctx := context.Background()
	key, err := NewServiceKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewServiceKey([]byte(strings.Repeat("o", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewServiceKey([]byte("short")); err == nil {
		t.Error("a 5-byte service key was taken")
	}
	dev, err := LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	jwtV, err := NewVerifier(ctx, VerifierConfig{JWKS: dev.JWKS(), Issuer: DevIssuer, Audience: DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	v := ServiceVerifier{Key: key, Next: jwtV}

	md, err := key.GetRequestMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(md["authorization"], "Bearer ")
	if p, err := v.Verify(ctx, token); err != nil || p.Role != RoleService {
		t.Errorf("own service token: %+v, %v", p, err)
	}
	omd, _ := other.GetRequestMetadata(ctx)
	if _, err := v.Verify(ctx, strings.TrimPrefix(omd["authorization"], "Bearer ")); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("another key's service token: %v", err)
	}
	if _, err := (ServiceVerifier{Next: jwtV}).Verify(ctx, token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("service token without a service key configured: %v", err)
	}
	user, err := dev.Mint(Principal{Subject: "ana", Role: RoleStakeholder}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(ctx, user); err != nil || p.Role != RoleStakeholder {
		t.Errorf("user token: %+v, %v", p, err)
	}

	// The identity provider cannot grant the service role.
	if _, err := dev.Mint(Principal{Subject: "x", Role: RoleService}, time.Hour); err == nil {
		t.Error("the dev key minted a service-role token")
	}
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: DevIssuer, Audience: jwt.ClaimStrings{DevAudience}, Subject: "x",
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
		Role: string(RoleService),
	})
	forged.Header["kid"] = dev.kid
	signed, err := forged.SignedString(dev.priv)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(ctx, signed); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a signed JWT with role service: %+v, %v", p, err)
	}
}
