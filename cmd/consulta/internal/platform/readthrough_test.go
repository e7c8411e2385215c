package platform_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/submission"
)

// pauseConsumer stops JetStream from delivering to durable until the test
// ends (or a minute passes), once the platform has created it.
func pauseConsumer(t *testing.T, h *harness, durable string) {
	t.Helper()
	js := natsJS(t, h)
	eventually(t, 10*time.Second, "consumer "+durable+" exists", func() error {
		_, err := js.Consumer(context.Background(), events.StreamName, durable)
		return err
	})
	pause := func(until time.Time) (*jetstream.ConsumerPauseResponse, error) {
		return js.PauseConsumer(context.Background(), events.StreamName, durable, until)
	}
	r, err := pause(time.Now().Add(time.Minute))
	if err != nil || !r.Paused {
		t.Fatalf("pause %s: %v %+v", durable, err, r)
	}
	t.Cleanup(func() {
		if _, err := js.ResumeConsumer(context.Background(), events.StreamName, durable); err != nil {
			t.Logf("resume %s: %v", durable, err)
		}
	})
}

// TestSubmissionRightAfterOpeningIsNeverNotFound submits to consultations
// the moment OpenConsultation returns, with the consumer that feeds the
// submission service's read model of consultations paused, so that the read
// model cannot have caught up: every submission is accepted all the same
// (the service reads the consultation through from the consultation
// service), 40 consultations one submission each, then 40 submissions at
// once to a 41st. A consultation that does not exist, or is a draft, is
// still NotFound.
func TestSubmissionRightAfterOpeningIsNeverNotFound(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("connectivity", "CO", "IT")
	pauseConsumer(t, h, submission.ConsultationsConsumer)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	submit := func(id string, n int) error {
		_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es", Answers: answer(fmt.Sprintf("Respuesta %d", n)),
			Respondent: &submissionv1.Respondent{StakeholderType: "tech_community", Country: "CO"},
		})
		return err
	}
	const n = 40
	for i := range n {
		id := openAreaConsultation(t, h, "connectivity")
		if err := submit(id, i); err != nil {
			t.Errorf("submission to consultation %d, right after it opened: %v", i, err)
		}
	}

	id := openAreaConsultation(t, h, "connectivity")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = submit(id, i)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent submission %d, right after the opening: %v", i, err)
		}
	}
	var stored int
	if err := h.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM submission.submissions WHERE consultation_id = $1`, id).Scan(&stored); err != nil || stored != n {
		t.Errorf("%d submissions stored (%v), want %d", stored, err, n)
	}

	// Genuinely missing: an id nobody created, and a draft (which the
	// public may not see).
	if err := submit(uuid.NewString(), 0); status.Code(err) != codes.NotFound {
		t.Errorf("submission to an unknown consultation: %v, want NotFound", err)
	}
	ctx := h.grpcCtx(h.token(auth.RoleSecretariat, "", "sec"))
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	c, err := cs.GetConsultation(ctx, &consultationv1.GetConsultationRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	draft, err := cs.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
		DialogueId: c.GetConsultation().GetDialogueId(), Title: es("Borrador"), Languages: []string{"es"},
		Questions: c.GetConsultation().GetQuestions(), ClosesAt: c.GetConsultation().GetClosesAt(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := submit(draft.GetConsultation().GetId(), 0); status.Code(err) != codes.NotFound {
		t.Errorf("submission to a draft: %v, want NotFound", err)
	}
}
