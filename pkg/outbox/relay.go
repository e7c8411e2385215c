package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/consulta-platform/consulta/pkg/events"
)

const (
	defaultBatchSize    = 100
	defaultPollInterval = time.Second
	// ackTimeout bounds the wait for JetStream's acks of one batch.
	ackTimeout = 10 * time.Second
	// finalFlushTimeout bounds the flush Run does after its context ends.
	finalFlushTimeout = 5 * time.Second
	// Reconnection delays of the LISTEN connection.
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Pool connects to the database that holds Schema.outbox. The relay also
	// opens one dedicated connection with the pool's settings for LISTEN.
	Pool *pgxpool.Pool
	// Schema is the service schema whose outbox the relay publishes.
	Schema string
	// JetStream receives the events; the stream must already exist
	// (events.EnsureStream).
	JetStream jetstream.JetStream
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// BatchSize is the number of rows published and marked per transaction.
	// Default 100.
	BatchSize int
	// PollInterval is how often the relay looks for rows without being
	// notified: the fallback for a missed notification. Default 1s.
	PollInterval time.Duration
	// Registerer, when set, receives the relay's metrics.
	Registerer prometheus.Registerer
}

// publisher is the part of JetStream the relay uses. Tests wrap it to stop
// a relay in the middle of a batch.
type publisher interface {
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

// Relay publishes the rows of one schema's outbox to JetStream. Several
// relays, in one process or in several, can serve the same outbox: each
// batch is locked with FOR UPDATE SKIP LOCKED.
type Relay struct {
	pool         *pgxpool.Pool
	schema       string
	table        string
	pub          publisher
	log          *slog.Logger
	batchSize    int
	pollInterval time.Duration
	metrics      *relayMetrics // nil without a Registerer
}

// NewRelay returns a relay for cfg.Schema's outbox. Start it with Run.
func NewRelay(cfg RelayConfig) *Relay {
	r := &Relay{
		pool:         cfg.Pool,
		schema:       cfg.Schema,
		table:        table(cfg.Schema),
		pub:          cfg.JetStream,
		log:          cfg.Logger,
		batchSize:    cfg.BatchSize,
		pollInterval: cfg.PollInterval,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("component", "outbox_relay", "schema", cfg.Schema)
	if r.batchSize <= 0 {
		r.batchSize = defaultBatchSize
	}
	if r.pollInterval <= 0 {
		r.pollInterval = defaultPollInterval
	}
	if cfg.Registerer != nil {
		r.metrics = newRelayMetrics(cfg.Registerer, cfg.Schema, r.log)
	}
	return r
}

// Run publishes until ctx is cancelled. It flushes when a transaction that
// called Add commits (LISTEN on a dedicated connection, reconnected when it
// drops), and every PollInterval in case a notification was missed. When ctx
// is cancelled it flushes one last time, bounded by a short timeout, and
// returns nil.
//
// Errors of a flush are logged and retried at the next wake-up; they do not
// stop Run.
func (r *Relay) Run(ctx context.Context) error {
	if r.pool == nil || r.pub == nil || r.schema == "" {
		return errors.New("outbox relay: Pool, JetStream and Schema are required")
	}
	wake := make(chan struct{}, 1)

	listenCtx, stopListening := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.listen(listenCtx, wake)
	}()
	defer func() {
		stopListening()
		<-done
	}()

	ticker := time.NewTicker(r.pollInterval)
	defer ticker.Stop()

	r.log.InfoContext(ctx, "outbox relay started", "poll_interval", r.pollInterval, "batch_size", r.batchSize)
	for {
		r.flushAndLog(ctx)
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			r.flushAndLog(fctx)
			cancel()
			r.log.InfoContext(ctx, "outbox relay stopped")
			return nil
		case <-wake:
		case <-ticker.C:
		}
	}
}

func (r *Relay) flushAndLog(ctx context.Context) {
	n, err := r.Flush(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: the final flush will pick the rows up.
			return
		}
		r.log.ErrorContext(ctx, "outbox relay: flush failed", "published", n, "err", err)
		return
	}
	if n > 0 {
		r.log.DebugContext(ctx, "outbox relay: published", "count", n)
	}
}

// Flush publishes every row pending now, batch by batch, and returns how many
// events it published. Rows locked by another relay are left to it.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := r.flushBatch(ctx)
		total += n
		if err != nil {
			return total, fmt.Errorf("outbox relay %s: %w", r.schema, err)
		}
		if !more {
			break
		}
	}
	r.updatePending(ctx)
	return total, nil
}

// outboxRow is one pending event.
type outboxRow struct {
	seq     int64
	eventID string
	subject string
	payload []byte
}

