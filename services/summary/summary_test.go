package summary

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/inbox"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/summary/internal/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// handler is the summary's consumer handler on pool, as Run builds it.
func handler(pool *pgxpool.Pool) consumer.Handler {
	return inbox.Handler(pool, store.Schema, SubmissionsConsumer, project)
}

// sub describes one state of a submission, as its events carry it.
type sub struct {
	id, consultation, stakeholderType, region string
	version                                   int64
	status                                    submissionv1.SubmissionStatus
}

// event is the envelope of eventType carrying s.
func event(t *testing.T, eventType string, s sub) *eventsv1.Envelope {
	t.Helper()
	snap := &submissionv1.SubmissionSnapshot{
		Id: s.id, ConsultationId: s.consultation, StakeholderType: s.stakeholderType, Region: s.region,
		Country: "BR", Version: s.version, Status: s.status, UpdateTime: timestamppb.Now(),
	}
	var payload proto.Message
	switch eventType {
	case events.SubmissionReceived:
		payload = &submissionv1.SubmissionReceivedEvent{Submission: snap}
	case events.SubmissionConfirmed:
		payload = &submissionv1.SubmissionConfirmedEvent{Submission: snap}
	case events.SubmissionUpdated:
		payload = &submissionv1.SubmissionUpdatedEvent{Submission: snap}
	case events.SubmissionWithdrawn:
		payload = &submissionv1.SubmissionWithdrawnEvent{Submission: snap}
	case events.SubmissionExpired:
		payload = &submissionv1.SubmissionExpiredEvent{Submission: snap}
	case events.SubmissionErased:
		payload = &submissionv1.SubmissionErasedEvent{SubmissionId: s.id, ConsultationId: s.consultation, Version: s.version}
	default:
		t.Fatalf("no test event %s", eventType)
	}
	env, err := events.New(eventType, events.Aggregate{Type: "submission", ID: s.id, Version: s.version}, payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// counts is what GetSummary would answer for consultation, as one map:
// "total", "type:<stakeholder type>" and "region:<region>".
func counts(t *testing.T, pool *pgxpool.Pool, consultation string) map[string]int64 {
	t.Helper()
	c, err := store.New(pool).Counts(context.Background(), consultation)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{"total": c.Total}
	for k, n := range c.ByStakeholderType {
		out["type:"+k] = n
	}
	for k, n := range c.ByRegion {
		out["region:"+k] = n
	}
	return out
}

func apply(t *testing.T, h consumer.Handler, envs ...*eventsv1.Envelope) {
	t.Helper()
	for _, env := range envs {
		if err := h(context.Background(), env); err != nil {
			t.Fatalf("apply %s v%d: %v", env.GetType(), env.GetAggregateVersion(), err)
		}
	}
}

// lifecycle is one submission's events, in the order the submission
// service emits them: received pending confirmation, confirmed, moved to
// another stakeholder type and region by an edit, withdrawn, erased.
func lifecycle(t *testing.T, consultation string) []*eventsv1.Envelope {
	id := uuid.NewString()
	s := sub{id: id, consultation: consultation, stakeholderType: "academia", region: "LAC", version: 1,
		status: submissionv1.SubmissionStatus_SUBMISSION_STATUS_PENDING_CONFIRMATION}
	received := event(t, events.SubmissionReceived, s)
	s.status = submissionv1.SubmissionStatus_SUBMISSION_STATUS_ACTIVE
	confirmed := event(t, events.SubmissionConfirmed, s)
	s.version, s.stakeholderType, s.region = 2, "civil_society", "EU"
	updated := event(t, events.SubmissionUpdated, s)
	s.version, s.status = 3, submissionv1.SubmissionStatus_SUBMISSION_STATUS_WITHDRAWN
	withdrawn := event(t, events.SubmissionWithdrawn, s)
	s.version = 4
	erased := event(t, events.SubmissionErased, s)
	return []*eventsv1.Envelope{received, confirmed, updated, withdrawn, erased}
}

// TestProjectionFollowsTheLifecycle applies a submission's events in order
// and checks the counts after each: not counted while pending confirmation,
// counted once confirmed, moved by an edit, uncounted when withdrawn, and
// unchanged by erasure.
func TestProjectionFollowsTheLifecycle(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	h := handler(pool)
	consultation := uuid.NewString()
	evs := lifecycle(t, consultation)
	want := []map[string]int64{
		{"total": 0},
		{"total": 1, "type:academia": 1, "region:LAC": 1},
		{"total": 1, "type:civil_society": 1, "region:EU": 1},
		{"total": 0},
		{"total": 0},
	}
	for i, env := range evs {
		apply(t, h, env)
		if got := counts(t, pool, consultation); !maps.Equal(got, want[i]) {
			t.Errorf("after %s: %v, want %v", env.GetType(), got, want[i])
		}
	}
	// A second submission, received without confirmation, counts at once.
	other := event(t, events.SubmissionReceived, sub{id: uuid.NewString(), consultation: consultation,
		stakeholderType: "academia", region: "EU", version: 1, status: submissionv1.SubmissionStatus_SUBMISSION_STATUS_ACTIVE})
	apply(t, h, other)
	if got, want := counts(t, pool, consultation), map[string]int64{"total": 1, "type:academia": 1, "region:EU": 1}; !maps.Equal(got, want) {
		t.Errorf("after a second submission: %v, want %v", got, want)
	}
}

// TestRedeliveredEventsChangeNothing applies every event of two submissions
// three times, and an old state again under a new event id: the counts are
// those of one application.
func TestRedeliveredEventsChangeNothing(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	h := handler(pool)
	consultation := uuid.NewString()
	kept := lifecycle(t, consultation)[:3] // ends counted, as civil society in the EU
	gone := lifecycle(t, consultation)     // ends withdrawn
	for range 3 {
		apply(t, h, kept...)
		apply(t, h, gone...)
	}
	want := map[string]int64{"total": 1, "type:civil_society": 1, "region:EU": 1}
	if got := counts(t, pool, consultation); !maps.Equal(got, want) {
		t.Errorf("after three deliveries: %v, want %v", got, want)
	}
	// The first state of each, republished under a new id (as a relay that
	// lost its mark would after JetStream forgot the first copy), is older
	// than what the projection holds.
	for _, first := range []*eventsv1.Envelope{kept[0], gone[0]} {
		again := proto.Clone(first).(*eventsv1.Envelope)
		again.Id = uuid.Must(uuid.NewV7()).String()
		apply(t, h, again)
	}
	if got := counts(t, pool, consultation); !maps.Equal(got, want) {
		t.Errorf("after old states under new ids: %v, want %v", got, want)
	}
}

// TestReorderedEventsConverge applies a submission's events in every
// order, one submission per order: whatever the order, each ends where its
// last state says. Once with lifecycles that end counted (received,
// confirmed, edited), once with lifecycles that end withdrawn.
func TestReorderedEventsConverge(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t)
	h := handler(pool)
	for _, n := range []int{3, 4} {
		consultation := uuid.NewString()
		orders := permutations(n)
		for _, order := range orders {
			evs := lifecycle(t, consultation)[:n]
			for _, i := range order {
				apply(t, h, evs[i])
			}
		}
		want := map[string]int64{"total": 0} // withdrawn last
		if n == 3 {
			// Edited last: counted as civil society in the EU.
			k := int64(len(orders))
			want = map[string]int64{"total": k, "type:civil_society": k, "region:EU": k}
		}
		if got := counts(t, pool, consultation); !maps.Equal(got, want) {
			t.Errorf("the first %d events in all %d orders: %v, want %v", n, len(orders), got, want)
		}
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestConcurrentReplicasCountASubmissionOnce runs the projection as several
// replicas, each with its own connection pool, and hands each replica a
// different first event of the same submission at the same moment (its
// receipt, a confirmation, edits): however their transactions interleave,
// the submission counts once. Repeated for many submissions, since a race
// shows only sometimes.
func TestConcurrentReplicasCountASubmissionOnce(t *testing.T) {
	t.Parallel()
	const replicas, rounds = 4, 60
	dbURL := testenv.DatabaseURL(t)
	handlers := make([]consumer.Handler, replicas)
	pools := make([]*pgxpool.Pool, replicas)
	for i := range replicas {
		pool, err := pgxpool.New(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		// Connect before the rounds, so the replicas start each round
		// ready, not staggered by their connection set-up.
		if err := pool.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		pools[i], handlers[i] = pool, handler(pool)
	}
	consultation := uuid.NewString()
	for round := range rounds {
		id := uuid.NewString()
		// Replica 0 gets the receipt (pending confirmation), replica 1 the
		// confirmation, the others edits: every event but the first counts
		// the submission.
		evs := make([]*eventsv1.Envelope, replicas)
		s := sub{id: id, consultation: consultation, stakeholderType: "academia", region: "LAC", version: 1,
			status: submissionv1.SubmissionStatus_SUBMISSION_STATUS_PENDING_CONFIRMATION}
		evs[0] = event(t, events.SubmissionReceived, s)
		s.status = submissionv1.SubmissionStatus_SUBMISSION_STATUS_ACTIVE
		evs[1] = event(t, events.SubmissionConfirmed, s)
		for i := 2; i < replicas; i++ {
			s.version = int64(i)
			evs[i] = event(t, events.SubmissionUpdated, s)
		}
		start := make(chan struct{})
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = handlers[i](context.Background(), evs[i])
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, replica %d: %v", round, i, err)
			}
		}
		want := map[string]int64{"total": int64(round + 1), "type:academia": int64(round + 1), "region:LAC": int64(round + 1)}
		if got := counts(t, pools[0], consultation); !maps.Equal(got, want) {
			t.Fatalf("after round %d: %v, want %v: its submission counted %d times", round, got, want, got["total"]-int64(round))
		}
	}
}
