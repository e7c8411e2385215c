package platform_test

import (
	"context"
	"net/http"
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

func es(text string) *consultationv1.LocalizedText {
	return &consultationv1.LocalizedText{SourceLanguage: "es", Texts: map[string]string{"es": text}}
}

// openConsultation creates a dialogue and an open consultation over gRPC and
// waits until the submission service's read model has it open.
func openConsultation(t *testing.T, h *harness, colead string) *consultationv1.Consultation {
	t.Helper()
	ctx := h.grpcCtx(colead)
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{
		ThematicArea: "cybersecurity", Title: "Cyber dialogue",
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatalf("CreateDialogue: %v", err)
	}
	c, err := cs.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
		DialogueId: d.GetDialogue().GetId(),
		Title:      es("Ciberseguridad"),
		Languages:  []string{"es", "en"},
		Questions: []*consultationv1.Question{
			{Id: "q1", Required: true, Text: es("Pregunta uno"),
				Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 50}}},
		},
		ClosesAt: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatalf("CreateConsultation: %v", err)
	}
	o, err := cs.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: c.GetConsultation().GetId()})
	if err != nil {
		t.Fatalf("OpenConsultation: %v", err)
	}
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "read model has the consultation open", func() error {
		// An unknown question id is refused only once the questionnaire is
		// known: a cheap probe that writes nothing.
		_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: o.GetConsultation().GetId(),
			Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "ES"},
			Answers:        []*submissionv1.Answer{{QuestionId: "probe", Value: &submissionv1.Answer_Text{Text: "x"}}},
		})
		if status.Code(err) != codes.InvalidArgument {
			return err
		}
		return nil
	})
	return o.GetConsultation()
}

