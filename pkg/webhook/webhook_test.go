package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is an httptest endpoint that verifies every call with Verify
// and answers with the statuses of answers in turn (200 once they run
// out).
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	answers  []func(w http.ResponseWriter)
	calls    int
	verified [][]byte // the bodies of calls that verified
	failures []error
	times    []time.Time
}

func newReceiver(t *testing.T, secret []byte, answers ...func(w http.ResponseWriter)) *receiver {
	t.Helper()
	rc := &receiver{answers: answers}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.times = append(rc.times, time.Now())
		i := rc.calls
		rc.calls++
		if err == nil {
			err = Verify(secret, r.Header.Get(HeaderTimestamp), body, r.Header.Get(HeaderSignature), time.Minute)
		}
		if err != nil {
			rc.failures = append(rc.failures, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if i < len(rc.answers) {
			rc.answers[i](w)
			return
		}
		rc.verified = append(rc.verified, body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func status(code int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.WriteHeader(code) }
}

func fastSender() *Sender {
	return New(Config{Attempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second})
}

var secret = []byte("endpoint secret 1")

// TestReceiverVerifiesSignedCall: a call is delivered once and the
// receiver's Verify accepts its signature.
func TestReceiverVerifiesSignedCall(t *testing.T) {
	rc := newReceiver(t, secret)
	body := []byte(`{"digest":"weekly","count":3}`)
	res, err := fastSender().Send(context.Background(), Endpoint{URL: rc.srv.URL, Secret: secret}, body)
	if err != nil || res.Attempts != 1 || res.StatusCode != 200 {
		t.Fatalf("Send: %+v, %v", res, err)
	}
	if len(rc.verified) != 1 || string(rc.verified[0]) != string(body) || len(rc.failures) != 0 {
		t.Errorf("verified %q, failures %v", rc.verified, rc.failures)
	}
}

// TestWrongSecretIsRefused: a receiver with another secret refuses the
// call, and the sender does not retry the 401.
func TestWrongSecretIsRefused(t *testing.T) {
	rc := newReceiver(t, []byte("another secret"))
	res, err := fastSender().Send(context.Background(), Endpoint{URL: rc.srv.URL, Secret: secret}, []byte(`{}`))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || res.Attempts != 1 {
		t.Fatalf("Send: %+v, %v", res, err)
	}
	if len(rc.failures) != 1 || !errors.Is(rc.failures[0], ErrBadSignature) {
		t.Errorf("failures %v, want one bad signature", rc.failures)
	}
}

// TestVerifyRefusesTamperingAndReplays: changing a byte of the body, the
// timestamp, or the signature fails; a timestamp outside the tolerance
// (old or from the future) fails even with its right signature.
func TestVerifyRefusesTamperingAndReplays(t *testing.T) {
	body := []byte(`{"consultation":"c1","submissions":12}`)
	now := time.Now()
	ts := now.Unix()
	tsStr := strconv.FormatInt(ts, 10)
	sig := Sign(secret, ts, body)
	if err := Verify(secret, tsStr, body, sig, time.Minute); err != nil {
		t.Fatalf("the genuine call: %v", err)
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] = '3'
	old := now.Add(-10 * time.Minute).Unix()
	future := now.Add(10 * time.Minute).Unix()
	for name, c := range map[string]struct {
		ts   string
		body []byte
		sig  string
		want error
	}{
		"tampered body":                   {tsStr, tampered, sig, ErrBadSignature},
		"other timestamp, same signature": {strconv.FormatInt(ts-1, 10), body, sig, ErrBadSignature},
		"tampered signature":              {tsStr, body, sig[:len(sig)-1] + "0", ErrBadSignature},
		"no scheme":                       {tsStr, body, sig[len("v1="):], ErrBadSignature},
		"not hex":                         {tsStr, body, "v1=zz", ErrBadSignature},
		"old timestamp, signed":           {strconv.FormatInt(old, 10), body, Sign(secret, old, body), ErrBadTimestamp},
		"future timestamp, signed":        {strconv.FormatInt(future, 10), body, Sign(secret, future, body), ErrBadTimestamp},
		"no timestamp":                    {"", body, sig, ErrBadTimestamp},
		"other secret":                    {tsStr, body, Sign([]byte("x"), ts, body), ErrBadSignature},
	} {
		if err := Verify(secret, c.ts, c.body, c.sig, time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if sig[:3] != "v1=" || len(sig) != 3+64 {
		t.Errorf("signature %q, want v1= and 64 hex digits", sig)
	}
}

// TestServerErrorIsRetriedAndDeliveredOnce: a 500 is retried; the 200
// that follows ends the delivery, so the receiver has it once.
func TestServerErrorIsRetriedAndDeliveredOnce(t *testing.T) {
	rc := newReceiver(t, secret, status(http.StatusInternalServerError))
	res, err := fastSender().Send(context.Background(), Endpoint{URL: rc.srv.URL, Secret: secret}, []byte(`{"n":1}`))
	if err != nil || res.Attempts != 2 {
		t.Fatalf("Send: %+v, %v", res, err)
	}
	if rc.calls != 2 || len(rc.verified) != 1 {
		t.Errorf("%d calls, %d delivered; want 2 and 1", rc.calls, len(rc.verified))
	}
}

// TestClientErrorIsNotRetried: a 400 ends the delivery at once.
func TestClientErrorIsNotRetried(t *testing.T) {
	rc := newReceiver(t, secret, status(http.StatusBadRequest))
	res, err := fastSender().Send(context.Background(), Endpoint{URL: rc.srv.URL, Secret: secret}, []byte(`{}`))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || res.Attempts != 1 || rc.calls != 1 {
		t.Fatalf("Send: %+v, %v; %d calls", res, err, rc.calls)
	}
}

// TestRetryAfterIsHonoured: after a 429 with Retry-After: 1 the next
// attempt comes no sooner than a second later, though the backoff alone
// would wait milliseconds.
func TestRetryAfterIsHonoured(t *testing.T) {
	rc := newReceiver(t, secret, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	res, err := fastSender().Send(context.Background(), Endpoint{URL: rc.srv.URL, Secret: secret}, []byte(`{}`))
	if err != nil || res.Attempts != 2 || len(rc.verified) != 1 {
		t.Fatalf("Send: %+v, %v", res, err)
	}
	if gap := rc.times[1].Sub(rc.times[0]); gap < time.Second {
		t.Errorf("retried after %v, want at least the 1s Retry-After asked for", gap)
	}
}

// TestAttemptsRunOut: a receiver that keeps failing gets Attempts calls
// and the sender reports the last answer.
func TestAttemptsRunOut(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	res, err := fastSender().Send(context.Background(), Endpoint{URL: srv.URL, Secret: secret}, []byte(`{}`))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadGateway || res.Attempts != 4 || calls.Load() != 4 {
		t.Fatalf("Send: %+v, %v; %d calls", res, err, calls.Load())
	}
}

// TestAttemptTimeoutAndNetworkErrorsAreRetried: an attempt that hangs is
// cut by AttemptTimeout and retried; the next one succeeds.
func TestAttemptTimeoutAndNetworkErrorsAreRetried(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	defer close(release)
	s := New(Config{Attempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, AttemptTimeout: 100 * time.Millisecond})
	res, err := s.Send(context.Background(), Endpoint{URL: srv.URL, Secret: secret}, []byte(`{}`))
	if err != nil || res.Attempts != 2 || res.StatusCode != http.StatusNoContent {
		t.Fatalf("Send: %+v, %v", res, err)
	}
}

// TestContextEndsRetries: a cancelled context stops the waits between
// attempts.
func TestContextEndsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := fastSender().Send(ctx, Endpoint{URL: srv.URL, Secret: secret}, []byte(`{}`))
	if !errors.Is(err, context.DeadlineExceeded) || res.Attempts != 1 {
		t.Fatalf("Send: %+v, %v", res, err)
	}
}

// TestLargeResponseIsReadBounded: a receiver's long error answer is cut
// to maxResponseBytes in the error.
func TestLargeResponseIsReadBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		chunk := make([]byte, 64<<10)
		for range 100 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	_, err := fastSender().Send(context.Background(), Endpoint{URL: srv.URL, Secret: secret}, []byte(`{}`))
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("Send: %v, want a StatusError", err)
	}
	if len(se.Body) != maxResponseBytes {
		t.Errorf("the error holds %d bytes of the answer, want %d", len(se.Body), maxResponseBytes)
	}
}

// TestEmptySecretIsRefused: an endpoint without a secret sends nothing.
func TestEmptySecretIsRefused(t *testing.T) {
	rc := newReceiver(t, secret)
	if _, err := fastSender().Send(context.Background(), Endpoint{URL: rc.srv.URL}, []byte(`{}`)); err == nil || rc.calls != 0 {
		t.Fatalf("Send without a secret: %v, %d calls", err, rc.calls)
	}
}
