package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	defaultMaxAttempts  = 5
	// ackTimeout bounds the wait for JetStream's acks of one batch.
	ackTimeout = 10 * time.Second
	// recordTimeout bounds the statement that records a batch's outcome.
	recordTimeout = 10 * time.Second
	// defaultClaimLease is the default of RelayConfig.ClaimLease: longer
	// than a batch's publish and record (ackTimeout + recordTimeout), far
	// shorter than JetStream's duplicate window (events.DuplicateWindow).
	defaultClaimLease = 30 * time.Second
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
	// BatchSize is the number of rows claimed, published and recorded at a
	// time. Default 100.
	BatchSize int
	// ClaimLease is how long a claimed batch is left to the relay that
	// claimed it. No transaction is open while the relay publishes: the
	// lease is what keeps other relays off the batch meanwhile, and what
	// frees it when the relay dies between its claim and its record (the
	// rows are then published again once it has run out). It must exceed
	// the time a batch can take (10 s for the acks, 10 s for the record)
	// and stay far below JetStream's duplicate window (events.DuplicateWindow,
	// 10 minutes), so that the second copy of a row that a dead relay had
	// published is dropped by its Nats-Msg-Id. Default 30s.
	ClaimLease time.Duration
	// PollInterval is how often the relay looks for rows without being
	// notified: the fallback for a missed notification. Default 1s.
	PollInterval time.Duration
	// Registerer, when set, receives the relay's metrics.
	Registerer prometheus.Registerer
	// MaxAttempts is how many consecutive permanent refusals (see
	// Permanent) set a row aside as a dead letter. A row too large for the
	// server is set aside at once; transient failures never do. Default 5.
	MaxAttempts int
}

