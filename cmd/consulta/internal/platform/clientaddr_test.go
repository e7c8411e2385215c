package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission"
)

// perIP is a per-IP limit of n submissions an hour, all at once; the
// per-email limit stays out of the way.
func perIP(n int) submission.Limits {
	return submission.Limits{
		PerIP:    submission.Limit{Name: "submissions per IP address", Rate: n, Per: time.Hour, Burst: n},
		PerEmail: submission.Limit{Name: "submissions per email address", Rate: 1000, Per: time.Hour, Burst: 1000},
	}
}

// restAnswer is the outcome of a REST call.
type restAnswer struct {
	code       int
	retryAfter string
	body       string
}

// postSubmissionFrom sends a submission to consultation id through the gateway
// at base with the extra headers.
func postSubmissionFrom(t *testing.T, base, id, key string, headers map[string]string) restAnswer {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"respondent": map[string]any{"stakeholderType": "academia", "country": "NL"}, "language": "es",
		"answers": []map[string]any{{"questionId": "q1", "text": "Una respuesta."}}, "idempotencyKey": key,
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/v1/consultations/"+id+"/submissions", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return restAnswer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return restAnswer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(raw)}
}

// grpcSubmit sends a submission over gRPC with the metadata md.
func grpcSubmit(conn *grpc.ClientConn, id string, md ...string) error {
	ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
	_, err := submissionv1.NewSubmissionServiceClient(conn).CreateSubmission(ctx, &submissionv1.CreateSubmissionRequest{
		ConsultationId: id, Language: "es", Answers: answer("Una respuesta."),
		Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "NL"},
	})
	return err
}

// TestForwardedAddressesNeedATrustedProxy: with no trusted proxy, a client
// that writes X-Forwarded-For, X-Real-IP, Forwarded or the gateway's own
// metadata (as a Grpc-Metadata- header) is still limited as its connection's
// address, and so is a gRPC caller that sets the client-address metadata
// itself. Nothing is written for the refused requests.
func TestForwardedAddressesNeedATrustedProxy(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) { c.DisableRateLimits, c.RateLimits = false, perIP(1) })
	id := openConsultationWith(t, h, nil)
	if a := postSubmissionFrom(t, h.base, id, "", map[string]string{"X-Forwarded-For": "198.51.100.1"}); a.code != http.StatusOK {
		t.Fatalf("first submission: %d %s", a.code, a.body)
	}
	for i, forged := range []map[string]string{
		{"X-Forwarded-For": "198.51.100.2"},
		{"X-Forwarded-For": "198.51.100.3, 198.51.100.4"},
		{"X-Real-Ip": "198.51.100.5"},
		{"Forwarded": "for=198.51.100.6"},
		{"Grpc-Metadata-X-Consulta-Client-Addr": "198.51.100.7"},
		{"Grpc-Metadata-X-Forwarded-For": "198.51.100.8"},
	} {
		forged := forged
		a := postSubmissionFrom(t, h.base, id, fmt.Sprintf("forged-0123456789abcdef-%d", i), forged)
		if a.code != http.StatusTooManyRequests || a.retryAfter == "" || !strings.Contains(a.body, "submissions per IP address") {
			t.Errorf("forged %v: %d (Retry-After %q) %s, want 429 naming the limit", forged, a.code, a.retryAfter, a.body)
		}
	}
	if err := grpcSubmit(h.grpcConn, id, "x-consulta-client-addr", "198.51.100.9", "x-forwarded-for", "198.51.100.10"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC caller with forged metadata: %v, want ResourceExhausted", err)
	}
	if n := countRows(t, h.pool, "submission.submissions"); n != 1 {
		t.Errorf("%d submissions written, want 1", n)
	}
}

// TestTrustedProxyNamesTheClient: behind a trusted proxy the client is the
// first X-Forwarded-For hop from the right that is not a trusted proxy, so
// clients have budgets of their own and what a client writes to the left of
// its own hop changes nothing. A direct gRPC caller is still its peer.
func TestTrustedProxyNamesTheClient(t *testing.T) {
	t.Parallel()
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	h := startPlatformWith(t, func(c *platformConfig) {
		c.DisableRateLimits, c.RateLimits, c.TrustedProxies = false, perIP(1), []netip.Prefix{loopback}
	})
	id := openConsultationWith(t, h, nil)
	for _, step := range []struct {
		xff  string
		want int
	}{
		{"203.0.113.1", http.StatusOK},
		{"198.51.100.9, 203.0.113.1", http.StatusTooManyRequests},
		{"203.0.113.1, 127.0.0.5", http.StatusTooManyRequests},
		{"203.0.113.2", http.StatusOK},
	} {
		if a := postSubmissionFrom(t, h.base, id, "", map[string]string{"X-Forwarded-For": step.xff}); a.code != step.want {
			t.Errorf("X-Forwarded-For %s: %d %s, want %d", step.xff, a.code, a.body, step.want)
		}
	}
	// The test's own gRPC connection comes from loopback too, but it is not
	// the gateway's: its metadata is ignored.
	if err := grpcSubmit(h.grpcConn, id, "x-consulta-client-addr", "203.0.113.3"); err != nil {
		t.Fatalf("first gRPC submission: %v", err)
	}
	if err := grpcSubmit(h.grpcConn, id, "x-consulta-client-addr", "203.0.113.4"); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second gRPC submission naming another client: %v, want ResourceExhausted", err)
	}
}