// flushBatch publishes up to batchSize pending rows and marks those that
// JetStream acknowledged, in one transaction that holds the rows' locks
// throughout. It reports whether a full batch was found (so there may be
// more).
func (r *Relay) flushBatch(ctx context.Context) (published int, more bool, err error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("begin: %w", err)
	}
	// A no-op after Commit. If the process dies instead, Postgres aborts the
	// transaction: the rows stay unpublished and are published again.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// No cursor on seq: a transaction that took a lower seq may commit after
	// a higher one was published, and must still be found.
	rows, err := tx.Query(ctx,
		`SELECT seq, event_id::text, subject, payload FROM `+r.table+`
		 WHERE published_at IS NULL
		 ORDER BY seq
		 LIMIT $1
		 FOR UPDATE SKIP LOCKED`, r.batchSize)
	if err != nil {
		return 0, false, fmt.Errorf("select pending: %w", err)
	}
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := row.Scan(&o.seq, &o.eventID, &o.subject, &o.payload)
		return o, err
	})
	if err != nil {
		return 0, false, fmt.Errorf("select pending: %w", err)
	}
	if len(pending) == 0 {
		return 0, false, nil
	}

	acked, pubErr := r.publish(ctx, pending)
	if len(acked) > 0 {
		if _, err := tx.Exec(ctx,
			`UPDATE `+r.table+` SET published_at = now() WHERE seq = ANY($1)`, acked); err != nil {
			return 0, false, errors.Join(pubErr, fmt.Errorf("mark published: %w", err))
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, false, errors.Join(pubErr, fmt.Errorf("commit: %w", err))
		}
		if r.metrics != nil {
			r.metrics.published.Add(float64(len(acked)))
		}
	}
	if pubErr != nil {
		return len(acked), false, pubErr
	}
	return len(acked), len(pending) == r.batchSize, nil
}

// publish sends rows with async publishes, waits for every ack and returns
// the seqs of the rows JetStream stored (or already had: duplicates). The
// error describes the first failure.
func (r *Relay) publish(ctx context.Context, rows []outboxRow) ([]int64, error) {
	var firstErr error
	failed := 0
	futures := make([]jetstream.PubAckFuture, 0, len(rows))
	for _, row := range rows {
		msg := nats.NewMsg(row.subject)
		msg.Data = row.payload
		msg.Header.Set(jetstream.MsgIDHeader, row.eventID)
		msg.Header.Set(events.HeaderType, events.TypeOfSubject(row.subject))
		f, err := r.pub.PublishMsgAsync(msg)
		if err != nil {
			// Stop here; the rest of the batch goes in a later flush.
			firstErr = fmt.Errorf("publish event %s (%s): %w", row.eventID, row.subject, err)
			failed = len(rows) - len(futures)
			break
		}
		futures = append(futures, f)
	}

	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	acked := make([]int64, 0, len(futures))
	for i, f := range futures {
		select {
		case <-f.Ok():
			acked = append(acked, rows[i].seq)
		case err := <-f.Err():
			failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("publish event %s (%s): %w", rows[i].eventID, rows[i].subject, err)
			}
		case <-timer.C:
			return acked, fmt.Errorf("%d of %d events not acknowledged within %s", len(rows)-len(acked), len(rows), ackTimeout)
		case <-ctx.Done():
			return acked, fmt.Errorf("waiting for acks: %w", ctx.Err())
		}
	}
	if firstErr != nil {
		return acked, fmt.Errorf("%d of %d events not published, first: %w", failed, len(rows), firstErr)
	}
	return acked, nil
}

// updatePending refreshes the pending gauge, when there are metrics.
func (r *Relay) updatePending(ctx context.Context) {
	if r.metrics == nil {
		return
	}
	var n int64
	err := r.pool.QueryRow(ctx, `SELECT count(*) FROM `+r.table+` WHERE published_at IS NULL`).Scan(&n)
	if err != nil {
		r.log.WarnContext(ctx, "outbox relay: count pending", "err", err)
		return
	}
	r.metrics.pending.Set(float64(n))
}

// listen wakes the relay when a transaction that wrote to this schema's
// outbox commits. It keeps a dedicated connection (LISTEN does not survive
// going back to a pool) and reconnects with backoff when it drops.
func (r *Relay) listen(ctx context.Context, wake chan<- struct{}) {
	backoff := listenMinBackoff
	for {
		err := r.listenOnce(ctx, wake, func() { backoff = listenMinBackoff })
		if ctx.Err() != nil {
			return
		}
		r.log.WarnContext(ctx, "outbox relay: listener lost, polling until it reconnects",
			"retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

func (r *Relay) listenOnce(ctx context.Context, wake chan<- struct{}, connected func()) error {
	cfg := r.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName(r.schema)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	// Rows may have committed while nobody was listening.
	signal(wake)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		if n.Payload == r.schema {
			signal(wake)
		}
	}
}

// ListenerApplicationName is the application_name of the relay's LISTEN
// connection for schema, as seen in pg_stat_activity.
func ListenerApplicationName(schema string) string {
	return "consulta-outbox-relay-" + schema
}

// signal wakes the relay without blocking; one pending wake-up is enough.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

type relayMetrics struct {
	published prometheus.Counter
	pending   prometheus.Gauge
}

func newRelayMetrics(reg prometheus.Registerer, schema string, log *slog.Logger) *relayMetrics {
	labels := prometheus.Labels{"schema": schema}
	m := &relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "consulta", Subsystem: "outbox", Name: "published_total",
			Help:        "Events the outbox relay published to JetStream.",
			ConstLabels: labels,
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "consulta", Subsystem: "outbox", Name: "pending",
			Help:        "Outbox rows not yet published, as of the last flush.",
			ConstLabels: labels,
		}),
	}
	m.published = register(reg, m.published, log)
	m.pending = register(reg, m.pending, log)
	return m
}

// register registers c, or returns the collector already registered under
// the same name and labels (a second relay for the same schema).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("outbox relay: register metric", "err", err)
	return c
}
