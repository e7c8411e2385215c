package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// ErrInvalidToken is matched (errors.Is) by every error Verify returns.
var ErrInvalidToken = errors.New("invalid token")

// TokenError says why Verify rejected a token. It matches ErrInvalidToken.
type TokenError struct {
	// Reason is short and safe to show to the caller, e.g. "token expired".
	Reason string
	// Err is the underlying cause, if any; it may hold details that belong
	// in logs rather than in responses.
	Err error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return "invalid token: " + e.Reason + ": " + e.Err.Error()
	}
	return "invalid token: " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidToken) true.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

func (e *TokenError) Unwrap() error { return e.Err }

func tokenErr(format string, args ...any) *TokenError {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

// Defaults for VerifierConfig.
const (
	DefaultRefreshInterval    = time.Hour
	DefaultMinRefreshInterval = time.Minute
	DefaultClockSkew          = 30 * time.Second
	maxJWKSBytes              = 1 << 20
	// unknownKidWait bounds how long a token with an unknown kid waits for
	// the reload it causes: for the rate limit to allow one (a token that
	// would wait longer is refused at once) and for the fetch itself (jwkset
	// uses one deadline for both).
	unknownKidWait = 10 * time.Second
)

// VerifierConfig says where the trusted keys are and what tokens must claim.
// At most one of JWKSURL, JWKSFile and JWKS may be set; when none is, the
// keys are found by OpenID Connect discovery from Issuer (see NewVerifier).
type VerifierConfig struct {
	// JWKSURL is fetched at start, every RefreshInterval, and when a token
	// names a kid that is not known (at most once per MinRefreshInterval).
	JWKSURL string
	// JWKSFile is read like JWKSURL is fetched, so a rotated file is picked
	// up without a restart.
	JWKSFile string
	// JWKS is an inline key set; it never changes.
	JWKS []byte

	// Issuer and Audience are required; tokens must carry them in iss and aud.
	Issuer   string
	Audience string

	// RefreshInterval is how often keys are reloaded from JWKSURL or
	// JWKSFile. Zero means DefaultRefreshInterval.
	RefreshInterval time.Duration
	// MinRefreshInterval rate-limits reloads caused by unknown kids. Zero
	// means DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// ClockSkew is tolerated on exp, nbf and iat. Zero means
	// DefaultClockSkew.
	ClockSkew time.Duration

	// HTTPClient fetches the discovery document and JWKSURL. Nil means a
	// client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives failures of background refreshes. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock used to check exp, nbf and iat (tests). Nil means
	// time.Now.
	Now func() time.Time
}

// Verifier checks OIDC-compatible JWT bearer tokens against a JWKS. It is
// safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	parser   *jwt.Parser
	// keys answers lookups by kid; for a JWKSURL or JWKSFile it reloads the
	// set, rate-limited, when a kid is unknown.
	keys jwkset.Storage
	// installed is the last set that passed vetKeys.
	installed *vettedStorage
	// source names where keys come from, for logs and errors.
	source string
}

// NewVerifier loads the key set once and fails if it cannot. For a JWKSURL or
// JWKSFile it then reloads keys in the background until ctx is done, so ctx
// should live as long as the Verifier.
//
// With no JWKSURL, JWKSFile or JWKS, Issuer must be an https URL (http only
// for a loopback host): NewVerifier fetches
// <Issuer>/.well-known/openid-configuration, requires its "issuer" to equal
// Issuer exactly, and uses its "jwks_uri" as JWKSURL. Discovery happens once,
// at start; if it fails, NewVerifier fails and says why, so that a
// misconfigured or unreachable issuer stops the process at start (its
// supervisor retries) instead of refusing every token later.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	sources := 0
	for _, set := range []bool{cfg.JWKSURL != "", cfg.JWKSFile != "", len(cfg.JWKS) > 0} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return nil, errors.New("auth: set at most one of JWKSURL, JWKSFile and JWKS")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: Issuer and Audience are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		issuer:    cfg.Issuer,
		audience:  cfg.Audience,
		installed: newVettedStorage(),
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(acceptedAlgs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(orDefault(cfg.ClockSkew, DefaultClockSkew)),
		jwt.WithTimeFunc(now),
	)

	if len(cfg.JWKS) > 0 {
		keys, err := parseJWKS(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: inline JWKS: %w", err)
		}
		if err := v.installed.KeyReplaceAll(ctx, keys); err != nil {
			return nil, fmt.Errorf("auth: inline JWKS: %w", err)
		}
		v.keys, v.source = v.installed, "inline JWKS"
		return v, nil
	}

	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	jwksURL := cfg.JWKSURL
	switch {
	case cfg.JWKSFile != "":
		abs, err := filepath.Abs(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: JWKS file %s: %w", cfg.JWKSFile, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("auth: JWKS file: %w", err)
		}
		// The file is read through an http.Client, so that jwkset reloads it
		// as it reloads a URL; the transport serves that one directory.
		client = &http.Client{Transport: http.NewFileTransportFS(os.DirFS(filepath.Dir(abs)))}
		jwksURL = "file:///" + url.PathEscape(filepath.Base(abs))
		v.source = "JWKS file " + abs
	case jwksURL == "":
		u, err := discoverJWKSURL(ctx, limitedClient(client, maxDiscoveryBytes), cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		jwksURL = u
		v.source = "JWKS " + u + " (from the discovery document of " + cfg.Issuer + ")"
	default:
		v.source = "JWKS " + jwksURL
	}
	client = limitedClient(client, maxJWKSBytes)

	source := v.source
	remote, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Client:          client,
		Ctx:             ctx,
		HTTPTimeout:     30 * time.Second,
		RefreshInterval: orDefault(cfg.RefreshInterval, DefaultRefreshInterval),
		RefreshErrorHandler: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				logger.WarnContext(ctx, "JWKS reload failed; keeping the previous keys", "source", source, "error", err)
			}
		},
		Storage: v.installed,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: load %s: %w", v.source, err)
	}
	// The load above counts as the last reload: an unknown kid reloads only
	// MinRefreshInterval after it.
	limiter := rate.NewLimiter(rate.Every(orDefault(cfg.MinRefreshInterval, DefaultMinRefreshInterval)), 1)
	limiter.Allow()
	v.keys, err = jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{jwksURL: remote},
		RateLimitWaitMax:  unknownKidWait,
		RefreshUnknownKID: limiter,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// tokenClaims are the claims Consulta reads from a token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role    string `json:"role,omitempty"`
	Country string `json:"country,omitempty"`
}

