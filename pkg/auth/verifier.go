package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
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
)

// VerifierConfig says where the trusted keys are and what tokens must claim.
// Exactly one of JWKSURL, JWKSFile and JWKS must be set.
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

	// HTTPClient fetches JWKSURL. Nil means a client with a 10 s timeout.
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
	issuer     string
	audience   string
	parser     *jwt.Parser
	load       func(context.Context) ([]byte, error) // nil for an inline JWKS
	minRefresh time.Duration
	logger     *slog.Logger

	mu   sync.RWMutex
	keys map[string]verificationKey

	refreshMu   sync.Mutex // serialises reloads
	lastAttempt time.Time  // guarded by refreshMu; wall clock, not cfg.Now
}

// NewVerifier loads the key set once and fails if it cannot. For a JWKSURL or
// JWKSFile it then reloads keys in the background until ctx is done, so ctx
// should live as long as the Verifier.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	sources := 0
	for _, set := range []bool{cfg.JWKSURL != "", cfg.JWKSFile != "", len(cfg.JWKS) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("auth: set exactly one of JWKSURL, JWKSFile and JWKS")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: Issuer and Audience are required")
	}
	v := &Verifier{
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		minRefresh: orDefault(cfg.MinRefreshInterval, DefaultMinRefreshInterval),
		logger:     cfg.Logger,
	}
	if v.logger == nil {
		v.logger = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
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

	switch {
	case cfg.JWKSURL != "":
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		url := cfg.JWKSURL
		v.load = func(ctx context.Context) ([]byte, error) { return fetchJWKS(ctx, client, url) }
	case cfg.JWKSFile != "":
		path := cfg.JWKSFile
		v.load = func(context.Context) ([]byte, error) { return readJWKSFile(path) }
	}

	if v.load == nil {
		keys, err := parseJWKS(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: inline JWKS: %w", err)
		}
		v.keys = keys
		return v, nil
	}
	v.refreshMu.Lock()
	err := v.reloadLocked(ctx)
	v.refreshMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	go v.refreshLoop(ctx, orDefault(cfg.RefreshInterval, DefaultRefreshInterval))
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
	k, ok := v.lookup(kid)
	if !ok {
		if err := v.reloadForKid(ctx, kid); err != nil {
			return nil, &TokenError{Reason: fmt.Sprintf("unknown key id %q", truncate(kid)), Err: err}
		}
		if k, ok = v.lookup(kid); !ok {
			return nil, tokenErr("unknown key id %q", truncate(kid))
		}
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

func (v *Verifier) lookup(kid string) (verificationKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok := v.keys[kid]
	return k, ok
}

// errRateLimited is returned when an unknown kid arrives too soon after the
// last reload.
var errRateLimited = errors.New("keys were reloaded recently")

// reloadForKid reloads the key set because a token named kid, unless another
// caller already did, or a reload was attempted less than minRefresh ago.
func (v *Verifier) reloadForKid(ctx context.Context, kid string) error {
	if v.load == nil {
		return nil // inline keys never change
	}
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	if _, ok := v.lookup(kid); ok {
		return nil
	}
	if time.Since(v.lastAttempt) < v.minRefresh {
		return errRateLimited
	}
	err := v.reloadLocked(ctx)
	if err != nil {
		v.logger.WarnContext(ctx, "reload JWKS for unknown kid failed", "kid", truncate(kid), "error", err)
	}
	return err
}

// reloadLocked loads and installs the key set. The caller holds refreshMu.
func (v *Verifier) reloadLocked(ctx context.Context) error {
	v.lastAttempt = time.Now()
	data, err := v.load(ctx)
	if err != nil {
		return err
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
	return nil
}

func (v *Verifier) refreshLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v.refreshMu.Lock()
		err := v.reloadLocked(ctx)
		v.refreshMu.Unlock()
		if err != nil && ctx.Err() == nil {
			v.logger.WarnContext(ctx, "periodic JWKS reload failed; keeping the previous keys", "error", err)
		}
	}
}

func fetchJWKS(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS %s: status %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS %s: %w", url, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("fetch JWKS %s: larger than %d bytes", url, maxJWKSBytes)
	}
	return data, nil
}

func readJWKSFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS %s: %w", path, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("read JWKS %s: larger than %d bytes", path, maxJWKSBytes)
	}
	return data, nil
}
