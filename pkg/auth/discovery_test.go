package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// oidcProvider serves a discovery document and a JWKS, as an identity
// provider does.
type oidcProvider struct {
	*httptest.Server
	// issuer is what the discovery document claims; empty means the
	// server's own URL.
	issuer    atomic.Pointer[string]
	jwksURI   atomic.Pointer[string]
	jwks      atomic.Pointer[[]byte]
	discovery atomic.Int64
	jwksHits  atomic.Int64
}

func newOIDCProvider(t *testing.T, jwks []byte) *oidcProvider {
	t.Helper()
	p := &oidcProvider{}
	p.jwks.Store(&jwks)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discovery.Add(1)
		iss, uri := p.URL, p.URL+"/keys"
		if s := p.issuer.Load(); s != nil {
			iss = *s
		}
		if s := p.jwksURI.Load(); s != nil {
			uri = *s
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": uri,
			"authorization_endpoint":                iss + "/authorize",
			"id_token_signing_alg_values_supported": []string{"RS256", "EdDSA"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*p.jwks.Load())
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func TestVerifierOIDCDiscovery(t *testing.T) {
	a, b := newEdKey(t, "a"), newRSAKey(t, "b")
	idp := newOIDCProvider(t, jwksOf(a))
	v, err := NewVerifier(t.Context(), VerifierConfig{
		Issuer: idp.URL, Audience: DevAudience, MinRefreshInterval: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, k := idp.discovery.Load(), idp.jwksHits.Load(); d != 1 || k != 1 {
		t.Fatalf("discovery fetched %d times, JWKS %d times; want 1 and 1", d, k)
	}
	claims := with(validClaims(time.Now()), "iss", idp.URL)
	if _, err := v.Verify(context.Background(), sign(t, a.method, a.priv, a.kid, claims)); err != nil {
		t.Fatalf("token of the discovered issuer rejected: %v", err)
	}
	// The issuer is still checked on tokens: the dev issuer's tokens, signed
	// with the same key, are refused.
	wantRejected(t, v, a.token(t), "wrong issuer")
	// The discovered jwks_uri is reloaded on an unknown kid, as a
	// configured JWKS URL is; discovery is not repeated.
	idp.jwks.Store(ptr(jwksOf(a, b)))
	if _, err := v.Verify(context.Background(), sign(t, b.method, b.priv, b.kid, claims)); err != nil {
		t.Fatalf("token of the rotated-in key rejected: %v", err)
	}
	if d := idp.discovery.Load(); d != 1 {
		t.Fatalf("discovery fetched %d times, want 1", d)
	}
}

func ptr[T any](v T) *T { return &v }

func TestVerifierOIDCDiscoveryRefusals(t *testing.T) {
	a := newEdKey(t, "a")
	cfg := func(issuer string) VerifierConfig {
		return VerifierConfig{Issuer: issuer, Audience: DevAudience}
	}
	t.Run("issuer mismatch", func(t *testing.T) {
		for _, claimed := range []func(url string) string{
			func(url string) string { return "https://evil.example" },
			func(url string) string { return url + "/" }, // equal means byte for byte
			func(url string) string { return strings.ToUpper(url) },
		} {
			idp := newOIDCProvider(t, jwksOf(a))
			idp.issuer.Store(ptr(claimed(idp.URL)))
			_, err := NewVerifier(t.Context(), cfg(idp.URL))
			if err == nil || !strings.Contains(err.Error(), "must be equal") || !strings.Contains(err.Error(), claimed(idp.URL)) {
				t.Fatalf("claimed issuer %q: err = %v, want an issuer mismatch naming it", claimed(idp.URL), err)
			}
			if n := idp.jwksHits.Load(); n != 0 {
				t.Fatalf("the JWKS of a mismatched issuer was fetched %d times", n)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		idp := newOIDCProvider(t, jwksOf(a))
		idp.Close()
		_, err := NewVerifier(t.Context(), cfg(idp.URL))
		if err == nil || !strings.Contains(err.Error(), "OIDC discovery for issuer \""+idp.URL+"\"") {
			t.Fatalf("err = %v, want a discovery failure naming the issuer", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		_, err := NewVerifier(t.Context(), cfg(srv.URL))
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("err = %v, want a 404 discovery failure", err)
		}
	})
	t.Run("jwks_uri in clear over the network", func(t *testing.T) {
		idp := newOIDCProvider(t, jwksOf(a))
		idp.jwksURI.Store(ptr("http://keys.example/jwks"))
		_, err := NewVerifier(t.Context(), cfg(idp.URL))
		if err == nil || !strings.Contains(err.Error(), "jwks_uri") || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("err = %v, want the http jwks_uri refused", err)
		}
	})
	t.Run("no jwks_uri", func(t *testing.T) {
		idp := newOIDCProvider(t, jwksOf(a))
		idp.jwksURI.Store(ptr(""))
		if _, err := NewVerifier(t.Context(), cfg(idp.URL)); err == nil || !strings.Contains(err.Error(), "no jwks_uri") {
			t.Fatalf("err = %v, want a missing jwks_uri refused", err)
		}
	})
	t.Run("issuer not a URL", func(t *testing.T) {
		for _, iss := range []string{DevIssuer, "http://idp.example", "ftp://idp.example", "https://idp.example?tenant=1"} {
			_, err := NewVerifier(t.Context(), cfg(iss))
			if err == nil || !strings.Contains(err.Error(), "cannot be used for OIDC discovery") {
				t.Fatalf("issuer %q: err = %v, want it refused for discovery", iss, err)
			}
		}
	})
}

func TestVerifierRefusesOversizedJWKS(t *testing.T) {
	a := newEdKey(t, "a")
	huge := jwksOf(a)
	// Valid JSON, padded with whitespace past the limit.
	huge = append(huge[:len(huge)-1], append([]byte(strings.Repeat(" ", maxJWKSBytes)), '}')...)
	srv := newJWKSServer(t, huge)
	_, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want an oversized JWKS refused", err)
	}
	// The same set within the limit loads.
	srv.set(jwksOf(a))
	if _, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifierRefusesPrivateKeyMaterial(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k := newRSAKey(t, "rs")
	k.jwk["n"], k.jwk["e"] = b64(priv.N.Bytes()), "AQAB"
	k.jwk["d"] = b64(priv.D.Bytes())
	k.jwk["p"], k.jwk["q"] = b64(priv.Primes[0].Bytes()), b64(priv.Primes[1].Bytes())
	k.jwk["dp"], k.jwk["dq"] = b64(priv.Precomputed.Dp.Bytes()), b64(priv.Precomputed.Dq.Bytes())
	k.jwk["qi"] = b64(priv.Precomputed.Qinv.Bytes())
	srv := newJWKSServer(t, jwksOf(k))
	_, err = NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience})
	if err == nil || !strings.Contains(err.Error(), "want a public key") {
		t.Fatalf("err = %v, want a set publishing a private key refused", err)
	}
}

// TestVerifierKeepsKeysWhenReloadRefused: a reloaded set that fails the
// policy (here a 1024-bit RSA key) does not replace the keys in use.
func TestVerifierKeepsKeysWhenReloadRefused(t *testing.T) {
	a := newEdKey(t, "a")
	srv := newJWKSServer(t, jwksOf(a))
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience, MinRefreshInterval: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak := testKey{"weak", nil, small, map[string]string{"kty": "RSA", "kid": "weak", "n": b64(small.N.Bytes()), "e": "AQAB"}}
	srv.set(jwksOf(a, weak))
	before := srv.hits.Load()
	wantRejected(t, v, sign(t, newRSAKey(t, "x").method, small, "weak", validClaims(time.Now())), `unknown key id "weak"`)
	if srv.hits.Load() == before {
		t.Fatal("the unknown kid did not cause a reload")
	}
	if _, err := v.Verify(context.Background(), a.token(t)); err != nil {
		t.Fatalf("key of the last accepted set rejected after a refused reload: %v", err)
	}
}
