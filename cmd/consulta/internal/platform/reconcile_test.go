package platform_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker"
)

// queueTasks lists the ids of every task in the test's default queue, in
// every state, sorted; an id twice would show a duplicate.
func queueTasks(t *testing.T, h *harness) []string {
	t.Helper()
	insp, err := jobs.NewInspector(h.jobs)
	if err != nil {
		t.Fatal(err)
	}
	defer insp.Close()
	q := h.jobs.Queue(jobs.QueueDefault)
	var ids []string
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		insp.ListScheduledTasks, insp.ListPendingTasks, insp.ListActiveTasks, insp.ListRetryTasks, insp.ListCompletedTasks,
	} {
		tasks, err := list(q, asynq.PageSize(1000))
		if err != nil && !strings.Contains(err.Error(), "does not exist") {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			ids = append(ids, ti.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// flushQueue deletes every Redis key of the test's queue, as a Redis
// without persistence loses them on a restart (FLUSHDB, limited to this
// test's keys so that parallel tests keep theirs).
func flushQueue(t *testing.T, h *harness) {
	t.Helper()
	opts, err := redis.ParseURL(h.jobs.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	pattern := "asynq:{" + h.jobs.Queue(jobs.QueueDefault) + "}:*"
	keys, err := rdb.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("no keys match %s", pattern)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestJobsAreRebuiltAfterRedisLosesThem: a planned dialogue's digests and a
// published consultation's translation job are in Redis; Redis loses them;
// the worker's reconciler puts each back, exactly once, from the
// consultation service's data, and further reconciliations add nothing.
func TestJobsAreRebuiltAfterRedisLosesThem(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) { c.ReconcileInterval = 200 * time.Millisecond })
	h.assignCoLeads("cybersecurity", "CL", "EE")
	api := consultationv1.NewConsultationServiceClient(h.grpcConn)
	ctx := h.grpcCtx(h.token(auth.RoleColead, "CL", "colead-cl"))

	startsAt := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second)
	d, err := api.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{
		ThematicArea: "cybersecurity", Title: "Ciberseguridad", StartsAt: timestamppb.New(startsAt)})
	if err != nil {
		t.Fatal(err)
	}
	dialogueID := d.GetDialogue().GetId()
	// A cancelled dialogue has no digests, before or after.
	cancelled, err := api.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{
		ThematicArea: "cybersecurity", Title: "Cancelado", StartsAt: timestamppb.New(startsAt.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CancelDialogue(ctx, &consultationv1.CancelDialogueRequest{
		Id: cancelled.GetDialogue().GetId(), Version: cancelled.GetDialogue().GetVersion()}); err != nil {
		t.Fatal(err)
	}
	created, err := api.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
		DialogueId: dialogueID, Title: es("Ciberseguridad"), Languages: []string{"es", "pt"},
		Questions: []*consultationv1.Question{{Id: "q1", Text: es("¿Qué propone?"),
			Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 500}}}},
		ClosesAt: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetConsultation()
	if _, err := api.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: c.GetId(), Version: c.GetVersion()}); err != nil {
		t.Fatal(err)
	}
	current, err := api.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: c.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		worker.DigestTaskID(dialogueID, 7*24*time.Hour, startsAt),
		worker.DigestTaskID(dialogueID, 24*time.Hour, startsAt),
		// No translator is configured: the job runs, the Portuguese texts
		// stay missing, and the job stays wanted.
		worker.TranslateConsultationTaskID(c.GetId(), current.GetConsultation().GetVersion(), "pt"),
	}
	slices.Sort(want)
	has := func(ids []string) error {
		for _, id := range want {
			if !slices.Contains(ids, id) {
				return fmt.Errorf("task %s missing from %v", id, ids)
			}
		}
		return nil
	}
	eventually(t, 15*time.Second, "the jobs of the dialogue and the consultation are in Redis", func() error {
		return has(queueTasks(t, h))
	})

	// Nothing else re-creates jobs (the events were acknowledged long
	// ago), so what comes back after the flush is the reconciler's doing.
	// The queue is not checked empty in between: the reconciler, every
	// 200ms, may already be at work.
	flushQueue(t, h)
	eventually(t, 15*time.Second, "the reconciler re-created every job", func() error {
		ids := queueTasks(t, h)
		if !slices.Equal(ids, want) {
			return fmt.Errorf("tasks %v, want exactly %v", ids, want)
		}
		return nil
	})
	// Several more reconciliations add nothing.
	time.Sleep(time.Second)
	if ids := queueTasks(t, h); !slices.Equal(ids, want) {
		t.Fatalf("after more reconciliations: %v, want exactly %v", ids, want)
	}
	info, err := taskInfo(h, jobs.QueueDefault, want[slices.Index(want, worker.DigestTaskID(dialogueID, 24*time.Hour, startsAt))])
	if err != nil {
		t.Fatal(err)
	}
	if !info.NextProcessAt.Equal(startsAt.Add(-24 * time.Hour)) {
		t.Errorf("re-created digest due %s, want %s", info.NextProcessAt, startsAt.Add(-24*time.Hour))
	}
}
