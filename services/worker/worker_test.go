package worker

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"google.golang.org/protobuf/proto"
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
	// Asynq compares due times with the real clock, so the test's clock is the
	// real one: a fixed date would turn scheduled digests into ready ones
	// once it passed.
	now := time.Now().UTC().Truncate(time.Second)
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

// TestRescheduledAndCancelledDialoguesMoveTheirDigests follows a dialogue
// through a reschedule and a cancellation, each event delivered twice.
func TestRescheduledAndCancelledDialoguesMoveTheirDigests(t *testing.T) {
	// Asynq compares due times with the real clock, so the test's clock is the
	// real one: a fixed date would turn scheduled digests into ready ones
	// once it passed.
	now := time.Now().UTC().Truncate(time.Second)
	w, insp, cfg := newWorker(t, now)
	first := now.Add(30 * 24 * time.Hour)
	second := now.Add(45 * 24 * time.Hour)
	dialogue := func(start time.Time, v int64) *consultationv1.Dialogue {
		return &consultationv1.Dialogue{Id: "d2", Version: v, StartsAt: timestamppb.New(start)}
	}
	deliverTwice := func(typ string, payload proto.Message, v int64) {
		t.Helper()
		env, err := events.New(typ, events.Aggregate{Type: "dialogue", ID: "d2", Version: v}, payload, now)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := w.onDialogue(context.Background(), env); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
		}
	}
	scheduledIDs := func() []string {
		t.Helper()
		tasks, err := insp.ListScheduledTasks(cfg.Queue(jobs.QueueDefault))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ti := range tasks {
			ids = append(ids, ti.ID)
		}
		slices.Sort(ids)
		return ids
	}
	digestIDs := func(start time.Time) []string {
		ids := []string{DigestTaskID("d2", 7*24*time.Hour, start), DigestTaskID("d2", 24*time.Hour, start)}
		slices.Sort(ids)
		return ids
	}

	deliverTwice(events.DialogueScheduled, &consultationv1.DialogueScheduledEvent{Dialogue: dialogue(first, 1)}, 1)
	if got := scheduledIDs(); !slices.Equal(got, digestIDs(first)) {
		t.Fatalf("after scheduling: %v", got)
	}
	deliverTwice(events.DialogueUpdated, &consultationv1.DialogueUpdatedEvent{
		Dialogue: dialogue(second, 2), PreviousStartsAt: timestamppb.New(first)}, 2)
	if got := scheduledIDs(); !slices.Equal(got, digestIDs(second)) {
		t.Fatalf("after rescheduling: %v, want %v", got, digestIDs(second))
	}
	deliverTwice(events.DialogueUpdated, &consultationv1.DialogueUpdatedEvent{Dialogue: dialogue(second, 3)}, 3)
	if got := scheduledIDs(); !slices.Equal(got, digestIDs(second)) {
		t.Fatalf("after an update that kept the start: %v", got)
	}
	deliverTwice(events.DialogueCancelled, &consultationv1.DialogueCancelledEvent{Dialogue: dialogue(second, 4)}, 4)
	if got := scheduledIDs(); len(got) != 0 {
		t.Fatalf("after cancelling: %v", got)
	}
}
