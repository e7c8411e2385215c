package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testDevKey returns a fresh DevKey in a temporary directory.
func testDevKey(t *testing.T) *DevKey {
	t.Helper()
	k, err := LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func devVerifier(t *testing.T, jwks []byte, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKS: jwks, Issuer: DevIssuer, Audience: DevAudience, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sign makes a token with arbitrary claims and header.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  DevIssuer,
		"aud":  DevAudience,
		"sub":  "user-1",
		"iat":  now.Unix(),
		"exp":  now.Add(time.Hour).Unix(),
		"role": "stakeholder",
	}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func wantRejected(t *testing.T, v *Verifier, token, reason string) {
	t.Helper()
	p, err := v.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("Verify accepted the token as %+v; want rejection (%s)", p, reason)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %v does not wrap ErrInvalidToken", err)
	}
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a *TokenError", err)
	}
	if !strings.Contains(te.Reason, reason) {
		t.Fatalf("reason = %q, want it to contain %q (error: %v)", te.Reason, reason, err)
	}
}

func TestMintVerifyRoundTrip(t *testing.T) {
	k := testDevKey(t)
	v := devVerifier(t, k.JWKS(), nil)
	for _, p := range []Principal{
		{Subject: "sec-1", Role: RoleSecretariat},
		{Subject: "co-1", Role: RoleColead, Country: "UY"},
		{Subject: "st-1", Role: RoleStakeholder},
		{Subject: "st-2", Role: RoleStakeholder, Country: "PT"},
	} {
		tok, err := k.Mint(p, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("Verify(%+v): %v", p, err)
		}
		if got != p {
			t.Fatalf("Verify = %+v, want %+v", got, p)
		}
	}
}

func TestMintRefusesBadPrincipals(t *testing.T) {
	k := testDevKey(t)
	for _, p := range []Principal{
		{Role: RoleStakeholder},
		{Subject: "x"},
		{Subject: "x", Role: RolePublic},
		{Subject: "x", Role: "admin"},
		{Subject: "x", Role: RoleColead},
		{Subject: "x", Role: RoleColead, Country: "Brazil"},
	} {
		if _, err := k.Mint(p, time.Hour); err == nil {
			t.Errorf("Mint(%+v) succeeded", p)
		}
	}
	if _, err := k.Mint(Principal{Subject: "x", Role: RoleStakeholder}, 0); err == nil {
		t.Error("Mint with zero ttl succeeded")
	}
}

