package platform_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// TestReadModelFollowsEveryEdit edits a consultation many times through the
// API and checks that the submission service's read model, fed only by the
// event stream, ends at the source's version and validates against the last
// questionnaire.
func TestReadModelFollowsEveryEdit(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("e_governance", "UY", "PT")
	ctx := h.grpcCtx(h.token(auth.RoleColead, "UY", "colead-uy"))
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{ThematicArea: "e_governance", Title: "E-gov",
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	draft := func(maxLength int32) *consultationv1.UpdateConsultationRequest {
		return &consultationv1.UpdateConsultationRequest{
			Title: es("Gobierno digital"), Languages: []string{"es", "pt"},
			Questions: []*consultationv1.Question{{Id: "q1", Required: true, Text: es(fmt.Sprintf("Pregunta, versión %d", maxLength)),
				Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: maxLength}}}},
			ClosesAt: timestamppb.New(time.Now().Add(20 * 24 * time.Hour).Truncate(time.Second)),
		}
	}
	first := draft(10)
	c, err := cs.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{DialogueId: d.GetDialogue().GetId(),
		Title: first.Title, Languages: first.Languages, Questions: first.Questions, ClosesAt: first.ClosesAt})
	if err != nil {
		t.Fatal(err)
	}
	cur := c.GetConsultation()
	for i := int32(11); i <= 30; i++ {
		req := draft(i)
		req.Id, req.Version, req.ClosesAt = cur.GetId(), cur.GetVersion(), cur.GetClosesAt()
		u, err := cs.UpdateConsultation(ctx, req)
		if err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
		cur = u.GetConsultation()
	}
	// A stale version is refused and changes nothing.
	stale := draft(99)
	stale.Id, stale.Version, stale.ClosesAt = cur.GetId(), cur.GetVersion()-1, cur.GetClosesAt()
	if _, err := cs.UpdateConsultation(ctx, stale); status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "version") {
		t.Fatalf("stale edit: %v, want Aborted naming version", err)
	}
	o, err := cs.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: cur.GetId(), Version: cur.GetVersion()})
	if err != nil {
		t.Fatal(err)
	}
	want := o.GetConsultation().GetVersion()

	eventually(t, 10*time.Second, "read model at the source's version", func() error {
		var got int64
		if err := h.pool.QueryRow(context.Background(),
			`SELECT version FROM submission.consultations WHERE id = $1`, cur.GetId()).Scan(&got); err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("read model at version %d, source at %d", got, want)
		}
		return nil
	})
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	answer := func(text string) error {
		_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: cur.GetId(), Respondent: &submissionv1.Respondent{StakeholderType: "government", Country: "UY"},
			Answers: []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: text}}},
		})
		return err
	}
	if err := answer(strings.Repeat("x", 31)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("31 characters against the last limit of 30: %v", err)
	}
	if err := answer(strings.Repeat("x", 30)); err != nil {
		t.Errorf("30 characters: %v", err)
	}
}
