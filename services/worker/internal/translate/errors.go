package translate

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/consulta-platform/consulta/pkg/retryafter"
)

// Error is a failed provider call, classified for the job that made it:
// Permanent means sending the same request again cannot succeed (the
// provider rejected the request itself), so the job should not be retried;
// otherwise the failure is transient (a network error, a timeout, 5xx, 408,
// 429, a rejected key or an exhausted quota) and RetryAfter, when not zero, is
// how long the provider asked us to wait.
//
// A rejected key (401, 403) and an exhausted quota (DeepL's 456) are
// transient on purpose, unlike other 4xx answers: an operator fixes them,
// and the texts must then still be translated rather than skipped for good.
type Error struct {
	// Provider names the provider ("apertium", "deepl", ...).
	Provider string
	// StatusCode is the HTTP status, 0 when there was no HTTP answer.
	StatusCode int
	// Permanent says the request itself was refused.
	Permanent bool
	// RetryAfter is the provider's Retry-After, 0 when it gave none.
	RetryAfter time.Duration
	// Message is the provider's explanation (the start of its answer).
	Message string
	// Err is the cause when there was no answer (network, process).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": status %d", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Permanent {
		b.WriteString(" (permanent)")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// RetryDelay is the provider's Retry-After; pkg/jobs looks for this method
// on a job's error and never retries sooner.
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }

// HTTPError is the former name of Error.
type HTTPError = Error

// permanentStatus reports whether an HTTP status means the request itself
// was refused: every 4xx except 408 (timeout), 429 (rate), 401/403 (key) and
// 456 (DeepL's quota).
func permanentStatus(code int) bool {
	if code < 400 || code > 499 {
		return false
	}
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden, 456:
		return false
	}
	return true
}

// statusError builds the Error of a non-2xx answer.
func statusError(provider string, resp *http.Response, message string, now time.Time) *Error {
	return &Error{
		Provider:   provider,
		StatusCode: resp.StatusCode,
		Permanent:  permanentStatus(resp.StatusCode),
		RetryAfter: retryafter.Parse(resp.Header.Get("Retry-After"), now, maxRetryAfter),
		Message:    message,
	}
}

// maxRetryAfter bounds a provider's Retry-After: a day at most.
const maxRetryAfter = 24 * time.Hour

// IsPermanent reports whether err, from a Translator, will not go away by
// itself: the job that got it should not be retried.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// RetryAfter returns the delay the provider asked for before the next try,
// 0 when it asked for none.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// permanent is an Error for a request no provider call can satisfy.
func permanent(provider, format string, args ...any) *Error {
	return &Error{Provider: provider, Permanent: true, Message: fmt.Sprintf(format, args...)}
}
