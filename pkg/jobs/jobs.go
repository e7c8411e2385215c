// Package jobs wires Asynq: the client that enqueues tasks under deterministic
// task ids, the server that runs them, and the inspector that reads their state.
//
// Deterministic ids are what make event-driven enqueueing safe: a redelivered
// event produces the same id, Asynq refuses the second task, and Enqueue
// reports that as "already there" rather than an error. Completed tasks are
// retained for a while so that the id keeps protecting against late
// redeliveries and so that operators can see what ran.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// Queue names, before the configured prefix.
const (
	QueueDefault = "default"
	QueueLow     = "low"
)

// DefaultRetention is how long a completed task (and so its id) is kept.
const DefaultRetention = 7 * 24 * time.Hour

// Config says where Redis is and how queues are named.
type Config struct {
	// RedisURL is redis://[:password@]host:port[/db].
	RedisURL string
	// QueuePrefix is prepended to every queue name; tests use it to share one
	// Redis without seeing each other's tasks.
	QueuePrefix string
	// Concurrency is the number of tasks a server runs at once (default 10).
	Concurrency int
	// PollInterval is how often an idle server looks for work (default 1s).
	PollInterval time.Duration
	// Logger receives Asynq's own logs.
	Logger *slog.Logger
}

// Queue returns the real name of queue q.
func (c Config) Queue(q string) string { return c.QueuePrefix + q }

func (c Config) redisOpt() (asynq.RedisConnOpt, error) {
	opt, err := asynq.ParseRedisURI(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("jobs: redis url: %w", err)
	}
	return opt, nil
}

// Client enqueues and withdraws tasks.
type Client struct {
	cfg       Config
	client    *asynq.Client
	inspector *asynq.Inspector
}

// NewClient connects a client to Redis.
func NewClient(cfg Config) (*Client, error) {
	opt, err := cfg.redisOpt()
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, client: asynq.NewClient(opt), inspector: asynq.NewInspector(opt)}, nil
}

// Close releases the Redis connections.
func (c *Client) Close() error {
	return errors.Join(c.client.Close(), c.inspector.Close())
}

// Withdraw deletes the task id from queue (QueueDefault when empty) so that it
// never runs. A task that is not there (never enqueued, already run and
// expired, withdrawn before) is not an error: withdrawing is idempotent, as
// redelivered events require.
func (c *Client) Withdraw(queue, id string) (withdrawn bool, err error) {
	if queue == "" {
		queue = QueueDefault
	}
	err = c.inspector.DeleteTask(c.cfg.Queue(queue), id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("jobs: withdraw %s: %w", id, err)
	}
	return true, nil
}

// Ping checks that Redis answers.
func (c *Client) Ping() error { return c.client.Ping() }

// Job is a task ready to enqueue: its type, payload and deterministic id.
type Job struct {
	// Task carries type and payload.
	Task *asynq.Task
	// ID is derived from what caused the job (for example the event), never
	// random, so that doing the same thing twice enqueues one task.
	ID string
	// Queue is the unprefixed queue name (QueueDefault when empty).
	Queue string
	// ProcessAt schedules the task; zero means now.
	ProcessAt time.Time
	// MaxRetry overrides Asynq's default of 25 when positive.
	MaxRetry int
}

// Enqueue adds j to its queue. It returns created=false and no error when a
// task with the same id already exists.
func (c *Client) Enqueue(ctx context.Context, j Job) (created bool, err error) {
	if j.ID == "" {
		return false, errors.New("jobs: enqueue without a task id")
	}
	q := j.Queue
	if q == "" {
		q = QueueDefault
	}
	opts := []asynq.Option{asynq.TaskID(j.ID), asynq.Queue(c.cfg.Queue(q)), asynq.Retention(DefaultRetention)}
	if !j.ProcessAt.IsZero() {
		opts = append(opts, asynq.ProcessAt(j.ProcessAt))
	}
	if j.MaxRetry > 0 {
		opts = append(opts, asynq.MaxRetry(j.MaxRetry))
	}
	_, err = c.client.EnqueueContext(ctx, j.Task, opts...)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("jobs: enqueue %s %s: %w", j.Task.Type(), j.ID, err)
	}
	return true, nil
}

// NewServer builds a server that works the configured queues.
func NewServer(cfg Config) (*asynq.Server, error) {
	opt, err := cfg.redisOpt()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	concurrency := cfg.Concurrency
	if concurrency <= 0 {
		concurrency = 10
	}
	return asynq.NewServer(opt, asynq.Config{
		Concurrency:       concurrency,
		Queues:            map[string]int{cfg.Queue(QueueDefault): 6, cfg.Queue(QueueLow): 1},
		TaskCheckInterval: cfg.PollInterval,
		ShutdownTimeout:   20 * time.Second,
		RetryDelayFunc:    RetryDelay,
		Logger:            slogAdapter{log.With("component", "asynq")},
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			log.Error("job failed", "type", task.Type(), "task_id", id, "retried", retried, "err", err)
		}),
	}), nil
}

// Bounds of the retry delay.
const (
	// RetryBase is the delay before the first retry, before jitter.
	RetryBase = 10 * time.Second
	// RetryCap bounds the exponential delay (not a delay an error asks for).
	RetryCap = time.Hour
	// MaxRequestedDelay bounds the delay an error asks for.
	MaxRequestedDelay = 24 * time.Hour
)

// RetryDelayer is an error that knows how long to wait before the next try,
// such as a translation provider's answer with Retry-After. It is found
// through any wrapping.
type RetryDelayer interface {
	RetryDelay() time.Duration
}

// RetryDelay is the servers' delay before retry n (0 for the first retry)
// of a failed task: exponential backoff from RetryBase, doubling up to
// RetryCap, with "equal jitter" (a random half on top of a fixed half) so
// that tasks failing together do not retry together; and never less than
// what the error asks for through RetryDelayer, up to MaxRequestedDelay.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	d := RetryCap
	if n < 30 { // 2^n overflows long before; the cap is reached at n = 9
		d = min(RetryBase<<n, RetryCap)
	}
	d = d/2 + rand.N(d/2+1)
	var r RetryDelayer
	if errors.As(err, &r) {
		d = max(d, min(r.RetryDelay(), MaxRequestedDelay))
	}
	return d
}

// NewInspector reads the state of queues and tasks.
func NewInspector(cfg Config) (*asynq.Inspector, error) {
	opt, err := cfg.redisOpt()
	if err != nil {
		return nil, err
	}
	return asynq.NewInspector(opt), nil
}

// slogAdapter gives Asynq a slog logger.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.log.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)  { a.log.Info(fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)  { a.log.Warn(fmt.Sprint(args...)) }
func (a slogAdapter) Error(args ...any) { a.log.Error(fmt.Sprint(args...)) }
func (a slogAdapter) Fatal(args ...any) { a.log.Error(fmt.Sprint(args...)) }
