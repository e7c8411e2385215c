package platform_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
)

// The callers of the authorization table.
const (
	secretariat = "secretariat"
	coleadHere  = "co-lead of the area" // BR, co-lead of cybersecurity
	coleadThere = "co-lead elsewhere"   // MX, co-lead of nothing here
	stakeholder = "stakeholder"
	anonymous   = "anonymous"
)

var callers = []string{secretariat, coleadHere, coleadThere, stakeholder, anonymous}

// fixture is what one call needs to exist before it runs; each call gets
// fresh ones, so that a call that changes state never spoils the next.
type fixture struct {
	dialogue, draft, open, closed, submission, receipt string
	n                                                  int
}

// expect gives the code each caller gets; callers not listed get OK.
type expect map[string]codes.Code

var (
	managersOnly     = expect{coleadThere: codes.PermissionDenied, stakeholder: codes.PermissionDenied, anonymous: codes.Unauthenticated}
	managersOfDrafts = expect{coleadThere: codes.NotFound, stakeholder: codes.PermissionDenied, anonymous: codes.Unauthenticated}
	secretariatOnly  = expect{coleadHere: codes.PermissionDenied, coleadThere: codes.PermissionDenied, stakeholder: codes.PermissionDenied, anonymous: codes.Unauthenticated}
	everyone         = expect{}
	authorOnly       = expect{secretariat: codes.PermissionDenied, coleadHere: codes.PermissionDenied, coleadThere: codes.PermissionDenied, anonymous: codes.PermissionDenied}
)

