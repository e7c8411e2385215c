package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FailOpen is a Limiter that lets requests through while Redis cannot be
// reached. Rate limits protect the intake from abuse; refusing every
// submission because the limits' store is down would be the outage the
// limits exist to prevent. Each request let through this way is counted
// (consulta_ratelimit_failopen_total) and a warning is logged at most once
// per LogEvery, naming the limit and the error, never the key (an IP or
// email address).
type FailOpen struct {
	lim      *Limiter
	log      *slog.Logger
	logEvery time.Duration
	counter  *prometheus.CounterVec

	mu         sync.Mutex
	lastLog    time.Time
	suppressed int
}

// DefaultLogEvery is how often FailOpen logs while Redis stays unreachable.
const DefaultLogEvery = time.Minute

// NewFailOpen wraps lim. reg, when not nil, receives the counter.
func NewFailOpen(lim *Limiter, log *slog.Logger, reg prometheus.Registerer) *FailOpen {
	if log == nil {
		log = slog.Default()
	}
	f := &FailOpen{lim: lim, log: log, logEvery: DefaultLogEvery,
		counter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "consulta", Subsystem: "ratelimit", Name: "failopen_total",
			Help: "Requests allowed without a rate-limit check because Redis could not be reached.",
		}, []string{"limit"})}
	if reg != nil {
		if err := reg.Register(f.counter); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					f.counter = existing
				}
			}
		}
	}
	return f
}

// Allow is Limiter.Allow, except that a failure to reach Redis allows the
// request. A refusal (*Exceeded), an invalid limit and the caller's own
// cancellation are returned as they are.
func (f *FailOpen) Allow(ctx context.Context, l Limit, key string) error {
	err := f.lim.Allow(ctx, l, key)
	if err == nil {
		return nil
	}
	var exceeded *Exceeded
	if errors.As(err, &exceeded) || ctx.Err() != nil {
		return err
	}
	if _, _, invalid := l.interval(); invalid != nil {
		return err
	}
	f.counter.WithLabelValues(l.Name).Inc()
	f.warn(ctx, l, err)
	return nil
}

// warn logs one line per logEvery, with the number of requests let through
// since the last line.
func (f *FailOpen) warn(ctx context.Context, l Limit, err error) {
	f.mu.Lock()
	now := time.Now()
	if !f.lastLog.IsZero() && now.Sub(f.lastLog) < f.logEvery {
		f.suppressed++
		f.mu.Unlock()
		return
	}
	suppressed := f.suppressed
	f.lastLog, f.suppressed = now, 0
	f.mu.Unlock()
	f.log.WarnContext(ctx, "rate limits not enforced: Redis unreachable, allowing requests",
		"limit", l.Name, "allowed_unchecked_since_last_warning", suppressed, "err", err)
}
