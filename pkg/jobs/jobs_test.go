package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func testConfig(t *testing.T) Config {
	return Config{RedisURL: testenv.RedisURL(t), QueuePrefix: testenv.UniqueName(t) + ":", PollInterval: 50 * time.Millisecond}
}

// TestEnqueueIsIdempotentByID enqueues the same job from many goroutines, as
// redelivered events would, and expects one task that runs once.
func TestEnqueueIsIdempotentByID(t *testing.T) {
	cfg := testConfig(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	job := Job{Task: asynq.NewTask("test:run", []byte(`{}`)), ID: "run:1"}

	var created atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.Enqueue(context.Background(), job)
			if err != nil {
				t.Error(err)
			}
			if ok {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d enqueues created a task, want 1", created.Load())
	}

	var ran atomic.Int32
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:run", func(context.Context, *asynq.Task) error { ran.Add(1); return nil })
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	insp, err := NewInspector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer insp.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := insp.GetTaskInfo(cfg.Queue(QueueDefault), job.ID)
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not completed: %v %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A late redelivery after completion still finds the retained id.
	if ok, err := c.Enqueue(context.Background(), job); ok || err != nil {
		t.Errorf("enqueue after completion: created=%v err=%v, want false, nil", ok, err)
	}
	if ran.Load() != 1 {
		t.Errorf("task ran %d times, want 1", ran.Load())
	}
}

func TestEnqueueNeedsAnID(t *testing.T) {
	c, err := NewClient(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Enqueue(context.Background(), Job{Task: asynq.NewTask("test:run", nil)}); err == nil {
		t.Error("enqueue without an id succeeded")
	}
}

func TestScheduledJob(t *testing.T) {
	cfg := testConfig(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	at := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	if _, err := c.Enqueue(context.Background(), Job{Task: asynq.NewTask("test:later", nil), ID: "later:1", ProcessAt: at}); err != nil {
		t.Fatal(err)
	}
	insp, err := NewInspector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer insp.Close()
	info, err := insp.GetTaskInfo(cfg.Queue(QueueDefault), "later:1")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateScheduled || !info.NextProcessAt.Equal(at) {
		t.Errorf("task %s at %s, want scheduled at %s", info.State, info.NextProcessAt, at)
	}
}

func TestWithdrawIsIdempotent(t *testing.T) {
	cfg := testConfig(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	job := Job{Task: asynq.NewTask("test:later", nil), ID: "later:2", ProcessAt: time.Now().Add(time.Hour)}
	if _, err := c.Enqueue(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Withdraw("", job.ID); !ok || err != nil {
		t.Fatalf("first withdraw: %v, %v", ok, err)
	}
	if ok, err := c.Withdraw("", job.ID); ok || err != nil {
		t.Fatalf("second withdraw: %v, %v; want false, nil", ok, err)
	}
	// Withdrawn, the id is free again: a rescheduled dialogue may reuse it.
	if ok, err := c.Enqueue(context.Background(), job); !ok || err != nil {
		t.Fatalf("enqueue after withdraw: %v, %v", ok, err)
	}
}

type waitErr time.Duration

func (w waitErr) Error() string             { return "provider says wait" }
func (w waitErr) RetryDelay() time.Duration { return time.Duration(w) }

func TestRetryDelay(t *testing.T) {
	plain := errors.New("failed")
	for n := range 40 {
		want := RetryCap
		if n < 9 {
			want = min(RetryBase<<n, RetryCap)
		}
		seen := map[time.Duration]bool{}
		for range 20 {
			d := RetryDelay(n, plain, nil)
			if d < want/2 || d > want {
				t.Fatalf("retry %d: %s, want within [%s, %s]", n, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("retry %d: always %v, want jitter", n, seen)
		}
		// The delay an error asks for is a floor, through wrapping, and bounded.
		asked := fmt.Errorf("job: %w", waitErr(3*time.Hour))
		if d := RetryDelay(n, asked, nil); d < 3*time.Hour {
			t.Errorf("retry %d asked 3h: %s", n, d)
		}
		if d := RetryDelay(n, waitErr(100*time.Hour), nil); d != MaxRequestedDelay {
			t.Errorf("retry %d asked 100h: %s, want %s", n, d, MaxRequestedDelay)
		}
	}
}

// TestRetryHonoursRequestedDelay runs a task that fails asking for a delay
// and expects the server to schedule its retry no sooner.
func TestRetryHonoursRequestedDelay(t *testing.T) {
	cfg := testConfig(t)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Enqueue(context.Background(), Job{Task: asynq.NewTask("test:wait", nil), ID: "wait:1"}); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan time.Time, 1)
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:wait", func(context.Context, *asynq.Task) error {
		select {
		case failed <- time.Now():
		default:
		}
		return fmt.Errorf("translate: %w", waitErr(2*time.Hour))
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	var at time.Time
	select {
	case at = <-failed:
	case <-time.After(10 * time.Second):
		t.Fatal("task did not run")
	}
	insp, err := NewInspector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer insp.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := insp.GetTaskInfo(cfg.Queue(QueueDefault), "wait:1")
		if err == nil && info.State == asynq.TaskStateRetry {
			if info.NextProcessAt.Before(at.Add(2*time.Hour - time.Second)) {
				t.Errorf("retry at %s, %s after the failure; want at least 2h", info.NextProcessAt, info.NextProcessAt.Sub(at))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not in retry: %+v, %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