// TestGatewayInAnotherProcess: in microservices mode the services believe
// the client address only from the gateways CONSULTA_TRUSTED_GATEWAYS names.
func TestGatewayInAnotherProcess(t *testing.T) {
	t.Parallel()
	dbURL, natsURL, redisURL := testenv.DatabaseURL(t), testenv.NATS(t), testenv.RedisURL(t)
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg := platform.Config{
		Services:   []string{"consultation", "submission", "summary"},
		SigningKey: testSigningKey, RateLimits: perIP(1), TrustedGateways: loopback,
		DatabaseURL: dbURL, NATSURL: natsURL, RedisURL: redisURL,
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Auth:           auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience},
		JobQueuePrefix: testenv.UniqueName(t) + ":", Migrate: true,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	services := runProcess(t, cfg)
	gwCfg := cfg
	gwCfg.Services, gwCfg.TrustedGateways, gwCfg.TrustedProxies = []string{"gateway"}, nil, loopback
	gwCfg.ConsultationAddr, gwCfg.SubmissionAddr, gwCfg.SummaryAddr = services.GRPCAddr(), services.GRPCAddr(), services.GRPCAddr()
	gw := runProcess(t, gwCfg)

	conn, err := grpc.NewClient(services.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	h := &harness{t: t, base: "http://" + gw.HTTPAddr(), key: key, grpcConn: conn, pool: pool}
	id := openConsultationWith(t, h, nil)
	for _, step := range []struct {
		client string
		want   int
	}{{"203.0.113.1", http.StatusOK}, {"203.0.113.2", http.StatusOK}, {"203.0.113.1", http.StatusTooManyRequests}} {
		if a := postSubmissionFrom(t, h.base, id, "", map[string]string{"X-Forwarded-For": step.client}); a.code != step.want {
			t.Errorf("client %s: %d %s, want %d", step.client, a.code, a.body, step.want)
		}
	}
}

// TestIdempotentRetriesAreNeverLimited: 100 parallel REST retries of one
// request (one idempotency key) from one address, under a limit of two
// submissions an hour, all get the one submission or 409 "in progress",
// never 429. The key took one token: one more new submission passes, the
// next is limited.
func TestIdempotentRetriesAreNeverLimited(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) { c.DisableRateLimits, c.RateLimits = false, perIP(2) })
	id := openConsultationWith(t, h, nil)
	const n = 100
	answers := make([]restAnswer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = postSubmissionFrom(t, h.base, id, "retry-0193-4f7a9c2e81b5d6", nil)
		})
	}
	close(start)
	wg.Wait()
	ids := map[string]bool{}
	inProgress := 0
	for i, a := range answers {
		switch a.code {
		case http.StatusOK:
			var r struct {
				Submission struct{ ID string } `json:"submission"`
			}
			if err := json.Unmarshal([]byte(a.body), &r); err != nil || r.Submission.ID == "" {
				t.Errorf("attempt %d: %s (%v)", i, a.body, err)
			}
			ids[r.Submission.ID] = true
		case http.StatusConflict:
			if !strings.Contains(a.body, "in progress") {
				t.Errorf("attempt %d: 409 %s, want it to say the request is in progress", i, a.body)
			}
			inProgress++
		default:
			t.Errorf("attempt %d: %d %s", i, a.code, a.body)
		}
	}
	t.Logf("%d answered with the submission, %d told it is in progress", n-inProgress, inProgress)
	if len(ids) > 1 || countRows(t, h.pool, "submission.submissions") != 1 {
		t.Errorf("submissions answered %v, %d written; want one", ids, countRows(t, h.pool, "submission.submissions"))
	}
	if a := postSubmissionFrom(t, h.base, id, "retry-0193-4f7a9c2e81b5d6", nil); a.code != http.StatusOK {
		t.Errorf("a retry afterwards: %d %s", a.code, a.body)
	}
	if a := postSubmissionFrom(t, h.base, id, "another-key-7e3b90c1a5d2f8", nil); a.code != http.StatusOK {
		t.Errorf("a second submission: %d %s", a.code, a.body)
	}
	if a := postSubmissionFrom(t, h.base, id, "a-third-key-2c8f41e7b9a3d0", nil); a.code != http.StatusTooManyRequests {
		t.Errorf("a third submission: %d %s, want 429", a.code, a.body)
	}
}

var retryIn = regexp.MustCompile(`retry in ([0-9hms.]+)`)

// TestRetryAfterIsTheLimitersWait: a 429 says in Retry-After how long the
// limiter makes the client wait, in whole seconds rounded up: the wait its
// message gives, close to an hour under a limit of one an hour.
func TestRetryAfterIsTheLimitersWait(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) { c.DisableRateLimits, c.RateLimits = false, perIP(1) })
	id := openConsultationWith(t, h, nil)
	if a := postSubmissionFrom(t, h.base, id, "", nil); a.code != http.StatusOK {
		t.Fatalf("first: %d %s", a.code, a.body)
	}
	a := postSubmissionFrom(t, h.base, id, "", nil)
	if a.code != http.StatusTooManyRequests {
		t.Fatalf("second: %d %s, want 429", a.code, a.body)
	}
	secs, err := strconv.Atoi(a.retryAfter)
	if err != nil {
		t.Fatalf("Retry-After %q: %v", a.retryAfter, err)
	}
	m := retryIn.FindStringSubmatch(a.body)
	if m == nil {
		t.Fatalf("the message gives no wait: %s", a.body)
	}
	wait, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(secs)*time.Second != wait || secs <= 3500 || secs > 3600 {
		t.Errorf("Retry-After %d s, message says %s; want the same, just under an hour", secs, wait)
	}
}