func TestVerifyRejects(t *testing.T) {
	k := testDevKey(t)
	now := time.Now()
	v := devVerifier(t, k.JWKS(), func() time.Time { return now })
	other := testDevKey(t)
	c := validClaims(now)

	good := sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, c)
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("baseline token rejected: %v", err)
	}

	expired, err := k.MintAt(Principal{Subject: "u", Role: RoleStakeholder}, now.Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// Tampered: the payload of a stakeholder token swapped for one that
	// claims secretariat, the signature kept.
	parts := strings.Split(good, ".")
	payload, _ := json.Marshal(with(c, "role", "secretariat"))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	// alg none, built by hand: {"alg":"none","kid":...}.{claims}.
	noneHeader, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": k.kid})
	claimsJSON, _ := json.Marshal(c)
	algNone := base64.RawURLEncoding.EncodeToString(noneHeader) + "." + base64.RawURLEncoding.EncodeToString(claimsJSON) + "."

	// HS256 keyed with the public key: the classic algorithm confusion.
	hs256 := sign(t, jwt.SigningMethodHS256, []byte(k.priv.Public().(ed25519.PublicKey)), k.kid, c)

	tests := []struct {
		name, token, reason string
	}{
		{"empty", "", "empty token"},
		{"garbage", "not-a-jwt", "malformed"},
		{"expired", expired, "token expired"},
		{"forged with trusted kid", sign(t, jwt.SigningMethodEdDSA, other.priv, k.kid, c), "bad signature"},
		{"forged with own kid", sign(t, jwt.SigningMethodEdDSA, other.priv, other.kid, c), "unknown key id"},
		{"crit header", critToken(t, k, c), "critical header"},
		{"missing kid", sign(t, jwt.SigningMethodEdDSA, k.priv, "", c), "missing key id"},
		{"tampered payload", tampered, "bad signature"},
		{"wrong issuer", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "iss", "evil")), `wrong issuer "evil"`},
		{"missing issuer", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "iss", nil)), "missing iss"},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "aud", "other-app")), "wrong audience"},
		{"missing audience", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "aud", nil)), "missing aud"},
		{"missing exp", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "exp", nil)), "missing exp"},
		{"not yet valid", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "nbf", now.Add(time.Hour).Unix())), "not valid yet"},
		{"issued in the future", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "iat", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix())), "issued in the future"},
		{"alg none", algNone, `algorithm "none" not allowed`},
		{"HS256 with public key as secret", hs256, `algorithm "HS256" not allowed`},
		{"missing subject", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "sub", nil)), "missing subject"},
		{"missing role", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "role", nil)), "missing role"},
		{"unknown role", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "role", "admin")), `unknown role "admin"`},
		{"public role", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "role", "public")), "cannot be granted"},
		{"colead without country", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "role", "colead")), "colead without country"},
		{"bad country", sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(c, "role", "colead", "country", "BRA")), "not an ISO 3166-1 alpha-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRejected(t, v, tt.token, tt.reason)
		})
	}

	// The same expired token is accepted when the clock says it is still
	// valid: the rejection above was about time, not the token.
	v2 := devVerifier(t, k.JWKS(), func() time.Time { return now.Add(-90 * time.Minute) })
	if _, err := v2.Verify(context.Background(), expired); err != nil {
		t.Fatalf("expired token rejected inside its lifetime: %v", err)
	}
}

func TestVerifyLowerCaseCountry(t *testing.T) {
	k := testDevKey(t)
	v := devVerifier(t, k.JWKS(), nil)
	tok := sign(t, jwt.SigningMethodEdDSA, k.priv, k.kid, with(validClaims(time.Now()), "role", "colead", "country", "mx"))
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Country != "MX" {
		t.Fatalf("country = %q, want MX", p.Country)
	}
}

// Test keys of the three supported types, with JWK encodings written here.

type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   any
	jwk    map[string]string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newEdKey(t *testing.T, kid string) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid, jwt.SigningMethodEdDSA, priv, map[string]string{
		"kty": "OKP", "crv": "Ed25519", "x": b64(pub), "kid": kid, "use": "sig",
	}}
}

var (
	rsaOnce sync.Once
	rsaPriv *rsa.PrivateKey
)

func newRSAKey(t *testing.T, kid string) testKey {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKey{kid, jwt.SigningMethodRS256, rsaPriv, map[string]string{
		"kty": "RSA", "n": b64(rsaPriv.N.Bytes()), "e": b64(big.NewInt(int64(rsaPriv.E)).Bytes()), "kid": kid, "alg": "RS256",
	}}
}

func newECKey(t *testing.T, kid string) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid, jwt.SigningMethodES256, priv, map[string]string{
		"kty": "EC", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:]), "kid": kid,
	}}
}

func jwksOf(keys ...testKey) []byte {
	set := map[string][]map[string]string{"keys": {}}
	for _, k := range keys {
		set["keys"] = append(set["keys"], k.jwk)
	}
	b, _ := json.Marshal(set)
	return b
}

func (k testKey) token(t *testing.T) string {
	return sign(t, k.method, k.priv, k.kid, validClaims(time.Now()))
}

