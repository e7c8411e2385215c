// Package ratelimit limits how often something may happen per key (per IP
// address, per email address), with its state in Redis so that every replica
// of a service shares one budget.
//
// The algorithm is the generic cell rate algorithm (GCRA): for each key Redis
// holds one number, the theoretical arrival time (TAT) of the next request
// were requests to arrive exactly at the limit's rate. A request is allowed
// when it does not arrive earlier than the TAT minus the burst tolerance, and
// then pushes the TAT one emission interval (Per/Rate) further. The check and
// the update are one Lua script, run with EVALSHA (EVAL the first time a
// server sees it), so each Allow is a single atomic round trip however many
// replicas call at once.
//
// # Personal data
//
// Keys are IP addresses and email addresses, which are personal data. They
// never reach Redis in clear: Allow trims and lower-cases the key (so
// "Ana@Example.org " and "ana@example.org" share one budget), then stores it
// as a truncated SHA-256 of the limit's name and the key. An email address
// kept in Redis would be personal data outside the submission schema, out of
// reach of the erasure and retention rules that govern it. Every Redis key
// expires once its budget is full again (at most Per after the last request),
// so nothing outlives the window it is needed for.
//
// A hash without a secret is pseudonymous, not anonymous: the IPv4 space is
// small enough to hash whole, and a known email address can be checked
// against the stored hashes. What the hash buys is that Redis, its dumps and
// its monitoring never show an address, and that the hashes vanish within
// Per.
//
// # Clock
//
// By default the script reads the Redis server's clock (TIME), so replicas
// with skewed clocks still agree. Limiter.Now overrides it, for tests.
package ratelimit

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Limit is a rate: at most Rate requests per Per on average, with up to
// Burst requests at once after a quiet spell. For example
// {Name: "submissions per IP", Rate: 20, Per: time.Hour, Burst: 5} allows
// five submissions straight away and then one every three minutes.
type Limit struct {
	// Name says which limit was hit, in errors shown to the caller. It also
	// keeps limits apart in Redis: two Limits with one Name share budgets.
	Name string
	Rate int
	Per  time.Duration
	// Burst is how many requests may arrive at once. Zero means 1: no
	// burst beyond the steady rate.
	Burst int
}

// interval returns the emission interval Per/Rate and the burst tolerance
// (Burst-1) intervals, in microseconds, the unit of the script.
func (l Limit) interval() (interval, tolerance int64, err error) {
	switch {
	case l.Name == "":
		return 0, 0, errors.New("limit has no name")
	case l.Rate <= 0:
		return 0, 0, fmt.Errorf("limit %q: rate %d is not positive", l.Name, l.Rate)
	case l.Per <= 0:
		return 0, 0, fmt.Errorf("limit %q: period %v is not positive", l.Name, l.Per)
	case l.Burst < 0:
		return 0, 0, fmt.Errorf("limit %q: burst %d is negative", l.Name, l.Burst)
	}
	interval = l.Per.Microseconds() / int64(l.Rate)
	if interval < 1 {
		return 0, 0, fmt.Errorf("limit %q: %d per %v is more than one per microsecond", l.Name, l.Rate, l.Per)
	}
	return interval, interval * int64(max(l.Burst, 1)-1), nil
}

// String reads "20 per 1h".
func (l Limit) String() string {
	return fmt.Sprintf("%d per %s", l.Rate, shortDuration(l.Per))
}

// Exceeded is the error of a refused request. Use errors.As to get it; its
// Name is the limit's.
type Exceeded struct {
	Limit
	// RetryAfter is how long until the key may make one more request under
	// this limit.
	RetryAfter time.Duration
}

// Error reads: rate limit "submissions per IP" exceeded: 20 per 1h; retry in
// 2m59s. The wait is rounded up to the second (to the millisecond below a
// second), so a caller who waits that long is allowed.
func (e *Exceeded) Error() string {
	wait := e.RetryAfter
	if wait >= time.Second {
		wait = ceil(wait, time.Second)
	} else {
		wait = ceil(wait, time.Millisecond)
	}
	return fmt.Sprintf("rate limit %q exceeded: %s; retry in %s", e.Limit.Name, e.Limit, shortDuration(wait))
}

