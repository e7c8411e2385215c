package ratelimit

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a manual clock for Limiter.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setup returns a Limiter on the test Redis under a prefix of this test's
// own, the client, and the prefix. The test's keys are deleted at the end.
func setup(t *testing.T) (*Limiter, *redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	prefix := testenv.UniqueName(t)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+":*").Result()
		if err == nil && len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return New(rdb, prefix), rdb, prefix
}

// withClock sets a manual clock on lim.
func withClock(lim *Limiter) *clock {
	c := &clock{now: time.Now().UTC()} // Redis expires keys by the real clock
	lim.Now = c.Now
	return c
}

// allowed calls Allow n times and returns how many were allowed, failing on
// any error other than *Exceeded.
func allowed(t *testing.T, lim *Limiter, l Limit, key string, n int) int {
	t.Helper()
	ok := 0
	for range n {
		err := lim.Allow(t.Context(), l, key)
		var ex *Exceeded
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &ex):
			t.Fatalf("Allow: %v", err)
		}
	}
	return ok
}

func TestBurstThenRefusal(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	withClock(lim)
	l := Limit{Name: "burst", Rate: 1, Per: time.Hour, Burst: 3}
	if got := allowed(t, lim, l, "203.0.113.7", 5); got != 3 {
		t.Fatalf("%d of 5 allowed at once, want the burst of 3", got)
	}
}

func TestZeroBurstIsOne(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	withClock(lim)
	l := Limit{Name: "no burst", Rate: 100, Per: time.Hour}
	if got := allowed(t, lim, l, "k", 3); got != 1 {
		t.Fatalf("%d of 3 allowed at once with Burst 0, want 1", got)
	}
}

func TestRefill(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	clk := withClock(lim)
	l := Limit{Name: "refill", Rate: 10, Per: time.Second, Burst: 2} // one per 100ms
	if got := allowed(t, lim, l, "k", 3); got != 2 {
		t.Fatalf("%d of 3 allowed at once, want 2", got)
	}
	clk.Advance(99 * time.Millisecond)
	if got := allowed(t, lim, l, "k", 1); got != 0 {
		t.Fatalf("allowed after 99ms, want a refusal until 100ms")
	}
	clk.Advance(time.Millisecond)
	if got := allowed(t, lim, l, "k", 2); got != 1 {
		t.Fatalf("%d of 2 allowed after one interval, want 1", got)
	}
	clk.Advance(time.Second) // full again, and no more than the burst
	if got := allowed(t, lim, l, "k", 3); got != 2 {
		t.Fatalf("%d of 3 allowed after a quiet second, want the burst of 2", got)
	}
}

// TestRefillServerClock runs without Limiter.Now: the script reads Redis's
// TIME. The interval (one token a second) is long next to the time three
// calls take on a loaded machine, so the burst is all that is allowed at once.
func TestRefillServerClock(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	l := Limit{Name: "server clock", Rate: 1, Per: time.Second, Burst: 2}
	if got := allowed(t, lim, l, "k", 3); got != 2 {
		t.Fatalf("%d of 3 allowed at once, want 2", got)
	}
	err := lim.Allow(t.Context(), l, "k")
	var ex *Exceeded
	if !errors.As(err, &ex) {
		t.Fatalf("Allow = %v, want *Exceeded", err)
	}
	if ex.RetryAfter <= 0 || ex.RetryAfter > time.Second {
		t.Fatalf("RetryAfter = %v, want in (0, 1s]", ex.RetryAfter)
	}
	time.Sleep(ex.RetryAfter + 10*time.Millisecond)
	if got := allowed(t, lim, l, "k", 1); got != 1 {
		t.Fatalf("refused after waiting RetryAfter")
	}
}

func TestIndependentKeysAndLimits(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	withClock(lim)
	perIP := Limit{Name: "submissions per IP", Rate: 1, Per: time.Hour, Burst: 2}
	perEmail := Limit{Name: "submissions per email", Rate: 1, Per: time.Hour, Burst: 2}
	for _, c := range []struct {
		l   Limit
		key string
	}{{perIP, "198.51.100.1"}, {perIP, "198.51.100.2"}, {perEmail, "198.51.100.1"}, {perEmail, "ana@example.org"}} {
		if got := allowed(t, lim, c.l, c.key, 3); got != 2 {
			t.Errorf("%s, %s: %d of 3 allowed, want 2", c.l.Name, c.key, got)
		}
	}
}

