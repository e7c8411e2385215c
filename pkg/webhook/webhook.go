// Package webhook sends signed JSON calls to endpoints that others run, and
// verifies them on the receiving side. It knows no service: a caller gives
// an Endpoint (a URL and its own secret) and a body.
//
// A call is a POST of the body with two headers:
//
//	Consulta-Timestamp: <unix seconds>
//	Consulta-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// The timestamp is inside what is signed, so a receiver that refuses old
// timestamps (Verify's tolerance) refuses a replayed call; the "v1=" prefix
// names the scheme, so another may follow without breaking receivers.
//
// Delivery retries network errors, 5xx and 429 answers with exponential
// backoff and jitter (a Retry-After header is honoured as a minimum), and
// gives up at once on other 4xx answers, which no retry changes. Every
// attempt has its own timeout and a fresh timestamp and signature.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/consulta-platform/consulta/pkg/retryafter"
)

// Header names of a call.
const (
	HeaderTimestamp = "Consulta-Timestamp"
	HeaderSignature = "Consulta-Signature"
)

// signatureScheme prefixes the signature: the version of the scheme.
const signatureScheme = "v1="

// Endpoint is where calls go and the secret they are signed with; each
// endpoint has its own secret, so one leaked secret forges calls to one
// receiver only.
type Endpoint struct {
	URL    string
	Secret []byte
}

// Sign returns the signature header value of body sent at timestamp (unix
// seconds) under secret.
func Sign(secret []byte, timestamp int64, body []byte) string {
	return signatureScheme + hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrBadTimestamp = errors.New("webhook: timestamp missing, malformed or outside the tolerance")
)

// Verify checks a received call: timestamp and signature are the values
// of its Consulta-Timestamp and Consulta-Signature headers, body its raw
// bytes as read (before any JSON decoding). The timestamp must lie within
// tolerance of the receiver's clock, either way; a tolerance <= 0 means
// five minutes. The signature is compared in constant time.
func Verify(secret []byte, timestamp string, body []byte, signature string, tolerance time.Duration) error {
	return verifyAt(secret, timestamp, body, signature, tolerance, time.Now())
}

func verifyAt(secret []byte, timestamp string, body []byte, signature string, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrBadTimestamp
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(signature), signatureScheme)
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrBadSignature
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrBadSignature
	}
	return nil
}

// Config tunes a Sender; zero fields take their defaults.
type Config struct {
	// Client sends the requests (default: a client without its own
	// timeout; AttemptTimeout bounds each attempt).
	Client *http.Client
	// Attempts is how many times a call is tried in all (default 5).
	Attempts int
	// AttemptTimeout bounds one attempt, from the dial to the end of the
	// response read (default 10s).
	AttemptTimeout time.Duration
	// BaseDelay is the pause before the first retry; each further retry
	// doubles it (default 1s), up to MaxDelay (default 1m). The pause is
	// drawn at random between half of it and all of it (jitter), so that
	// senders failing together do not retry together.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter caps the wait a Retry-After header may ask for
	// (default 5m): a receiver cannot hold a sender indefinitely.
	MaxRetryAfter time.Duration
	// UserAgent is the User-Agent header (default "consulta-webhook/1").
	UserAgent string
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
}

// maxResponseBytes is how much of a response is read: enough for an error
// message, never a receiver's whole answer.
const maxResponseBytes = 4 << 10

// Sender delivers calls.
type Sender struct {
	cfg Config
}

// New returns a Sender with cfg.
func New(cfg Config) *Sender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 10 * time.Second
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = time.Minute
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 5 * time.Minute
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "consulta-webhook/1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg}
}

// StatusError is a call the receiver answered with a status other than
// 2xx; Body is the start of its answer.
type StatusError struct {
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook: receiver answered %d: %q", e.StatusCode, e.Body)
}

// Result says how a delivery went.
type Result struct {
	// Attempts is how many requests were made.
	Attempts int
	// StatusCode is the last answer's status (0 when none came).
	StatusCode int
}

// Send POSTs body (JSON) to ep, signed, until the receiver answers 2xx, a
// status no retry changes, the attempts run out or ctx ends. The error of
// a refused call is a *StatusError.
func (s *Sender) Send(ctx context.Context, ep Endpoint, body []byte) (Result, error) {
	if len(ep.Secret) == 0 {
		return Result{}, errors.New("webhook: endpoint secret: empty")
	}
	var res Result
	var last error
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		res.Attempts = attempt
		status, retryAfter, err := s.attempt(ctx, ep, body)
		res.StatusCode = status
		if err == nil {
			return res, nil
		}
		last = err
		if ctx.Err() != nil {
			return res, fmt.Errorf("webhook: %d attempts, stopped: %w", attempt, ctx.Err())
		}
		if !retryable(status) {
			return res, err
		}
		if attempt == s.cfg.Attempts {
			break
		}
		wait := s.backoff(attempt)
		if retryAfter > wait {
			wait = min(retryAfter, s.cfg.MaxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, fmt.Errorf("webhook: %d attempts, stopped: %w", attempt, ctx.Err())
		case <-t.C:
		}
	}
	return res, fmt.Errorf("webhook: gave up after %d attempts: %w", res.Attempts, last)
}

// retryable: no answer (a network error: status 0), a server error or
// Too Many Requests.
func retryable(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusTooManyRequests
}

// backoff is the pause after the attempt-th failure: BaseDelay doubled per
// retry, capped at MaxDelay, drawn at random in its upper half.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.MaxDelay
	if shift := attempt - 1; shift < 30 {
		d = min(s.cfg.BaseDelay<<shift, s.cfg.MaxDelay)
	}
	return d/2 + rand.N(d/2+1)
}

// attempt makes one request. It returns the status (0 when no answer
// came), the pause a Retry-After header asks for, and an error unless the
// answer was 2xx.
func (s *Sender) attempt(ctx context.Context, ep Endpoint, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		// A URL no retry mends: answered as a 4xx would be.
		return http.StatusBadRequest, 0, fmt.Errorf("webhook: endpoint url: %w", err)
	}
	ts := s.cfg.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(ep.Secret, ts, body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	// Drain a little more so that the connection can be reused, no more.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	return resp.StatusCode, retryafter.Parse(resp.Header.Get("Retry-After"), s.cfg.Now(), s.cfg.MaxRetryAfter),
		&StatusError{StatusCode: resp.StatusCode, Body: string(head)}
}
