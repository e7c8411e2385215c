package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/consulta-platform/consulta/pkg/ratelimit"
)

// TestRetryAfterOnEvery429: every 429 (and 503) carries Retry-After: the
// limiter's wait rounded up to whole seconds, so that a client that waits
// that long is let through; a second when the status says nothing.
func TestRetryAfterOnEvery429(t *testing.T) {
	withRetry := func(c codes.Code, d time.Duration) error {
		st, err := status.New(c, "wait").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	limit := ratelimit.Limit{Name: "submissions per IP address", Rate: 30, Per: time.Hour, Burst: 10}
	cases := []struct {
		name       string
		err        error
		code       int
		retryAfter string
	}{
		{"limiter, 1.5 s", (&ratelimit.Exceeded{Limit: limit, RetryAfter: 1500 * time.Millisecond}).GRPCStatus().Err(), 429, "2"},
		{"limiter, 119.000001 s", (&ratelimit.Exceeded{Limit: limit, RetryAfter: 119*time.Second + time.Microsecond}).GRPCStatus().Err(), 429, "120"},
		{"limiter, 300 ms", (&ratelimit.Exceeded{Limit: limit, RetryAfter: 300 * time.Millisecond}).GRPCStatus().Err(), 429, "1"},
		{"retry info, whole seconds", withRetry(codes.ResourceExhausted, 7*time.Second), 429, "7"},
		{"retry info, a fraction", withRetry(codes.ResourceExhausted, 2*time.Second+time.Millisecond), 429, "3"},
		{"429 without retry info", status.Error(codes.ResourceExhausted, "too much"), 429, "1"},
		{"503 without retry info", status.Error(codes.Unavailable, "down"), 503, "1"},
		{"503 with retry info", withRetry(codes.Unavailable, 5*time.Second), 503, "5"},
		{"400", status.Error(codes.InvalidArgument, "bad"), 400, ""},
	}
	mux := runtime.NewServeMux()
	for _, c := range cases {
		w := httptest.NewRecorder()
		errorHandler(context.Background(), mux, &runtime.JSONPb{}, w, httptest.NewRequest(http.MethodPost, "/v1/x", nil), c.err)
		if w.Code != c.code || w.Header().Get("Retry-After") != c.retryAfter {
			t.Errorf("%s: %d with Retry-After %q, want %d with %q", c.name, w.Code, w.Header().Get("Retry-After"), c.code, c.retryAfter)
		}
	}
}
