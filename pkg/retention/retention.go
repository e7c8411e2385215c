// Package retention deletes what a service's schema no longer needs: outbox
// rows long since published and inbox rows of events that can no longer be
// redelivered. Without it both tables grow with every event forever.
//
// It runs periodically in every process that runs a service with a schema
// (several replicas may run it at once: each delete is a small batch by
// primary key, and a row deleted by another replica is simply not found).
package retention

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/outbox"
)

// Defaults. The outbox keeps published rows a week: far past JetStream's
// duplicate window (a republish after that would be a new message, so the
// row must not be republished, and nothing republishes a published row),
// and long enough to answer "was this event published, when?". The inbox
// keeps rows 30 days: an event can be redelivered only while the stream
// holds it and a consumer has not acknowledged it; a consumer that is down
// longer than that has bigger problems, and the stream's own retention
// (MaxAge) should be no longer than this.
const (
	DefaultOutboxRetention = 7 * 24 * time.Hour
	DefaultInboxRetention  = 30 * 24 * time.Hour
	DefaultInterval        = time.Hour
	DefaultBatchSize       = 1000
)

// Config says what to prune and when.
type Config struct {
	Pool *pgxpool.Pool
	// Schema is the service schema; it always has an inbox.
	Schema string
	// Outbox is whether the schema also has an outbox.
	Outbox bool
	// OutboxRetention is how long published outbox rows are kept.
	OutboxRetention time.Duration
	// InboxRetention is how long inbox rows are kept.
	InboxRetention time.Duration
	// Interval is the time between two prunings; the first runs at start.
	Interval time.Duration
	// BatchSize bounds the rows one DELETE removes.
	BatchSize int
	// Now is the clock; time.Now when nil.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) defaults() {
	if c.OutboxRetention <= 0 {
		c.OutboxRetention = DefaultOutboxRetention
	}
	if c.InboxRetention <= 0 {
		c.InboxRetention = DefaultInboxRetention
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Pruned counts the rows one Prune deleted.
type Pruned struct {
	Outbox, Inbox int64
}

// Prune deletes, once, the outbox rows published more than OutboxRetention
// ago and the inbox rows recorded more than InboxRetention ago.
func Prune(ctx context.Context, cfg Config) (Pruned, error) {
	cfg.defaults()
	var p Pruned
	var err error
	now := cfg.Now()
	if cfg.Outbox {
		if p.Outbox, err = outbox.Prune(ctx, cfg.Pool, cfg.Schema, now.Add(-cfg.OutboxRetention), cfg.BatchSize); err != nil {
			return p, err
		}
	}
	p.Inbox, err = inbox.Prune(ctx, cfg.Pool, cfg.Schema, now.Add(-cfg.InboxRetention), cfg.BatchSize)
	return p, err
}

// Run prunes at start and then every Interval until ctx is cancelled. A
// failed pruning is logged and tried again at the next interval.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	log := cfg.Logger.With("component", "retention", "schema", cfg.Schema)
	var deleted *prometheus.CounterVec
	if cfg.Registerer != nil {
		deleted = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "consulta", Subsystem: "retention", Name: "pruned_rows_total",
			Help: "Outbox and inbox rows deleted because they are past their retention.",
		}, []string{"schema", "table"})
		if err := cfg.Registerer.Register(deleted); err != nil {
			// Another schema's pruner in this process registered it first.
			var are prometheus.AlreadyRegisteredError
			cv, ok := (*prometheus.CounterVec)(nil), false
			if errors.As(err, &are) {
				cv, ok = are.ExistingCollector.(*prometheus.CounterVec)
			}
			if ok {
				deleted = cv
			} else {
				log.Warn("retention: register metric", "err", err)
				deleted = nil
			}
		}
	}
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		p, err := Prune(ctx, cfg)
		if deleted != nil && p.Outbox+p.Inbox > 0 {
			deleted.WithLabelValues(cfg.Schema, "outbox").Add(float64(p.Outbox))
			deleted.WithLabelValues(cfg.Schema, "inbox").Add(float64(p.Inbox))
		}
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "retention: pruning failed, retrying at the next interval", "err", err)
		case p.Outbox+p.Inbox > 0:
			log.InfoContext(ctx, "retention: pruned", "outbox_rows", p.Outbox, "inbox_rows", p.Inbox)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