// publisher is the part of JetStream the relay uses. Tests wrap it to stop
// a relay in the middle of a batch.
type publisher interface {
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

// Relay publishes the rows of one schema's outbox to JetStream. Several
// relays, in one process or in several, can serve the same outbox: each
// batch is claimed (FOR UPDATE SKIP LOCKED, then a lease in claimed_until)
// by one of them. No transaction is open while a batch is published.
type Relay struct {
	pool         *pgxpool.Pool
	schema       string
	table        string
	pub          publisher
	log          *slog.Logger
	batchSize    int
	pollInterval time.Duration
	maxAttempts  int
	lease        time.Duration
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
		maxAttempts:  cfg.MaxAttempts,
		lease:        cfg.ClaimLease,
	}
	if r.lease <= 0 {
		r.lease = defaultClaimLease
	}
	if r.maxAttempts <= 0 {
		r.maxAttempts = defaultMaxAttempts
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
// events it published. Rows claimed by another relay are left to it until
// its lease runs out. A row that cannot be published for good is set aside
// as a dead letter and does not stop the rows after it.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	// The gauges are refreshed whatever happens: an alert on the age of the
	// oldest row must see it grow while publishing fails.
	defer r.updatePending(ctx)
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
	return total, nil
}

// outboxRow is one pending event.
type outboxRow struct {
	seq      int64
	eventID  string
	subject  string
	payload  []byte
	attempts int
}

// rowFailure is a row JetStream did not take, and why.
type rowFailure struct {
	row outboxRow
	err error
}

// flushBatch claims up to batchSize pending rows, publishes them and
// records the outcome: it marks those that JetStream acknowledged, sets
// aside those that failed for good, records the failure of the others and
// hands back the rest. It reports whether a full batch was claimed (so there
// may be more).
//
// The claim and the record are short statements of their own: no
// transaction, and no row lock, is held while the batch travels to NATS and
// its acks come back, so a slow or unreachable NATS holds no connection of
// the pool and no lock. Between the two, the claim's lease keeps the rows
// from other relays; if this relay dies there, the rows are published again
// once the lease has run out, and JetStream drops the copies it already has
// (Nats-Msg-Id, within events.DuplicateWindow, far longer than the lease).
func (r *Relay) flushBatch(ctx context.Context) (published int, more bool, err error) {
	c, err := r.claim(ctx)
	if err != nil {
		return 0, false, err
	}
	if len(c.rows) == 0 {
		return 0, false, nil
	}

	acked, failures, pubErr := r.publish(ctx, c.rows)

	// What JetStream took is marked even when ctx ends meanwhile (a
	// shutdown), and the rows it did not take are handed back, so that the
	// final flush can publish them instead of waiting for the lease.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	dead, err := r.record(mctx, c, acked, failures)
	if err != nil {
		// The rows stay claimed until the lease runs out, then go again.
		return 0, false, errors.Join(pubErr, err)
	}
	if r.metrics != nil {
		r.metrics.published.Add(float64(len(acked)))
		r.metrics.deadLettered.Add(float64(len(dead)))
	}
	for _, f := range dead {
		// One line per dead letter, without the payload: it may be large,
		// and an event is no place to look for personal data in logs.
		r.log.ErrorContext(ctx, "outbox relay: event set aside as a dead letter",
			"event_id", f.row.eventID, "subject", f.row.subject, "bytes", len(f.row.payload),
			"attempts", f.row.attempts+1, "err", f.err)
	}
	if pubErr != nil {
		return len(acked), false, pubErr
	}
	// Failures that were not set aside are retried at the next wake-up, not
	// in this flush: a full batch of them would otherwise spin.
	if len(failures) > len(dead) {
		return len(acked), false, fmt.Errorf("%d of %d events not published, first: %w",
			len(failures)-len(dead), len(c.rows), firstLive(failures, dead))
	}
	return len(acked), len(c.rows) == r.batchSize, nil
}

// claimed is a batch claimed by this relay: its rows, in seq order, and the
// end of its lease, which is also what tells this claim from a later one
// (another relay's, after the lease ran out).
type claimed struct {
	rows  []outboxRow
	until time.Time
}

// claim takes up to batchSize pending rows that no live claim holds, in seq
// order, and gives them a lease, in one autocommitted statement. FOR UPDATE
// SKIP LOCKED keeps two relays claiming at the same moment off each other's
// rows; once the statement commits, claimed_until does. There is no cursor
// on seq: a transaction that took a lower seq may commit after a higher one
// was published, and must still be found.
func (r *Relay) claim(ctx context.Context) (claimed, error) {
	// The locking subquery is an uncorrelated ARRAY(...): it runs once, and
	// the update finds its rows through the primary key. (A join with the
	// subquery let the planner hash the whole table, published rows
	// included, at every claim.)
	rows, err := r.pool.Query(ctx, `
		UPDATE `+r.table+` SET claimed_until = now() + $2::bigint * interval '1 microsecond'
		WHERE seq = ANY(ARRAY(
			SELECT seq FROM `+r.table+`
			WHERE published_at IS NULL AND dead_lettered_at IS NULL
			  AND (claimed_until IS NULL OR claimed_until < now())
			ORDER BY seq
			LIMIT $1
			FOR UPDATE SKIP LOCKED))
		RETURNING seq, event_id::text, subject, payload, attempts, claimed_until`,
		r.batchSize, r.lease.Microseconds())
	if err != nil {
		return claimed{}, fmt.Errorf("claim pending: %w", err)
	}
	var c claimed
	c.rows, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		// Every row of the statement has the same lease (now() is the
		// statement's transaction time).
		err := row.Scan(&o.seq, &o.eventID, &o.subject, &o.payload, &o.attempts, &c.until)
		return o, err
	})
	if err != nil {
		return claimed{}, fmt.Errorf("claim pending: %w", err)
	}
	// RETURNING follows no ORDER BY: publish in seq order.
	slices.SortFunc(c.rows, func(a, b outboxRow) int { return cmp.Compare(a.seq, b.seq) })
	return c, nil
}