// TestAuthorizationTable calls every RPC as every kind of caller and checks
// the code each gets: what the policies allow, what object-level checks
// refuse, and that drafts stay invisible to those who do not manage them.
func TestAuthorizationTable(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("cybersecurity", "BR", "ES")
	tokens := map[string]string{
		secretariat: h.token(auth.RoleSecretariat, "", "sec"),
		coleadHere:  h.token(auth.RoleColead, "BR", "colead-br"),
		coleadThere: h.token(auth.RoleColead, "MX", "colead-mx"),
		stakeholder: h.token(auth.RoleStakeholder, "", "ana"),
		anonymous:   "",
	}

	soon := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	es := func(s string) string { return `{"sourceLanguage": "es", "texts": {"es": "` + s + `"}}` }
	names := `{"en": "X", "es": "X", "pt": "X", "fr": "X"}`
	draftBody := `"title": ` + es("Título") + `, "languages": ["es", "en"], "closesAt": "` + soon(10*24*time.Hour) +
		`", "questions": [{"id": "q1", "text": ` + es("Pregunta") + `, "textQuestion": {"maxLength": 100}}]`

	cases := []struct {
		method string
		body   func(fx fixture) string
		want   expect
	}{
		{"ConsultationService.CreateDialogue", func(fixture) string {
			return `{"thematicArea": "cybersecurity", "title": "t", "startsAt": "` + soon(30*24*time.Hour) + `"}`
		}, managersOnly},
		{"ConsultationService.GetDialogue", func(fx fixture) string { return `{"id": "` + fx.dialogue + `"}` }, everyone},
		{"ConsultationService.ListDialogues", func(fixture) string { return `{}` }, everyone},
		{"ConsultationService.UpdateDialogue", func(fx fixture) string {
			return `{"id": "` + fx.dialogue + `", "version": 1, "title": "t2", "startsAt": "` + soon(31*24*time.Hour) + `"}`
		}, managersOnly},
		{"ConsultationService.CancelDialogue", func(fx fixture) string { return `{"id": "` + fx.dialogue + `"}` }, managersOnly},
		{"ConsultationService.CreateConsultation", func(fx fixture) string {
			return `{"dialogueId": "` + fx.dialogue + `", ` + draftBody + `}`
		}, managersOnly},
		{"ConsultationService.GetConsultation", func(fx fixture) string { return `{"id": "` + fx.draft + `"}` },
			expect{coleadThere: codes.NotFound, stakeholder: codes.NotFound, anonymous: codes.NotFound}},
		{"ConsultationService.ListConsultations", func(fixture) string { return `{}` }, everyone},
		{"ConsultationService.UpdateConsultation", func(fx fixture) string {
			return `{"id": "` + fx.draft + `", "version": 1, ` + draftBody + `}`
		}, managersOfDrafts},
		{"ConsultationService.ScheduleConsultation", func(fx fixture) string { return `{"id": "` + fx.draft + `"}` }, managersOfDrafts},
		{"ConsultationService.OpenConsultation", func(fx fixture) string { return `{"id": "` + fx.draft + `"}` }, managersOfDrafts},
		{"ConsultationService.CloseConsultation", func(fx fixture) string { return `{"id": "` + fx.open + `"}` }, managersOnly},
		{"ConsultationService.ExtendConsultation", func(fx fixture) string {
			return `{"id": "` + fx.open + `", "closesAt": "` + soon(20*24*time.Hour) + `"}`
		}, managersOnly},
		{"ConsultationService.ArchiveConsultation", func(fx fixture) string { return `{"id": "` + fx.closed + `"}` }, managersOnly},
		{"ConsultationService.ReviewTranslation", func(fx fixture) string {
			return `{"id": "` + fx.draft + `", "textPath": "title", "language": "en", "text": "Title"}`
		}, managersOfDrafts},
		{"ReferenceService.ListCountries", func(fixture) string { return `{}` }, everyone},
		{"ReferenceService.UpdateCountry", func(fx fixture) string {
			return fmt.Sprintf(`{"code": "PT", "names": {"en": "Portugal %d", "es": "Portugal", "pt": "Portugal", "fr": "Portugal"}}`, fx.n)
		}, secretariatOnly},
		{"ReferenceService.ListThematicAreas", func(fixture) string { return `{}` }, everyone},
		{"ReferenceService.CreateThematicArea", func(fx fixture) string {
			return fmt.Sprintf(`{"id": "area_%d", "names": %s}`, fx.n, names)
		}, secretariatOnly},
		{"ReferenceService.UpdateThematicArea", func(fx fixture) string {
			return fmt.Sprintf(`{"id": "e_governance", "names": {"en": "E-gov %d", "es": "X", "pt": "X", "fr": "X"}}`, fx.n)
		}, secretariatOnly},
		{"ReferenceService.SetThematicAreaCoLeads", func(fixture) string {
			return `{"thematicArea": "connectivity", "countries": ["CO", "IT"]}`
		}, secretariatOnly},
		{"ReferenceService.ListStakeholderTypes", func(fixture) string { return `{}` }, everyone},
		{"ReferenceService.CreateStakeholderType", func(fx fixture) string {
			return fmt.Sprintf(`{"id": "type_%d", "names": %s}`, fx.n, names)
		}, secretariatOnly},
		{"ReferenceService.UpdateStakeholderType", func(fx fixture) string {
			return fmt.Sprintf(`{"id": "academia", "names": {"en": "Academia %d", "es": "X", "pt": "X", "fr": "X"}}`, fx.n)
		}, secretariatOnly},
		{"SubmissionService.CreateSubmission", func(fx fixture) string {
			return `{"consultationId": "` + fx.open + `", "respondent": {"stakeholderType": "academia", "country": "BR"},
				"answers": [{"questionId": "q1", "text": "Sí"}]}`
		}, everyone}, // anyone may answer; a token only adds who answered
		// The fixture's submission is public: everyone may read it (what each
		// caller sees of it is tested in the submission tests).
		{"SubmissionService.GetSubmission", func(fx fixture) string { return `{"id": "` + fx.submission + `"}` }, everyone},
		{"SubmissionService.UpdateSubmission", func(fx fixture) string {
			return `{"id": "` + fx.submission + `", "version": 1, "respondent": {"stakeholderType": "academia", "country": "ES"},
				"answers": [{"questionId": "q1", "text": "No"}]}`
		}, authorOnly},
		{"SubmissionService.WithdrawSubmission", func(fx fixture) string { return `{"id": "` + fx.submission + `"}` }, authorOnly},
		// Open to all; a forged token is bad input whoever sends it.
		{"SubmissionService.ConfirmSubmission", func(fixture) string { return `{"token": "forged.AAAAAAAAAAA.AAAA"}` },
			expect{secretariat: codes.InvalidArgument, coleadHere: codes.InvalidArgument, coleadThere: codes.InvalidArgument,
				stakeholder: codes.InvalidArgument, anonymous: codes.InvalidArgument}},
		{"SubmissionService.ListSubmissions", func(fx fixture) string { return `{"consultationId": "` + fx.open + `"}` }, everyone},
		{"SubmissionService.VerifyReceipt", func(fx fixture) string { return `{"receiptId": "` + fx.receipt + `"}` }, everyone},
		// Open to all; the fixture's consultation asks for no document.
		{"SubmissionService.UploadDocument", func(fx fixture) string {
			return `{"consultationId": "` + fx.open + `", "content": "JVBERi0xLjQK"}`
		}, expect{secretariat: codes.FailedPrecondition, coleadHere: codes.FailedPrecondition, coleadThere: codes.FailedPrecondition,
			stakeholder: codes.FailedPrecondition, anonymous: codes.FailedPrecondition}},
		{"SubmissionService.ExportPersonalData", func(fixture) string { return `{"email": "ana@example.org"}` }, secretariatOnly},
		{"SubmissionService.ErasePersonalData", func(fx fixture) string {
			return fmt.Sprintf(`{"email": "person%d@example.org", "reason": "request %d"}`, fx.n, fx.n)
		}, secretariatOnly},
		{"SubmissionService.ExportOpenData", func(fx fixture) string {
			return `{"consultationId": "` + fx.open + `", "format": "OPEN_DATA_FORMAT_CSV"}`
		}, everyone},
		{"SummaryService.GetSummary", func(fx fixture) string { return `{"consultationId": "` + fx.open + `"}` }, everyone},
	}

	// Every RPC of every API is in the table.
	listed := map[string]bool{}
	for _, tc := range cases {
		listed[tc.method] = true
	}
	for _, sd := range []string{
		consultationv1.ConsultationService_ServiceDesc.ServiceName, consultationv1.ReferenceService_ServiceDesc.ServiceName,
		submissionv1.SubmissionService_ServiceDesc.ServiceName, summaryv1.SummaryService_ServiceDesc.ServiceName,
	} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sd))
		if err != nil {
			t.Fatal(err)
		}
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			if name := string(d.Name()) + "." + string(methods.Get(i).Name()); !listed[name] {
				t.Errorf("%s is missing from the authorization table", name)
			}
		}
	}

	n := 0
	for _, tc := range cases {
		for _, caller := range callers {
			n++
			fx := h.fixtures(t, tokens[secretariat], tokens[stakeholder], n)
			want, listed := tc.want[caller]
			if !listed {
				want = codes.OK
			}
			err := h.invoke(tc.method, tokens[caller], tc.body(fx))
			if got := status.Code(err); got != want {
				t.Errorf("%s as %s: %s (%v), want %s", tc.method, caller, got, err, want)
			}
		}
	}
}