func TestBadSubmissionsAreRefusedAndWriteNothing(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("cybersecurity", "BR", "ES")
	colead := h.token(auth.RoleColead, "ES", "colead-es")
	stakeholder := h.token(auth.RoleStakeholder, "", "ana")
	open := openConsultation(t, h, colead)
	closed := openConsultation(t, h, colead)
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	if _, err := cs.CloseConsultation(h.grpcCtx(colead), &consultationv1.CloseConsultationRequest{Id: closed.GetId()}); err != nil {
		t.Fatalf("CloseConsultation: %v", err)
	}
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "read model has the consultation closed", func() error {
		_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: closed.GetId(),
			Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "ES"},
			Answers:        []*submissionv1.Answer{{QuestionId: "probe", Value: &submissionv1.Answer_Text{Text: "x"}}},
		})
		if status.Code(err) != codes.FailedPrecondition {
			return err
		}
		return nil
	})

	valid := func(consultationID string) *submissionv1.CreateSubmissionRequest {
		return &submissionv1.CreateSubmissionRequest{
			ConsultationId: consultationID,
			Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "ES"},
			Language:       "es",
			Answers:        []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: "Sí"}}},
		}
	}
	expired, err := h.key.MintAt(auth.Principal{Subject: "ana", Role: auth.RoleStakeholder}, time.Now().Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		token    string
		mutate   func(r *submissionv1.CreateSubmissionRequest)
		code     codes.Code
		mentions []string
	}{
		{"unknown consultation", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.ConsultationId = "0190b6c4-0000-7000-8000-000000000000"
		}, codes.NotFound, []string{"consultation_id"}},
		{"closed consultation", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.ConsultationId = closed.GetId()
		}, codes.FailedPrecondition, []string{"consultation_id", "closed"}},
		{"missing required answer", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Answers = nil
		}, codes.InvalidArgument, []string{"answers", `"q1" is required`}},
		{"unknown question id", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Answers = append(r.Answers, &submissionv1.Answer{QuestionId: "q9", Value: &submissionv1.Answer_Text{Text: "?"}})
		}, codes.InvalidArgument, []string{"answers[1].question_id", `"q9"`}},
		{"text over the question's limit", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Answers[0].Value = &submissionv1.Answer_Text{Text: strings.Repeat("a", 51)}
		}, codes.InvalidArgument, []string{"answers[0].text", "limit of 50"}},
		{"text over the hard cap", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Answers[0].Value = &submissionv1.Answer_Text{Text: strings.Repeat("a", 100001)}
		}, codes.InvalidArgument, []string{"answers[0].text"}},
		{"language the consultation does not offer", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Language = "de"
		}, codes.InvalidArgument, []string{"language"}},
		{"unknown stakeholder type", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Respondent.StakeholderType = "lobbyist"
		}, codes.InvalidArgument, []string{"respondent.stakeholder_type"}},
		{"not a country", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Respondent.Country = "XX"
		}, codes.InvalidArgument, []string{"respondent.country"}},
		{"transparency register number malformed", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Respondent.TransparencyRegisterId = "12345"
		}, codes.InvalidArgument, []string{"respondent.transparency_register_id"}},
		{"contact address malformed", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Respondent.ContactEmail = "not an address"
		}, codes.InvalidArgument, []string{"respondent.contact_email"}},
		{"name over its limit", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Respondent.PersonName = strings.Repeat("n", 201)
		}, codes.InvalidArgument, []string{"respondent.person_name"}},
		{"idempotency key over its limit", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.IdempotencyKey = strings.Repeat("k", 129)
		}, codes.InvalidArgument, []string{"idempotency_key"}},
		{"publication that does not exist", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Publication = 42
		}, codes.InvalidArgument, []string{"publication"}},
		{"scale answer to a text question", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Answers[0].Value = &submissionv1.Answer_Scale{Scale: 3}
		}, codes.InvalidArgument, []string{"answers[0]", "takes a text answer"}},
		{"file that was never uploaded", stakeholder, func(r *submissionv1.CreateSubmissionRequest) {
			r.Answers[0].Value = &submissionv1.Answer_File{File: &submissionv1.FileRef{BlobId: "nope"}}
		}, codes.InvalidArgument, []string{"answers[0]"}},
		{"expired token", expired, nil, codes.Unauthenticated, []string{"expired"}},
		{"forged token", forgedToken(t), nil, codes.Unauthenticated, []string{"authorization"}},
	}
	before := countRows(t, h.pool, "submission.submissions") + countRows(t, h.pool, "submission.submission_versions") +
		countRows(t, h.pool, "submission.receipts") + countRows(t, h.pool, "submission.mail_outbox")
	outboxBefore := countRows(t, h.pool, "submission.outbox")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := valid(open.GetId())
			if tc.mutate != nil {
				tc.mutate(r)
			}
			_, err := ss.CreateSubmission(h.grpcCtx(tc.token), r)
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("code = %s (%s), want %s", st.Code(), st.Message(), tc.code)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(st.Message(), m) {
					t.Errorf("message %q does not mention %q", st.Message(), m)
				}
			}
		})
	}
	if after := countRows(t, h.pool, "submission.submissions") + countRows(t, h.pool, "submission.submission_versions") +
		countRows(t, h.pool, "submission.receipts") + countRows(t, h.pool, "submission.mail_outbox"); after != before {
		t.Errorf("bad submissions wrote %d rows", after-before)
	}
	if after := countRows(t, h.pool, "submission.outbox"); after != outboxBefore {
		t.Errorf("bad submissions wrote %d outbox events", after-outboxBefore)
	}

	// The valid request, for contrast, is accepted.
	if _, err := ss.CreateSubmission(h.grpcCtx(stakeholder), valid(open.GetId())); err != nil {
		t.Fatalf("valid submission refused: %v", err)
	}
}

