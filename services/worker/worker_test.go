package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newWorker(t *testing.T, now time.Time) (*Service, *asynq.Inspector, jobs.Config) {
	t.Helper()
	cfg := jobs.Config{RedisURL: testenv.RedisURL(t), QueuePrefix: testenv.UniqueName(t) + ":"}
	w, err := New(Deps{Jobs: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.client.Close() })
	insp, err := jobs.NewInspector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { insp.Close() })
	return w, insp, cfg
}

// TestRedeliveredDialogueEventSchedulesDigestsOnce hands the worker the same
// event three times, as JetStream redelivery would, and expects one digest
// per lead time, and none for a lead time already past.
func TestRedeliveredDialogueEventSchedulesDigestsOnce(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	w, insp, cfg := newWorker(t, now)
	startsAt := now.Add(3 * 24 * time.Hour) // too near for the 7-day digest
	env, err := events.New(events.DialogueScheduled, events.Aggregate{Type: "dialogue", ID: "d1", Version: 1},
		&consultationv1.DialogueScheduledEvent{Dialogue: &consultationv1.Dialogue{Id: "d1", StartsAt: timestamppb.New(startsAt)}}, now)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := w.onDialogue(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	scheduled, err := insp.ListScheduledTasks(cfg.Queue(jobs.QueueDefault))
	if err != nil {
		t.Fatal(err)
	}
	if len(scheduled) != 1 {
		t.Fatalf("%d digests scheduled, want 1 (the 1-day one)", len(scheduled))
	}
	if got := scheduled[0]; got.ID != DigestTaskID("d1", 24*time.Hour, startsAt) || !got.NextProcessAt.Equal(startsAt.Add(-24*time.Hour)) {
		t.Errorf("digest %s due %s", got.ID, got.NextProcessAt)
	}
}

func TestUndecodableEventIsPermanent(t *testing.T) {
	now := time.Now()
	w, _, _ := newWorker(t, now)
	env, err := events.New(events.DialogueScheduled, events.Aggregate{Type: "dialogue", ID: "d1", Version: 1},
		&consultationv1.ConsultationOpenedEvent{}, now) // wrong payload type
	if err != nil {
		t.Fatal(err)
	}
	if err := w.onDialogue(context.Background(), env); err == nil {
		t.Fatal("wrong payload accepted")
	}
}
