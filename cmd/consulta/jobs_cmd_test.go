package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// TestJobsFailed: a job that failed for good is listed by `consulta jobs
// failed` with its state, type, id and the error its handler returned; an
// operator without Redis is told what to set.
func TestJobsFailed(t *testing.T) {
	cfg := jobs.Config{RedisURL: testenv.RedisURL(t), QueuePrefix: testenv.UniqueName(t) + ":", PollInterval: 50 * time.Millisecond}
	jobsFailed := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := realMain(context.Background(), append([]string{"jobs", "failed"}, args...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := jobsFailed("--redis-url", cfg.RedisURL, "--queue-prefix", cfg.QueuePrefix); err != nil || !strings.Contains(out, "no failed jobs") {
		t.Fatalf("before any job: %q, %v", out, err)
	}

	c, err := jobs.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Enqueue(context.Background(), jobs.Job{Task: asynq.NewTask("digest:send", []byte("{")), ID: "digest:dialogue:d1"}); err != nil {
		t.Fatal(err)
	}
	srv, err := jobs.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc("digest:send", func(context.Context, *asynq.Task) error {
		return fmt.Errorf("decode digest:send: unexpected end of JSON input\nsecond line: %w", asynq.SkipRetry)
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := jobsFailed("--redis-url", cfg.RedisURL, "--queue-prefix", cfg.QueuePrefix)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "digest:dialogue:d1") {
			for _, want := range []string{"archived", "default", "digest:send", "unexpected end of JSON input second line"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed job is not listed:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Setenv("REDIS_URL", "")
	if _, err := jobsFailed(); err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("without Redis: %v", err)
	}
}
