package platform_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
)

// TestChangeTooLargeToRelayIsRefused: a draft whose every text is within its
// limit but whose event would be larger than NATS takes is refused when it
// is written, InvalidArgument naming the questions, and writes nothing: it
// never becomes an outbox row that cannot be published.
func TestChangeTooLargeToRelayIsRefused(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("ai_hpc", "CL", "DE")
	ctx := h.grpcCtx(h.token(auth.RoleColead, "CL", "colead-cl"))
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{ThematicArea: "ai_hpc", Title: "IA",
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	req := &consultationv1.CreateConsultationRequest{
		DialogueId: d.GetDialogue().GetId(), Title: es("IA"), Languages: []string{"es", "en"},
		ClosesAt: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
	}
	// 60 questions of 20,000 characters each (the limit of one text):
	// 1.2 MB of event, over NATS's default max_payload of 1 MiB.
	for i := range 60 {
		req.Questions = append(req.Questions, &consultationv1.Question{Id: fmt.Sprintf("q%d", i), Text: es(strings.Repeat("a", 20000)),
			Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 100}}})
	}
	rows := func() int {
		return countRows(t, h.pool, "consultation.consultations") + countRows(t, h.pool, "consultation.outbox")
	}
	before := rows()
	_, err = cs.CreateConsultation(ctx, req)
	if st := status.Convert(err); st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	if v := grpcserver.FieldViolations(err); len(v) != 1 || v[0].Field != "questions" || !strings.Contains(v[0].Description, "too large") {
		t.Fatalf("violations %v, want one about questions", v)
	}
	if after := rows(); after != before {
		t.Fatalf("the refused draft wrote %d rows", after-before)
	}
	req.Questions = req.Questions[:10]
	if _, err := cs.CreateConsultation(ctx, req); err != nil {
		t.Fatalf("a draft of a sane size was refused: %v", err)
	}
}