func TestEmailsNormalised(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	withClock(lim)
	l := Limit{Name: "per email", Rate: 1, Per: time.Hour, Burst: 1}
	if err := lim.Allow(t.Context(), l, "Ana.Silva@Example.ORG"); err != nil {
		t.Fatal(err)
	}
	var ex *Exceeded
	if err := lim.Allow(t.Context(), l, "  ana.silva@example.org\n"); !errors.As(err, &ex) {
		t.Fatalf("same address in other case and with spaces: Allow = %v, want *Exceeded", err)
	}
}

// TestConcurrentCallers checks that callers racing on one key never get
// more than the burst between them.
func TestConcurrentCallers(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	l := Limit{Name: "concurrent", Rate: 1, Per: time.Hour, Burst: 10}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			err := lim.Allow(t.Context(), l, "192.0.2.44")
			var ex *Exceeded
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ex):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 40 {
		t.Fatalf("%d allowed, %d refused; want 10 and 40", ok.Load(), refused.Load())
	}
}

func TestExceededError(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	clk := withClock(lim)
	l := Limit{Name: "submissions per IP", Rate: 20, Per: time.Hour, Burst: 5}
	if got := allowed(t, lim, l, "203.0.113.9", 5); got != 5 {
		t.Fatalf("%d of the burst of 5 allowed", got)
	}
	clk.Advance(time.Second)
	err := lim.Allow(t.Context(), l, "203.0.113.9")
	var ex *Exceeded
	if !errors.As(err, &ex) {
		t.Fatalf("Allow = %v, want *Exceeded", err)
	}
	if ex.Name != "submissions per IP" {
		t.Errorf("Name = %q", ex.Name)
	}
	if want := 3*time.Minute - time.Second; ex.RetryAfter != want {
		t.Errorf("RetryAfter = %v, want %v", ex.RetryAfter, want)
	}
	const want = `rate limit "submissions per IP" exceeded: 20 per 1h; retry in 2m59s`
	if err.Error() != want {
		t.Errorf("error = %q\nwant      %q", err, want)
	}

	// Wrapped on its way out, it is still a ResourceExhausted status.
	st, ok := status.FromError(errors.Join(errors.New("submit"), err))
	if !ok || st.Code() != codes.ResourceExhausted {
		t.Fatalf("status = %v, %v; want ResourceExhausted", st, ok)
	}
	var retry *errdetails.RetryInfo
	var quota *errdetails.QuotaFailure
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.QuotaFailure:
			quota = d
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != 3*time.Minute-time.Second {
		t.Errorf("RetryInfo = %v, want 2m59s", retry)
	}
	if quota == nil || len(quota.GetViolations()) != 1 || quota.GetViolations()[0].GetSubject() != "submissions per IP" {
		t.Errorf("QuotaFailure = %v, want the limit's name", quota)
	}
}