// TestRESTMapsErrorsToHTTP checks that the gateway keeps the field names and
// turns codes into the matching HTTP statuses.
func TestRESTMapsErrorsToHTTP(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	stakeholder := h.token(auth.RoleStakeholder, "", "ana")
	code, body := h.rest("POST", "/v1/dialogues", stakeholder, map[string]any{"thematicArea": "cybersecurity"}, nil)
	if code != http.StatusForbidden {
		t.Errorf("stakeholder creating a dialogue: %d %s, want 403", code, body)
	}
	code, body = h.rest("POST", "/v1/dialogues", "", map[string]any{"thematicArea": "cybersecurity"}, nil)
	if code != http.StatusUnauthorized {
		t.Errorf("anonymous creating a dialogue: %d %s, want 401", code, body)
	}
	code, body = h.rest("POST", "/v1/consultations/0190b6c4-0000-7000-8000-000000000000/submissions", stakeholder,
		map[string]any{"respondent": map[string]any{"stakeholderType": "academia", "country": "ES"}}, nil)
	if code != http.StatusNotFound || !strings.Contains(body, "consultation_id") {
		t.Errorf("submission to unknown consultation: %d %s, want 404 naming consultation_id", code, body)
	}
	colead := h.token(auth.RoleColead, "ES", "colead-es")
	code, body = h.rest("POST", "/v1/dialogues", colead, map[string]any{
		"thematicArea": "cybersecurity", "title": "t", "venueCountry": "es",
		"startsAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "venue_country") {
		t.Errorf("lower-case country: %d %s, want 400 naming venue_country", code, body)
	}
}

// TestBadConsultationsAreRefusedAndWriteNothing sends each bad draft of
// issue 3's list through gRPC: each gets InvalidArgument naming the field,
// and no row or event is written.
func TestBadConsultationsAreRefusedAndWriteNothing(t *testing.T) {
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
	valid := func() *consultationv1.CreateConsultationRequest {
		return &consultationv1.CreateConsultationRequest{
			DialogueId: d.GetDialogue().GetId(), Title: es("IA"), Languages: []string{"es", "en"},
			Questions: []*consultationv1.Question{
				{Id: "q1", Text: es("Uno"), Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 10}}},
				{Id: "q2", Text: es("Dos"), Kind: &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{
					Options: []*consultationv1.Option{{Id: "a", Label: es("A")}}}}},
			},
			OpensAt:  timestamppb.New(time.Now().Add(24 * time.Hour)),
			ClosesAt: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
		}
	}
	cases := []struct {
		name   string
		mutate func(r *consultationv1.CreateConsultationRequest)
		field  string
	}{
		{"deadline before the opening", func(r *consultationv1.CreateConsultationRequest) {
			r.ClosesAt = timestamppb.New(r.GetOpensAt().AsTime().Add(-time.Hour))
		}, "closes_at"},
		{"empty questionnaire", func(r *consultationv1.CreateConsultationRequest) { r.Questions = nil }, "questions"},
		{"choice question without options", func(r *consultationv1.CreateConsultationRequest) {
			r.Questions[1].GetChoiceQuestion().Options = nil
		}, "questions[1].choice_question.options"},
		{"language that is not BCP 47", func(r *consultationv1.CreateConsultationRequest) { r.Languages = []string{"es", "castellano"} }, "languages[1]"},
		{"duplicated question ids", func(r *consultationv1.CreateConsultationRequest) { r.Questions[1].Id = "q1" }, "questions[1].id"},
		{"text over its limit", func(r *consultationv1.CreateConsultationRequest) {
			r.Title = es(strings.Repeat("a", 20001))
		}, "title.texts"},
		{"unknown audience", func(r *consultationv1.CreateConsultationRequest) { r.Audience = []string{"astronauts"} }, "audience"},
	}
	rows := func() int {
		return countRows(t, h.pool, "consultation.consultations") + countRows(t, h.pool, "consultation.outbox")
	}
	before := rows()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.mutate(r)
			_, err := cs.CreateConsultation(ctx, r)
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.field) {
				t.Errorf("got %s %q, want InvalidArgument naming %s", st.Code(), st.Message(), tc.field)
			}
		})
	}
	if after := rows(); after != before {
		t.Errorf("bad drafts wrote %d rows", after-before)
	}
	if _, err := cs.CreateConsultation(ctx, valid()); err != nil {
		t.Errorf("the valid draft was refused: %v", err)
	}
}
