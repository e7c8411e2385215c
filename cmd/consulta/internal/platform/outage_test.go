package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// postSubmission posts a submission over REST with an idempotency key and
// returns the status and the Retry-After header.
func postSubmission(t *testing.T, h *harness, consultationID, key string) (int, string, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"respondent":     map[string]any{"stakeholderType": "academia", "country": "NL"},
		"language":       "es",
		"answers":        []map[string]any{{"questionId": "q1", "text": "Propuesta."}},
		"idempotencyKey": key,
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(h.base+"/v1/consultations/"+consultationID+"/submissions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(raw)
}

// TestRedisOutageDoesNotStopTheIntake: with Redis unreachable, the rate
// limits fail open and a submission is accepted.
func TestRedisOutageDoesNotStopTheIntake(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) {
		// Every service, the worker too, whose jobs wait for Redis: the
		// intake must not.
		c.RedisURL = "redis://" + closedAddr(t) + "/0"
		c.DisableRateLimits = false
	})
	id := openConsultationWith(t, h, nil)
	for i, key := range []string{"first-key-5be1c0a9d8f7e6", "second-key-4ad2b1c0e9f8d7"} {
		if code, _, body := postSubmission(t, h, id, key); code != http.StatusOK {
			t.Fatalf("submission %d with Redis down: %d %s", i+1, code, body)
		}
	}
	if n := countRows(t, h.pool, "submission.submissions"); n != 2 {
		t.Fatalf("%d submissions stored, want 2", n)
	}
}

// TestPostgresOutageAnswersUnavailable: while the database refuses
// connections, a submission answers 503 with Retry-After (not 500); once it
// is back, the same request with the same idempotency key succeeds, once.
func TestPostgresOutageAnswersUnavailable(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	id := openConsultationWith(t, h, nil)
	ctx := context.Background()

	var db string
	if err := h.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	// An administrative connection to another database of the same server,
	// to take this one down and bring it back.
	u, err := url.Parse(h.pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	restore := func() {
		if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` ALLOW_CONNECTIONS true`); err != nil {
			t.Error(err)
		}
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	defer restore()
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, db); err != nil {
		t.Fatal(err)
	}

	code, retryAfter, body := postSubmission(t, h, id, "outage-key-3c9e8d7f6a5b4c")
	if code != http.StatusServiceUnavailable || retryAfter != "2" {
		t.Fatalf("with the database down: %d, Retry-After %q, %s; want 503 with Retry-After 2", code, retryAfter, body)
	}

	restore()
	var first string
	eventually(t, 15*time.Second, "the submission is accepted once the database is back", func() error {
		code, _, body := postSubmission(t, h, id, "outage-key-3c9e8d7f6a5b4c")
		if code != http.StatusOK {
			return errStatus(code, body)
		}
		first = body
		return nil
	})
	h.pool.Reset() // its connections were terminated with the others
	code, _, again := postSubmission(t, h, id, "outage-key-3c9e8d7f6a5b4c")
	if code != http.StatusOK || !sameSubmission(t, first, again) {
		t.Fatalf("retry with the same key: %d %s; want the first submission", code, again)
	}
	if n := countRows(t, h.pool, "submission.submissions"); n != 1 {
		t.Fatalf("%d submissions stored, want 1", n)
	}
}

type statusErr struct {
	code int
	body string
}

func (e statusErr) Error() string { return http.StatusText(e.code) + ": " + e.body }

func errStatus(code int, body string) error { return statusErr{code, body} }

func sameSubmission(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y struct {
		Submission struct{ ID string } `json:"submission"`
	}
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return x.Submission.ID != "" && x.Submission.ID == y.Submission.ID
}