func TestVerifyKeyTypes(t *testing.T) {
	ed, rs, ec := newEdKey(t, "ed"), newRSAKey(t, "rs"), newECKey(t, "ec")
	// An encryption key and an unsupported curve sit next to them, as in
	// real identity providers' key sets; they are skipped. (The P-384 key is
	// a real point: jwkset refuses a set holding an off-curve key of any
	// curve.)
	enc := map[string]string{"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"}
	p384Priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Pt, _ := p384Priv.PublicKey.Bytes()
	p384 := map[string]string{"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(p384Pt[1:49]), "y": b64(p384Pt[49:])}
	jwks := jwksOf(ed, rs, ec, testKey{jwk: enc}, testKey{jwk: p384})
	v := devVerifier(t, jwks, nil)

	for _, k := range []testKey{ed, rs, ec} {
		if _, err := v.Verify(context.Background(), k.token(t)); err != nil {
			t.Errorf("%s token rejected: %v", k.kid, err)
		}
	}
	// A token whose alg does not match the key its kid names.
	mismatch := sign(t, jwt.SigningMethodES256, ec.priv, "rs", validClaims(time.Now()))
	wantRejected(t, v, mismatch, "does not match key")
	// RS256 signed with the RSA key but presented under the EC key's kid.
	wantRejected(t, v, sign(t, jwt.SigningMethodRS256, rs.priv, "ec", validClaims(time.Now())), "does not match key")
	// Algorithms outside the accepted set, even with a usable key.
	wantRejected(t, v, sign(t, jwt.SigningMethodRS512, rs.priv, "rs", validClaims(time.Now())), `algorithm "RS512" not allowed`)
	wantRejected(t, v, sign(t, jwt.SigningMethodPS256, rs.priv, "rs", validClaims(time.Now())), `algorithm "PS256" not allowed`)
}

func TestParseJWKSRejectsBadKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"not json":       `{`,
		"empty":          `{"keys":[]}`,
		"only enc keys":  `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		"short ed25519":  `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}`,
		"padded base64":  `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}]}`,
		"small rsa":      `{"keys":[{"kty":"RSA","kid":"a","n":"` + b64(small.N.Bytes()) + `","e":"AQAB"}]}`,
		"even exponent":  `{"keys":[{"kty":"RSA","kid":"a","n":"` + b64(rsaKeyForTest(t).N.Bytes()) + `","e":"Ag"}]}`,
		"off-curve p256": `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(append(make([]byte, 31), 1)) + `"}]}`,
		"duplicate kid": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},` +
			`{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	}
	for name, data := range tests {
		if _, err := parseJWKS([]byte(data)); err == nil {
			t.Errorf("%s: parseJWKS accepted %s", name, data)
		}
	}
}

func rsaKeyForTest(t *testing.T) *rsa.PrivateKey {
	newRSAKey(t, "x")
	return rsaPriv
}

func TestNewVerifierConfigErrors(t *testing.T) {
	k := testDevKey(t)
	for name, cfg := range map[string]VerifierConfig{
		"no source":    {Issuer: DevIssuer, Audience: DevAudience},
		"two sources":  {JWKS: k.JWKS(), JWKSFile: "x", Issuer: DevIssuer, Audience: DevAudience},
		"no issuer":    {JWKS: k.JWKS(), Audience: DevAudience},
		"no audience":  {JWKS: k.JWKS(), Issuer: DevIssuer},
		"bad jwks":     {JWKS: []byte(`{}`), Issuer: DevIssuer, Audience: DevAudience},
		"missing file": {JWKSFile: filepath.Join(t.TempDir(), "none.json"), Issuer: DevIssuer, Audience: DevAudience},
	} {
		if _, err := NewVerifier(t.Context(), cfg); err == nil {
			t.Errorf("%s: NewVerifier succeeded", name)
		}
	}
}

func TestVerifierJWKSFileRotation(t *testing.T) {
	a, b := newEdKey(t, "a"), newEdKey(t, "b")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksOf(a), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSFile: path, Issuer: DevIssuer, Audience: DevAudience, MinRefreshInterval: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), a.token(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, jwksOf(b), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), b.token(t)); err != nil {
		t.Fatalf("token of the rotated-in key rejected: %v", err)
	}
	wantRejected(t, v, a.token(t), `unknown key id "a"`)
}

