package background_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/background"
)

// TestStagesStopInOrder: a stage is cancelled only once every part of the
// stage before it has returned, however long they take, and parts of one
// stage stop together.
func TestStagesStopInOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	note := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	part := func(name string, stage background.Stage, linger time.Duration) background.Part {
		return background.Part{Name: name, Stage: stage, Run: func(ctx context.Context) error {
			<-ctx.Done()
			note("cancel " + name)
			time.Sleep(linger) // draining
			note("done " + name)
			return ctx.Err()
		}}
	}
	// Listed out of order on purpose.
	parts := []background.Part{
		part("relay", background.Relays, 0),
		part("job server", background.Jobs, 30*time.Millisecond),
		part("consumer a", background.Consumers, 50*time.Millisecond),
		part("consumer b", background.Consumers, 10*time.Millisecond),
	}
	g := background.Start(context.Background(), parts, func(name string, err error) {
		t.Errorf("%s failed: %v", name, err)
	})
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if len(log) != 0 {
		t.Fatalf("parts stopped before Stop: %v", log)
	}
	mu.Unlock()
	g.Stop()

	at := func(s string) int { return slices.Index(log, s) }
	for _, s := range []string{"done consumer a", "done consumer b", "done job server", "done relay"} {
		if at(s) < 0 {
			t.Fatalf("%q missing: %v", s, log)
		}
	}
	if at("cancel consumer a") > at("done consumer b") || at("cancel consumer b") > at("done consumer a") {
		t.Errorf("the parts of one stage were not cancelled together: %v", log)
	}
	if at("cancel job server") < at("done consumer a") || at("cancel job server") < at("done consumer b") {
		t.Errorf("the job server was cancelled before the consumers had stopped: %v", log)
	}
	if at("cancel relay") < at("done job server") {
		t.Errorf("the relay was cancelled before the job server had stopped: %v", log)
	}
}

// TestFailuresAreReported: a part's error reaches fail with its name; a
// part that stops because it was cancelled is no failure; the context
// passed to Start does not stop the parts.
func TestFailuresAreReported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	failed := map[string]error{}
	quietDone := make(chan struct{})
	g := background.Start(ctx, []background.Part{
		{Name: "broken", Stage: background.Consumers, Run: func(context.Context) error { return errors.New("no database") }},
		{Name: "quiet", Stage: background.Relays, Run: func(ctx context.Context) error {
			defer close(quietDone)
			<-ctx.Done()
			return fmt.Errorf("stopping: %w", ctx.Err())
		}},
	}, func(name string, err error) {
		mu.Lock()
		failed[name] = err
		mu.Unlock()
	})
	cancel()
	select {
	case <-quietDone:
		t.Fatal("cancelling Start's context stopped a part")
	case <-time.After(50 * time.Millisecond):
	}
	g.Stop()
	if len(failed) != 1 || failed["broken"] == nil {
		t.Errorf("failures: %v, want broken only", failed)
	}
}