// Verify checks token's signature and claims and returns the caller it
// names. Every error wraps ErrInvalidToken (as a *TokenError) and says why.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, tokenErr("empty token")
	}
	var claims tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		return v.keyFor(ctx, t)
	})
	if err != nil {
		return Principal{}, v.explain(parsed, &claims, err)
	}
	p := Principal{
		Subject: claims.Subject,
		Role:    Role(claims.Role),
		Country: strings.ToUpper(claims.Country),
	}
	if err := p.validate(); err != nil {
		return Principal{}, &TokenError{Reason: err.Error()}
	}
	return p, nil
}

// keyFor is the jwt.Keyfunc: it finds the key named by the token's kid and
// checks that the token's algorithm is the one that key is for.
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 4.1.11: extensions a token marks critical must be
		// understood, and none are.
		return nil, tokenErr("unsupported critical header parameters (crit)")
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, tokenErr("missing key id (kid) in token header")
	}
	jwk, err := v.keys.KeyRead(ctx, kid)
	if err != nil {
		// The library's error names the kid in full: keep only a bounded
		// form of it, since the kid is the caller's to write.
		return nil, &TokenError{Reason: fmt.Sprintf("unknown key id %q", truncate(kid)), Err: errors.New(truncate(err.Error()))}
	}
	k, ok, err := usableKey(jwk)
	if err != nil || !ok {
		// Cannot happen: only vetted keys are installed.
		return nil, &TokenError{Reason: fmt.Sprintf("unusable key id %q", truncate(kid)), Err: err}
	}
	if alg := t.Method.Alg(); alg != k.alg {
		return nil, tokenErr("algorithm %q does not match key %q (%s)", truncate(alg), truncate(kid), k.alg)
	}
	return k.key, nil
}

// explain turns a jwt parse error into a TokenError with a short reason.
func (v *Verifier) explain(t *jwt.Token, claims *tokenClaims, err error) error {
	var te *TokenError
	if errors.As(err, &te) {
		return te // from keyFor
	}
	if t != nil && t.Header != nil {
		if alg, _ := t.Header["alg"].(string); !slices.Contains(acceptedAlgs, alg) {
			return &TokenError{Reason: fmt.Sprintf("algorithm %q not allowed", truncate(alg)), Err: err}
		}
	}
	reason := "invalid claims"
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		reason = "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		reason = "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		reason = "unverifiable token"
	case errors.Is(err, jwt.ErrTokenExpired):
		reason = "token expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		reason = "missing required claim"
		switch {
		case claims.ExpiresAt == nil:
			reason = "missing exp claim"
		case len(claims.Audience) == 0:
			reason = "missing aud claim"
		case claims.Issuer == "":
			reason = "missing iss claim"
		}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		reason = fmt.Sprintf("wrong issuer %q", truncate(claims.Issuer))
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		reason = fmt.Sprintf("wrong audience %q", truncate(strings.Join(claims.Audience, ",")))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		reason = "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		reason = "token issued in the future"
	}
	return &TokenError{Reason: reason, Err: err}
}

// maxShown is how many characters of a value taken from a token (kid, alg,
// iss, aud, role, country) an error or a log line shows.
const maxShown = 64

// truncate makes a value taken from a token safe to put in an error or a
// log line: at most maxShown characters, each unprintable one (control
// characters, invalid UTF-8) replaced by '?', and "..." when cut. A token
// is the caller's to write: a 100 KB kid must not become a 100 KB error
// message or log line.
func truncate(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxShown {
			b.WriteString("...")
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// lookup returns the installed key named kid, without reloading.
func (v *Verifier) lookup(kid string) (verificationKey, bool) {
	jwk, err := v.installed.KeyRead(context.Background(), kid)
	if err != nil {
		return verificationKey{}, false
	}
	k, ok, _ := usableKey(jwk)
	return k, ok
}

// maxDiscoveryBytes bounds the OpenID Connect discovery document.
const maxDiscoveryBytes = 64 << 10

// limitedClient returns a copy of c whose response bodies fail after max
// bytes, so that a hostile or broken key server cannot exhaust memory
// (jwkset and go-oidc read bodies whole).
func limitedClient(c *http.Client, max int64) *http.Client {
	out := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = limitTransport{base: base, max: max}
	return &out
}

type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

// limitedBody fails reads past max bytes rather than truncating silently.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("response larger than %d bytes", b.max)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, fmt.Errorf("response larger than %d bytes", b.max)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
