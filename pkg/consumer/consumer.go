// Package consumer runs Consulta's event handlers on durable JetStream pull
// consumers with explicit acks, so that every service handles events the same
// way: in stream order, one at a time; acknowledged only once the handler
// succeeded; retried with a growing delay when it failed; dropped (and logged)
// only when retrying cannot help; and drained, not abandoned, on shutdown.
//
// Delivery is at least once. Handlers must make a redelivery harmless, for
// example with pkg/inbox.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
)

// Handler handles one event. Returning nil acknowledges it; an error wrapped
// by Permanent terminates it; any other error has it redelivered later.
type Handler func(ctx context.Context, env *eventsv1.Envelope) error

// Config configures Run.
type Config struct {
	JetStream jetstream.JetStream
	// Stream defaults to events.StreamName.
	Stream string
	// Durable names the consumer; replicas of a service share it.
	Durable string
	// Subjects are the subjects the consumer receives. One subject (it may
	// be a wildcard) works with every JetStream server; several need
	// nats-server 2.10 or later (FilterSubjects).
	Subjects []string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// AckWait is how long JetStream waits for an ack before redelivering.
	// It also bounds each handler call. Default 30s.
	AckWait time.Duration
	// MaxAckPending limits unacknowledged messages; 0 keeps the server's
	// default. 1 keeps strict order even while a message is being retried.
	MaxAckPending int
}

const (
	defaultAckWait = 30 * time.Second
	// pullBatch is how many messages the client asks for per pull request.
	pullBatch = 64
	// ackTimeout bounds the confirmation of an ack, nak or term.
	ackTimeout = 5 * time.Second
	// Redelivery delays after a handler error.
	minRetryDelay = 500 * time.Millisecond
	maxRetryDelay = time.Minute
)

// Run creates or updates the durable consumer (explicit acks, deliver all,
// filtered on cfg.Subjects) and hands its messages to h one at a time, in
// the order it receives them, until ctx is cancelled. Then it stops fetching,
// lets the handler in flight finish and settle its message, returns the
// messages it had fetched but not handled to the server, and returns nil.
// If the subscription fails meanwhile (the consumer was deleted, the
// connection closed), Run logs it and subscribes again after a growing pause.
//
// The handler's context is not cancelled by ctx: a shutdown must not abort a
// handler between its effect and its ack. It ends after AckWait, when
// JetStream would redeliver the message anyway.
func Run(ctx context.Context, cfg Config, h Handler) error {
	if cfg.JetStream == nil || cfg.Durable == "" || len(cfg.Subjects) == 0 || h == nil {
		return errors.New("consumer: JetStream, Durable, Subjects and a handler are required")
	}
	if cfg.Stream == "" {
		cfg.Stream = events.StreamName
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = defaultAckWait
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "consumer", "stream", cfg.Stream, "consumer", cfg.Durable)

	w := &worker{log: log, handler: h, handlerTimeout: cfg.AckWait}
	// The subscription can end without a shutdown: the consumer deleted, the
	// connection closed for good. That is no reason to stop the process;
	// create the consumer again (it resumes from its acknowledged position, or
	// from the start of the stream if it was lost) after a growing pause.
	pause := minRetryDelay
	for {
		err := w.consume(ctx, cfg)
		if ctx.Err() != nil {
			log.InfoContext(ctx, "consumer stopped")
			return nil
		}
		log.ErrorContext(ctx, "consumer: subscription ended, resubscribing", "retry_in", pause, "err", err)
		select {
		case <-ctx.Done():
			log.InfoContext(ctx, "consumer stopped")
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, maxRetryDelay)
	}
}