// record writes the outcome of claimed batch c in one batch of statements,
// which Postgres runs as one implicit transaction (all or nothing, one round
// trip): acked rows are published; failed rows are set aside as dead
// letters or have the failure counted; every other row of the batch (not
// sent, or its ack did not come) is handed back. Each clears claimed_until,
// so a row not published is claimed again at the next flush. It returns the
// failures it set aside.
//
// Only acked rows are marked whoever holds them now (they are in the
// stream). The other updates apply only while c's lease still holds the row:
// if it ran out and another relay claimed the row (or published it), this
// relay's outcome is stale and changes nothing.
func (r *Relay) record(ctx context.Context, c claimed, acked []int64, failures []rowFailure) ([]rowFailure, error) {
	batch := &pgx.Batch{}
	if len(acked) > 0 {
		batch.Queue(`UPDATE `+r.table+` SET published_at = now(), claimed_until = NULL
			WHERE seq = ANY($1) AND published_at IS NULL`, acked)
	}
	done := make(map[int64]bool, len(c.rows))
	for _, seq := range acked {
		done[seq] = true
	}
	var dead []rowFailure
	deadQuery := make([]bool, 0, len(failures)) // per failure: queued as a dead letter
	for _, f := range failures {
		done[f.row.seq] = true
		attempts := 0
		if Permanent(f.err) {
			attempts = f.row.attempts + 1
		}
		if tooLarge(f.err) || attempts >= r.maxAttempts {
			deadQuery = append(deadQuery, true)
			batch.Queue(`UPDATE `+r.table+` SET dead_lettered_at = now(), attempts = $2, last_error = $3, claimed_until = NULL
				WHERE seq = $1 AND claimed_until = $4`,
				f.row.seq, f.row.attempts+1, truncate(f.err.Error(), 1000), c.until)
			continue
		}
		// Transient failures (NATS unreachable, a timeout) reset the count:
		// only consecutive permanent refusals make a dead letter.
		deadQuery = append(deadQuery, false)
		batch.Queue(`UPDATE `+r.table+` SET attempts = $2, last_error = $3, claimed_until = NULL
			WHERE seq = $1 AND claimed_until = $4`,
			f.row.seq, attempts, truncate(f.err.Error(), 1000), c.until)
	}
	var rest []int64
	for _, row := range c.rows {
		if !done[row.seq] {
			rest = append(rest, row.seq)
		}
	}
	if len(rest) > 0 {
		batch.Queue(`UPDATE `+r.table+` SET claimed_until = NULL WHERE seq = ANY($1) AND claimed_until = $2`, rest, c.until)
	}

	br := r.pool.SendBatch(ctx, batch)
	err := func() error {
		if len(acked) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("mark published: %w", err)
			}
		}
		for i, f := range failures {
			tag, err := br.Exec()
			if err != nil {
				return fmt.Errorf("record failure of event %s: %w", f.row.eventID, err)
			}
			if deadQuery[i] && tag.RowsAffected() == 1 {
				dead = append(dead, f)
			}
		}
		if len(rest) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("hand back unpublished rows: %w", err)
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("record batch: %w", err)
	}
	return dead, nil
}

// firstLive is the error of the first failure that was not dead-lettered.
func firstLive(failures, dead []rowFailure) error {
	for _, f := range failures {
		if !slices.ContainsFunc(dead, func(d rowFailure) bool { return d.row.seq == f.row.seq }) {
			return fmt.Errorf("event %s (%s): %w", f.row.eventID, f.row.subject, f.err)
		}
	}
	return nil
}

// Permanent reports whether retrying a publish that failed with err cannot
// help: the message is larger than the server takes, or JetStream refused
// the request itself (a 4xx API error other than timeouts and throttling).
// Unreachable servers, timeouts and missing streams are transient.
func Permanent(err error) bool {
	if tooLarge(err) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code >= 400 && apiErr.Code < 500 && apiErr.Code != 408 && apiErr.Code != 429
	}
	return false
}

