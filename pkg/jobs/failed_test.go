package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// TestFailedListsTasksWithTheirReason runs a task that fails for good and
// one that fails for now, and expects both listed with their state and the
// error their handler returned; a task that succeeded is not listed.
func TestFailedListsTasksWithTheirReason(t *testing.T) {
	cfg := testConfig(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, j := range []Job{
		{Task: asynq.NewTask("test:broken", nil), ID: "broken:1"},
		{Task: asynq.NewTask("test:flaky", nil), ID: "flaky:1", Queue: QueueLow},
		{Task: asynq.NewTask("test:fine", nil), ID: "fine:1"},
	} {
		if _, err := c.Enqueue(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:broken", func(context.Context, *asynq.Task) error {
		return fmt.Errorf("decode test:broken: unexpected end of JSON input: %w", asynq.SkipRetry)
	})
	mux.HandleFunc("test:flaky", func(context.Context, *asynq.Task) error {
		return errors.New("translate: provider answered 503")
	})
	mux.HandleFunc("test:fine", func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	insp, err := NewInspector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer insp.Close()

	var failed []FailedTask
	deadline := time.Now().Add(15 * time.Second)
	for len(failed) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("failed tasks: %+v", failed)
		}
		time.Sleep(50 * time.Millisecond)
		if failed, err = Failed(insp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if len(failed) != 2 {
		t.Fatalf("%d failed tasks, want 2: %+v", len(failed), failed)
	}
	broken, flaky := failed[0], failed[1]
	if broken.ID != "broken:1" || broken.State != "archived" || broken.Queue != QueueDefault || broken.Type != "test:broken" ||
		!strings.Contains(broken.LastError, "unexpected end of JSON input") || broken.LastFailedAt.IsZero() || !broken.NextTryAt.IsZero() {
		t.Errorf("archived task: %+v", broken)
	}
	if flaky.ID != "flaky:1" || flaky.State != "retry" || flaky.Queue != QueueLow || flaky.Retried != 1 ||
		flaky.LastError != "translate: provider answered 503" || !flaky.NextTryAt.After(flaky.LastFailedAt) {
		t.Errorf("task in retry: %+v", flaky)
	}

	// Another deployment's queues (another prefix) are not this one's.
	other := cfg
	other.QueuePrefix = cfg.QueuePrefix + "other:"
	if got, err := Failed(insp, other); err != nil || len(got) != 0 {
		t.Errorf("another prefix: %+v, %v", got, err)
	}
}