// jwksServer serves whatever key set it holds and counts requests.
type jwksServer struct {
	*httptest.Server
	body atomic.Pointer[[]byte]
	hits atomic.Int64
	fail atomic.Bool
}

func newJWKSServer(t *testing.T, jwks []byte) *jwksServer {
	s := &jwksServer{}
	s.set(jwks)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(jwks []byte) { s.body.Store(&jwks) }

func TestVerifierJWKSURLRotation(t *testing.T) {
	a, b, c := newEdKey(t, "a"), newECKey(t, "b"), newRSAKey(t, "c")
	srv := newJWKSServer(t, jwksOf(a))
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience,
		MinRefreshInterval: time.Nanosecond, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", got)
	}
	if _, err := v.Verify(context.Background(), a.token(t)); err != nil {
		t.Fatal(err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("a known kid caused a fetch (%d fetches)", got)
	}

	// Rotation: the provider now publishes a and b; a token signed with b
	// makes the verifier fetch again.
	srv.set(jwksOf(a, b))
	if _, err := v.Verify(context.Background(), b.token(t)); err != nil {
		t.Fatalf("token of the new key rejected: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2 (unknown kid refetch)", got)
	}

	// a is retired: once the set is reloaded its tokens stop working.
	srv.set(jwksOf(b, c))
	if _, err := v.Verify(context.Background(), c.token(t)); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, v, a.token(t), `unknown key id "a"`)

	// The provider is down: an unknown kid is rejected, known keys still
	// work from the last good set.
	srv.fail.Store(true)
	wantRejected(t, v, newEdKey(t, "d").token(t), `unknown key id "d"`)
	if _, err := v.Verify(context.Background(), b.token(t)); err != nil {
		t.Fatalf("known key rejected while the provider is down: %v", err)
	}
}

func TestVerifierRateLimitsUnknownKidFetches(t *testing.T) {
	a := newEdKey(t, "a")
	srv := newJWKSServer(t, jwksOf(a))
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience,
		MinRefreshInterval: time.Hour, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i := range 20 {
		tokens = append(tokens, newEdKey(t, "unknown-"+string(rune('a'+i))).token(t))
	}
	var wg sync.WaitGroup
	for _, tok := range tokens {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("unknown kid: err = %v", err)
			}
		})
	}
	wg.Wait()
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1: unknown kids within MinRefreshInterval must not refetch", got)
	}
}

func TestVerifierPeriodicRefresh(t *testing.T) {
	a, b := newEdKey(t, "a"), newEdKey(t, "b")
	srv := newJWKSServer(t, jwksOf(a))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	v, err := NewVerifier(ctx, VerifierConfig{
		JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience,
		RefreshInterval: 10 * time.Millisecond, MinRefreshInterval: time.Hour, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.set(jwksOf(b))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := v.lookup("b"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh did not pick up the new key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), b.token(t)); err != nil {
		t.Fatal(err)
	}
	// Cancelling ctx stops the refreshes.
	cancel()
	time.Sleep(30 * time.Millisecond)
	before := srv.hits.Load()
	time.Sleep(50 * time.Millisecond)
	if after := srv.hits.Load(); after != before {
		t.Fatalf("refreshes continued after ctx was cancelled (%d -> %d)", before, after)
	}
}

func TestNewVerifierFailsWhenJWKSUnreachable(t *testing.T) {
	srv := newJWKSServer(t, nil)
	srv.fail.Store(true)
	_, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, Issuer: DevIssuer, Audience: DevAudience})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want a 503 fetch failure", err)
	}
}

func critToken(t *testing.T, k *DevKey, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.kid
	tok.Header["crit"] = []string{"exp-ext"}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