// tooLarge reports a message over the server's max_payload, refused by the
// client before sending (nats.ErrMaxPayload) or by the stream (JetStream
// error 10054, message size exceeds maximum allowed).
func tooLarge(err error) bool {
	if errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.ErrorCode(10054)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// publish sends rows with async publishes and waits for every ack. It
// returns the seqs of the rows JetStream stored (or already had:
// duplicates) and the rows it refused. A permanent refusal of one row (too
// large) does not stop the others; a transient one (NATS unreachable) stops
// the batch, and stop says why.
func (r *Relay) publish(ctx context.Context, rows []outboxRow) (acked []int64, failed []rowFailure, stop error) {
	type sent struct {
		row outboxRow
		f   jetstream.PubAckFuture
	}
	futures := make([]sent, 0, len(rows))
	for _, row := range rows {
		msg := nats.NewMsg(row.subject)
		msg.Data = row.payload
		msg.Header.Set(jetstream.MsgIDHeader, row.eventID)
		msg.Header.Set(events.HeaderType, events.TypeOfSubject(row.subject))
		f, err := r.pub.PublishMsgAsync(msg)
		if err != nil {
			failed = append(failed, rowFailure{row, err})
			if Permanent(err) {
				continue
			}
			// Stop here; the rest of the batch goes in a later flush.
			stop = fmt.Errorf("publish event %s (%s): %w", row.eventID, row.subject, err)
			break
		}
		futures = append(futures, sent{row, f})
	}

	timer := time.NewTimer(ackTimeout)
	defer timer.Stop()
	acked = make([]int64, 0, len(futures))
	for _, s := range futures {
		select {
		case <-s.f.Ok():
			acked = append(acked, s.row.seq)
		case err := <-s.f.Err():
			failed = append(failed, rowFailure{s.row, err})
		case <-timer.C:
			return acked, failed, fmt.Errorf("%d of %d events not acknowledged within %s", len(rows)-len(acked)-len(failed), len(rows), ackTimeout)
		case <-ctx.Done():
			return acked, failed, fmt.Errorf("waiting for acks: %w", ctx.Err())
		}
	}
	return acked, failed, stop
}

// updatePending refreshes the gauges, when there are metrics: how many rows
// wait, how old the oldest of them is, and how many are dead letters.
func (r *Relay) updatePending(ctx context.Context) {
	if r.metrics == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var pending, dead int64
	var age float64
	// Each part matches a partial index, so the published rows (most of the
	// table until they are pruned) are never scanned.
	err := r.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM `+r.table+` WHERE published_at IS NULL AND dead_lettered_at IS NULL),
		       coalesce((SELECT extract(epoch FROM now() - min(created_at)) FROM `+r.table+`
		                 WHERE published_at IS NULL AND dead_lettered_at IS NULL), 0)::float8,
		       (SELECT count(*) FROM `+r.table+` WHERE dead_lettered_at IS NOT NULL)`).Scan(&pending, &age, &dead)
	if err != nil {
		r.log.WarnContext(ctx, "outbox relay: count pending", "err", err)
		return
	}
	r.metrics.pending.Set(float64(pending))
	r.metrics.oldestAge.Set(max(age, 0))
	r.metrics.deadLetters.Set(float64(dead))
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
	published    prometheus.Counter
	pending      prometheus.Gauge
	oldestAge    prometheus.Gauge
	deadLettered prometheus.Counter
	deadLetters  prometheus.Gauge
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
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "consulta", Subsystem: "outbox", Name: "oldest_unpublished_age_seconds",
			Help:        "Age of the oldest outbox row waiting to be published (0 when none), as of the last flush.",
			ConstLabels: labels,
		}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "consulta", Subsystem: "outbox", Name: "dead_lettered_total",
			Help:        "Outbox rows the relay set aside because they can never be published.",
			ConstLabels: labels,
		}),
		deadLetters: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "consulta", Subsystem: "outbox", Name: "dead_letters",
			Help:        "Outbox rows set aside as dead letters and not yet replayed or discarded.",
			ConstLabels: labels,
		}),
	}
	m.published = register(reg, m.published, log)
	m.pending = register(reg, m.pending, log)
	m.oldestAge = register(reg, m.oldestAge, log)
	m.deadLettered = register(reg, m.deadLettered, log)
	m.deadLetters = register(reg, m.deadLetters, log)
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