// fixtures makes a dialogue of cybersecurity with a draft, an open and a
// closed consultation, and a submission by the stakeholder to the open one.
func (h *harness) fixtures(t *testing.T, secretariat, stakeholder string, n int) fixture {
	t.Helper()
	fx := fixture{n: n}
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	ctx := h.grpcCtx(secretariat)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{ThematicArea: "cybersecurity", Title: "Cyber",
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	fx.dialogue = d.GetDialogue().GetId()
	newConsultation := func() string {
		c, err := cs.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
			DialogueId: fx.dialogue, Title: es("Título"), Languages: []string{"es", "en"},
			Questions: []*consultationv1.Question{{Id: "q1", Text: es("Pregunta"),
				Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 100}}}},
			OpensAt:  timestamppb.New(time.Now().Add(24 * time.Hour)),
			ClosesAt: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetConsultation().GetId()
	}
	fx.draft = newConsultation()
	fx.open = newConsultation()
	fx.closed = newConsultation()
	for _, id := range []string{fx.open, fx.closed} {
		if _, err := cs.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CloseConsultation(ctx, &consultationv1.CloseConsultationRequest{Id: fx.closed}); err != nil {
		t.Fatal(err)
	}
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "submission to a fresh consultation", func() error {
		s, err := ss.CreateSubmission(h.grpcCtx(stakeholder), &submissionv1.CreateSubmissionRequest{
			ConsultationId: fx.open, Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "ES",
				ContactEmail: fmt.Sprintf("person%d@example.org", n)},
			Answers: []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: "Sí"}}},
		})
		fx.submission = s.GetSubmission().GetId()
		fx.receipt = s.GetSubmission().GetReceipt().GetReceiptId()
		return err
	})
	return fx
}

// invoke calls method ("Service.Method") with a JSON request.
func (h *harness) invoke(method, token, body string) error {
	svc, name, _ := strings.Cut(method, ".")
	var full protoreflect.FullName
	for _, pkg := range []string{"consulta.consultation.v1.", "consulta.submission.v1.", "consulta.summary.v1."} {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(pkg + svc)); err == nil {
			full = protoreflect.FullName(pkg + svc)
		}
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(full)
	if err != nil {
		return fmt.Errorf("no service %s", svc)
	}
	m := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
	in, _ := protoregistry.GlobalTypes.FindMessageByName(m.Input().FullName())
	out, _ := protoregistry.GlobalTypes.FindMessageByName(m.Output().FullName())
	req := in.New().Interface()
	if err := protojson.Unmarshal([]byte(body), req); err != nil {
		return fmt.Errorf("request %s: %w", method, err)
	}
	ctx, cancel := context.WithTimeout(h.grpcCtx(token), 10*time.Second)
	defer cancel()
	if !m.IsStreamingServer() {
		return h.grpcConn.Invoke(ctx, "/"+string(full)+"/"+name, req, out.New().Interface())
	}
	stream, err := h.grpcConn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/"+string(full)+"/"+name)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(req); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		if err := stream.RecvMsg(out.New().Interface()); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
