package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

const consultationID = "0190b6c4-0000-7000-8000-0000000000aa"

// closesAt is a deadline a year from the real now, so that a submission the
// clock of the app under test accepts today is still on time whatever the date.
var closesAt = time.Now().UTC().Truncate(time.Second).AddDate(1, 0, 0)

func consultationAt(version int64, status consultationv1.ConsultationStatus) *consultationv1.Consultation {
	return &consultationv1.Consultation{
		Id: consultationID, Version: version, Status: status,
		Languages: []string{"es"}, ClosesAt: timestamppb.New(closesAt),
		Questions: []*consultationv1.Question{{Id: "q1", Kind: &consultationv1.Question_TextQuestion{
			TextQuestion: &consultationv1.TextQuestion{MaxLength: int32(100 * version)}}}},
	}
}

func envelope(t *testing.T, typ string, payload proto.Message, version int64) *eventsv1.Envelope {
	t.Helper()
	env, err := events.New(typ, events.Aggregate{Type: "consultation", ID: consultationID, Version: version}, payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestReadModelConvergesWhateverTheOrder applies one history in several
// orders, with repeats, and expects the latest version every time.
func TestReadModelConvergesWhateverTheOrder(t *testing.T) {
	ctx := context.Background()
	history := []*eventsv1.Envelope{
		envelope(t, events.ConsultationDrafted, &consultationv1.ConsultationDraftedEvent{
			Consultation: consultationAt(1, consultationv1.ConsultationStatus_CONSULTATION_STATUS_DRAFT)}, 1),
		envelope(t, events.ConsultationOpened, &consultationv1.ConsultationOpenedEvent{
			Consultation: consultationAt(2, consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN)}, 2),
		envelope(t, events.ConsultationClosed, &consultationv1.ConsultationClosedEvent{
			Consultation: consultationAt(3, consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED)}, 3),
	}
	orders := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0, 1}, {0, 0, 2, 2, 1}}
	for _, order := range orders {
		pool := testenv.Pool(t)
		for _, i := range order {
			err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return ApplyConsultationEvent(ctx, tx, history[i]) })
			if err != nil {
				t.Fatalf("order %v: apply event %d: %v", order, i, err)
			}
		}
		got, err := store.New(pool).Consultation(ctx, consultationID)
		if err != nil {
			t.Fatal(err)
		}
		want := ReadModel(consultationAt(3, consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED))
		if got.Version != 3 || got.Status != domain.StatusClosed || got.Questions[0].MaxLength != want.Questions[0].MaxLength {
			t.Errorf("order %v: read model = %+v, want %+v", order, got, want)
		}
	}
}

// TestReadModelFollowsALongHistory edits one consultation 25 times (its
// questionnaire, languages, audience, deadline and status change along the
// way), then delivers the events in five random orders with random
// redeliveries. Every order must end with the read model of the last version.
func TestReadModelFollowsALongHistory(t *testing.T) {
	ctx := context.Background()
	const versions = 25
	var history []*eventsv1.Envelope
	var last *consultationv1.Consultation
	for v := int64(1); v <= versions; v++ {
		c := consultationAt(v, consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN)
		c.Languages = []string{"es", "en", "pt"}[:1+v%3]
		c.Audience = []string{"academia", "civil_society"}[:v%2+1]
		c.ClosesAt = timestamppb.New(closesAt.Add(time.Duration(v) * time.Hour))
		c.Questions = append(c.Questions, &consultationv1.Question{Id: fmt.Sprintf("r%d", v%4), Kind: &consultationv1.Question_RankingQuestion{
			RankingQuestion: &consultationv1.RankingQuestion{RankCount: int32(v % 3), Options: []*consultationv1.Option{{Id: "a"}, {Id: "b"}, {Id: "c"}}},
		}})
		typ, payload := events.ConsultationUpdated, proto.Message(&consultationv1.ConsultationUpdatedEvent{Consultation: c})
		if v == versions {
			c.Status = consultationv1.ConsultationStatus_CONSULTATION_STATUS_CLOSED
			typ, payload = events.ConsultationClosed, &consultationv1.ConsultationClosedEvent{Consultation: c}
		}
		history = append(history, envelope(t, typ, payload, v))
		last = c
	}
	want := ReadModel(last)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 5 {
		order := rng.Perm(len(history))
		for range 10 { // redeliveries
			order = append(order, rng.IntN(len(history)))
		}
		pool := testenv.Pool(t)
		for _, i := range order {
			err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return ApplyConsultationEvent(ctx, tx, history[i]) })
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		got, err := store.New(pool).Consultation(ctx, consultationID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalised(got), normalised(want)) {
			t.Errorf("round %d (order %v):\n got %+v\nwant %+v", round, order, got, want)
		}
	}
}

// normalised makes times comparable after a trip through JSON.
func normalised(c domain.Consultation) domain.Consultation {
	c.ClosesAt = c.ClosesAt.UTC()
	return c
}