func TestErrorRoundsUp(t *testing.T) {
	cases := []struct {
		l    Limit
		wait time.Duration
		want string
	}{
		{Limit{Name: "a", Rate: 20, Per: time.Hour}, 3*time.Minute - 300*time.Microsecond, `rate limit "a" exceeded: 20 per 1h; retry in 3m`},
		{Limit{Name: "b", Rate: 10, Per: 200 * time.Millisecond}, 12345 * time.Microsecond, `rate limit "b" exceeded: 10 per 200ms; retry in 13ms`},
		{Limit{Name: "c", Rate: 3, Per: 90 * time.Minute}, 61 * time.Minute, `rate limit "c" exceeded: 3 per 1h30m; retry in 1h1m`},
		{Limit{Name: "d", Rate: 1000, Per: 24 * time.Hour}, 1500 * time.Millisecond, `rate limit "d" exceeded: 1000 per 24h; retry in 2s`},
	}
	for _, c := range cases {
		if got := (&Exceeded{Limit: c.l, RetryAfter: c.wait}).Error(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// TestKeysHashedAndExpiring checks that what Redis holds names neither the
// IP address nor the email address, and expires.
func TestKeysHashedAndExpiring(t *testing.T) {
	t.Parallel()
	lim, rdb, prefix := setup(t)
	withClock(lim)
	l := Limit{Name: "Submissions per email", Rate: 20, Per: time.Hour, Burst: 5}
	raw := []string{"Ana.Silva@Example.org", "2001:db8::1", "198.51.100.23"}
	for _, k := range raw {
		if err := lim.Allow(t.Context(), l, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := rdb.Keys(t.Context(), prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(raw) {
		t.Fatalf("keys = %q, want %d", keys, len(raw))
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+":submissions_per_email:") {
			t.Errorf("key %q does not start with %q", k, prefix+":submissions_per_email:")
		}
		v, err := rdb.Get(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			for _, s := range []string{r, strings.ToLower(r), "ana", "silva", "example", "198.51", "2001"} {
				if strings.Contains(strings.ToLower(k), s) || strings.Contains(v, s) {
					t.Errorf("key %q = %q contains %q", k, v, s)
				}
			}
		}
		ttl, err := rdb.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		// One request of a 20-per-hour budget: full again in 3 minutes.
		if ttl <= 0 || ttl > 3*time.Minute {
			t.Errorf("key %q expires in %v, want in (0, 3m]", k, ttl)
		}
	}
}

func TestInvalidLimit(t *testing.T) {
	t.Parallel()
	lim, _, _ := setup(t)
	for _, l := range []Limit{
		{Rate: 1, Per: time.Second},
		{Name: "zero rate", Per: time.Second},
		{Name: "zero period", Rate: 1},
		{Name: "negative burst", Rate: 1, Per: time.Second, Burst: -1},
		{Name: "too fast", Rate: 2000, Per: time.Millisecond},
	} {
		err := lim.Allow(t.Context(), l, "k")
		var ex *Exceeded
		if err == nil || errors.As(err, &ex) {
			t.Errorf("%+v: Allow = %v, want an error that is not *Exceeded", l, err)
		}
	}
}

func TestNewFromURL(t *testing.T) {
	t.Parallel()
	if _, err := NewFromURL("http://nowhere", "x"); err == nil {
		t.Error("NewFromURL(http://...) = nil error")
	}
	lim, err := NewFromURL(testenv.RedisURL(t), testenv.UniqueName(t))
	if err != nil {
		t.Fatal(err)
	}
	defer lim.Close()
	// A limit over in a millisecond, so the key is gone by itself.
	if err := lim.Allow(t.Context(), Limit{Name: "from url", Rate: 1, Per: time.Millisecond}, "k"); err != nil {
		t.Fatal(err)
	}
}

// TestRedisDown checks that a caller can tell Redis being away from a
// refusal, to stay open.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	err := New(rdb, "down").Allow(t.Context(), Limit{Name: "down", Rate: 1, Per: time.Second}, "k")
	var ex *Exceeded
	if err == nil || errors.As(err, &ex) {
		t.Fatalf("Allow with Redis down = %v, want an error that is not *Exceeded", err)
	}
	t.Log(err)
}

func TestIPKey(t *testing.T) {
	cases := map[string]string{
		"203.0.113.7":                   "203.0.113.7",
		"::ffff:203.0.113.7":            "203.0.113.7",
		"2001:db8:1:2:aaaa:bbbb:cccc:1": "2001:db8:1:2::/64",
		"2001:db8:1:2::ffff":            "2001:db8:1:2::/64",
		"fe80::1%eth0":                  "fe80::/64",
	}
	for in, want := range cases {
		if got := IPKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("IPKey(%s) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkAllow measures one check, a round trip to Redis, from parallel
// callers on one key.
func BenchmarkAllow(b *testing.B) {
	opts, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	lim := New(rdb, testenv.UniqueName(b))
	l := Limit{Name: "bench", Rate: 1_000_000, Per: time.Second, Burst: 1_000_000}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var ex *Exceeded
			if err := lim.Allow(context.Background(), l, "198.51.100.1"); err != nil && !errors.As(err, &ex) {
				b.Error(err)
			}
		}
	})
}