// consume subscribes once and handles messages until ctx is cancelled (nil)
// or the subscription fails (the error).
func (w *worker) consume(ctx context.Context, cfg Config) error {
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.MaxAckPending,
		MaxDeliver:    -1,
	}
	if len(cfg.Subjects) == 1 {
		cc.FilterSubject = cfg.Subjects[0]
	} else {
		cc.FilterSubjects = cfg.Subjects
	}
	cons, err := cfg.JetStream.CreateOrUpdateConsumer(ctx, cfg.Stream, cc)
	if err != nil {
		return fmt.Errorf("consumer %s: create or update on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return fmt.Errorf("consumer %s: start: %w", cfg.Durable, err)
	}
	defer iter.Stop()
	w.log.InfoContext(ctx, "consumer started", "subjects", cfg.Subjects)
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				w.giveBack(ctx, iter)
				return nil
			}
			return fmt.Errorf("consumer %s: next message: %w", cfg.Durable, err)
		}
		w.handle(ctx, msg)
	}
}

// worker handles one consumer's messages.
type worker struct {
	log            *slog.Logger
	handler        Handler
	handlerTimeout time.Duration
}

// handle runs the handler on msg and settles msg: ack, nak with delay, or
// term.
func (w *worker) handle(ctx context.Context, msg jetstream.Msg) {
	// Not cancelled by shutdown; see Run.
	base := context.WithoutCancel(ctx)
	log := w.log.With("subject", msg.Subject())
	md, err := msg.Metadata()
	var delivered uint64 = 1
	if err == nil {
		delivered = md.NumDelivered
		log = log.With("stream_seq", md.Sequence.Stream, "delivered", delivered)
	}

	env, err := events.Unmarshal(msg.Data())
	if err != nil {
		log.ErrorContext(base, "consumer: undecodable message terminated", "err", err)
		w.settle(base, log, "term", func() error { return msg.TermWithReason("undecodable envelope") })
		return
	}
	log = log.With("event_id", env.GetId(), "event_type", env.GetType())

	hctx, cancel := context.WithTimeout(base, w.handlerTimeout)
	err = w.call(hctx, env)
	cancel()

	var perm *permanentError
	switch {
	case err == nil:
		w.settle(base, log, "ack", func() error {
			actx, cancel := context.WithTimeout(base, ackTimeout)
			defer cancel()
			return msg.DoubleAck(actx)
		})
	case errors.As(err, &perm):
		log.ErrorContext(base, "consumer: event failed permanently, terminated", "err", err)
		w.settle(base, log, "term", func() error { return msg.TermWithReason(truncate(err.Error(), 200)) })
	default:
		delay := retryDelay(delivered)
		log.WarnContext(base, "consumer: handler failed, will retry", "retry_in", delay, "err", err)
		w.settle(base, log, "nak", func() error { return msg.NakWithDelay(delay) })
	}
}

// call runs the handler, turning a panic into an error so that one bad event
// does not take the process down.
func (w *worker) call(ctx context.Context, env *eventsv1.Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return w.handler(ctx, env)
}

// settle sends an ack, nak or term. If it is lost, JetStream redelivers the
// message after AckWait, which handlers tolerate; so it is only logged.
func (w *worker) settle(ctx context.Context, log *slog.Logger, what string, fn func() error) {
	if err := fn(); err != nil {
		log.WarnContext(ctx, "consumer: "+what+" failed, message will be redelivered", "err", err)
	}
}

// giveBack stops fetching and naks the messages already fetched but not
// handled, so that another replica gets them now rather than after AckWait.
func (w *worker) giveBack(ctx context.Context, iter jetstream.MessagesContext) {
	iter.Drain()
	for {
		msg, err := iter.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		if err := msg.Nak(); err != nil {
			w.log.DebugContext(ctx, "consumer: nak on shutdown", "err", err)
		}
	}
}

// retryDelay grows with the number of deliveries: 0.5s, 1s, 2s, ... up to
// a minute.
func retryDelay(delivered uint64) time.Duration {
	d := minRetryDelay
	for i := uint64(1); i < delivered && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Permanent marks err as one that retrying cannot fix: the event is
// terminated (never redelivered) and logged at error level. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
