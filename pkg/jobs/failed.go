package jobs

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
)

// FailedTask is a task whose last run failed: waiting to be retried, or
// archived (given up: a permanent error, or its retries ran out).
type FailedTask struct {
	Queue    string // unprefixed
	ID       string
	Type     string
	State    string // "retry" or "archived"
	Retried  int
	MaxRetry int
	// LastError is the error of the last run, as the handler returned it.
	LastError    string
	LastFailedAt time.Time
	// NextTryAt is when a task in retry runs again; zero when archived.
	NextTryAt time.Time
}

// Failed lists the failed tasks of every queue of cfg, archived ones first,
// then by the time of their last failure, newest first. A queue that does
// not exist yet (nothing was ever enqueued to it) has none.
func Failed(insp *asynq.Inspector, cfg Config) ([]FailedTask, error) {
	var out []FailedTask
	for _, q := range []string{QueueDefault, QueueLow} {
		for _, list := range []struct {
			state string
			fetch func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
		}{{"archived", insp.ListArchivedTasks}, {"retry", insp.ListRetryTasks}} {
			for page := 1; ; page++ {
				tasks, err := list.fetch(cfg.Queue(q), asynq.PageSize(100), asynq.Page(page))
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("jobs: list %s tasks of queue %s: %w", list.state, q, err)
				}
				for _, ti := range tasks {
					f := FailedTask{Queue: q, ID: ti.ID, Type: ti.Type, State: list.state, Retried: ti.Retried,
						MaxRetry: ti.MaxRetry, LastError: ti.LastErr, LastFailedAt: ti.LastFailedAt}
					if list.state == "retry" {
						f.NextTryAt = ti.NextProcessAt
					}
					out = append(out, f)
				}
				if len(tasks) < 100 {
					break
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b FailedTask) int {
		if a.State != b.State {
			if a.State == "archived" {
				return -1
			}
			return 1
		}
		return b.LastFailedAt.Compare(a.LastFailedAt)
	})
	return out, nil
}