// GRPCStatus makes a refusal a codes.ResourceExhausted status with a
// google.rpc.RetryInfo and a google.rpc.QuotaFailure naming the limit, so
// that it crosses the gRPC edge (and grpc-gateway, as HTTP 429) with no
// translation.
func (e *Exceeded) GRPCStatus() *status.Status {
	st := status.New(codes.ResourceExhausted, e.Error())
	withDetails, err := st.WithDetails(
		&errdetails.RetryInfo{RetryDelay: durationpb.New(ceil(e.RetryAfter, time.Second))},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     e.Limit.Name,
			Description: e.Limit.String(),
		}}},
	)
	if err != nil {
		return st
	}
	return withDetails
}

// Limiter checks limits against Redis. It is safe for concurrent use.
type Limiter struct {
	client redis.UniversalClient
	prefix string
	owned  bool // the client is ours to close

	// Now, when set, is the clock the script uses instead of the Redis
	// server's. Set it before the first Allow; tests use it to move time
	// without sleeping. Every replica sharing keys must use the same clock.
	Now func() time.Time
}

// New returns a Limiter whose Redis keys start with prefix and a colon
// ("consulta:ratelimit:..."); tests use a unique prefix. The caller keeps
// ownership of client.
func New(client redis.UniversalClient, prefix string) *Limiter {
	if prefix == "" {
		prefix = "ratelimit"
	}
	return &Limiter{client: client, prefix: prefix}
}

// NewFromURL is New with a client of its own on redisURL
// (redis://[:password@]host:port[/db]); Close closes it.
func NewFromURL(redisURL, prefix string) (*Limiter, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis url: %w", err)
	}
	lim := New(redis.NewClient(opts), prefix)
	lim.owned = true
	return lim, nil
}

// Close closes the Redis client if the Limiter made it (NewFromURL).
func (lim *Limiter) Close() error {
	if !lim.owned {
		return nil
	}
	if err := lim.client.Close(); err != nil {
		return fmt.Errorf("ratelimit: close: %w", err)
	}
	return nil
}

//go:embed gcra.lua
var gcraSource string

var gcra = redis.NewScript(gcraSource)

// Allow takes one request from key's budget under l. It returns nil when the
// request is allowed, a *Exceeded when it is refused, and any other error
// when l is invalid or Redis cannot be reached; a caller that prefers to
// stay open while Redis is down treats only *Exceeded as a refusal.
func (lim *Limiter) Allow(ctx context.Context, l Limit, key string) error {
	interval, tolerance, err := l.interval()
	if err != nil {
		return fmt.Errorf("ratelimit: %w", err)
	}
	now := int64(-1) // the script asks Redis
	if lim.Now != nil {
		now = lim.Now().UnixMicro()
	}
	res, err := gcra.Run(ctx, lim.client, []string{lim.redisKey(l.Name, key)}, interval, tolerance, now).Int64Slice()
	if err != nil {
		return fmt.Errorf("ratelimit: %s: %w", l.Name, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("ratelimit: %s: script returned %v", l.Name, res)
	}
	if res[0] == 1 {
		return nil
	}
	return &Exceeded{Limit: l, RetryAfter: time.Duration(res[1]) * time.Microsecond}
}

// redisKey is prefix:name:hash, where name is the limit's name in lower case
// with runs of other characters than letters and digits as one underscore
// (readable in redis-cli), and hash is the first 128 bits of the SHA-256 of
// the name and the normalised key, in hex.
func (lim *Limiter) redisKey(name, key string) string {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(NormalizeKey(key)))
	sum := h.Sum(nil)
	return lim.prefix + ":" + slug(name) + ":" + hex.EncodeToString(sum[:16])
}

// NormalizeKey is what Allow does to a key before hashing it: surrounding
// white space trimmed, letters lower-cased. Email addresses that differ only
// in case share a budget; so do IPv6 addresses written in either case.
func NormalizeKey(key string) string {
	return strings.ToLower(strings.TrimSpace(key))
}

// IPKey returns the key under which to limit requests from ip: the address
// itself for IPv4 (an IPv4-mapped IPv6 address counts as its IPv4
// address), and the /64 network for IPv6, because one IPv6 subscriber is
// usually given a whole /64 and could otherwise take a new budget with every
// address in it.
func IPKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, err := ip.WithZone("").Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}

func slug(name string) string {
	var b strings.Builder
	underscore := true // no leading underscore
	for _, r := range strings.ToLower(name) {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	s := strings.TrimRight(b.String(), "_")
	if s == "" {
		return "limit"
	}
	return s
}

// ceil rounds d up to a multiple of unit.
func ceil(d, unit time.Duration) time.Duration {
	if r := d % unit; r > 0 {
		return d - r + unit
	}
	return d
}

// shortDuration is d.String() without zero trailing units: "1h", "1h30m",
// "2m59s", "200ms".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
