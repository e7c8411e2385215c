package platform_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
)

// openAreaConsultation has the secretariat open a consultation of area with
// one text question, and returns its id as soon as OpenConsultation
// returned.
func openAreaConsultation(t *testing.T, h *harness, area string) string {
	t.Helper()
	ctx := h.grpcCtx(h.token(auth.RoleSecretariat, "", "sec"))
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{ThematicArea: area, Title: "Dialogue of " + area,
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour))})
	if err != nil {
		t.Fatalf("CreateDialogue: %v", err)
	}
	c, err := cs.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
		DialogueId: d.GetDialogue().GetId(), Title: es("Consulta"), Languages: []string{"es"},
		Questions: []*consultationv1.Question{{Id: "q1", Required: true, Text: es("¿Qué propone?"),
			Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 500}}}},
		ClosesAt: timestamppb.New(time.Now().Add(10 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatalf("CreateConsultation: %v", err)
	}
	id := c.GetConsultation().GetId()
	if _, err := cs.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: id}); err != nil {
		t.Fatalf("OpenConsultation: %v", err)
	}
	return id
}

// TestCoLeadChangeTakesEffectAtOnce reassigns the co-leads of a thematic
// area whose consultation has confidential submissions: within a second the
// country removed reads only what the public reads (its listing leaves the
// confidential ones out, GetSubmission answers NotFound), the country added
// reads everything, and the country kept still does.
func TestCoLeadChangeTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("ai_hpc", "AR", "DE")
	id := openAreaConsultation(t, h, "ai_hpc")
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "the submission service knows the consultation is open", func() error {
		_, err := ss.ListSubmissions(context.Background(), &submissionv1.ListSubmissionsRequest{ConsultationId: id})
		return err
	})
	var confidential, public []string
	for i, p := range []consultationv1.Publication{
		consultationv1.Publication_PUBLICATION_PUBLIC_NAMED, consultationv1.Publication_PUBLICATION_CONFIDENTIAL,
		consultationv1.Publication_PUBLICATION_PUBLIC_ANONYMOUS, consultationv1.Publication_PUBLICATION_CONFIDENTIAL,
	} {
		r, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: id, Language: "es", Answers: answer(fmt.Sprintf("Propuesta %d", i)), Publication: p,
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "UY", OrganisationName: fmt.Sprintf("Org %d", i)},
		})
		if err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
		if p == consultationv1.Publication_PUBLICATION_CONFIDENTIAL {
			confidential = append(confidential, r.GetSubmission().GetId())
		} else {
			public = append(public, r.GetSubmission().GetId())
		}
	}
	all := append(slices.Clone(public), confidential...)
	slices.Sort(all)
	slices.Sort(public)

	// reads returns what a co-lead of country reads: the ids its listing
	// holds, and the confidential submissions GetSubmission gives it.
	reads := func(country string) (listed, got []string, err error) {
		ctx := h.grpcCtx(h.token(auth.RoleColead, country, "colead-"+country))
		r, err := ss.ListSubmissions(ctx, &submissionv1.ListSubmissionsRequest{ConsultationId: id})
		if err != nil {
			return nil, nil, fmt.Errorf("ListSubmissions: %w", err)
		}
		for _, s := range r.GetSubmissions() {
			listed = append(listed, s.GetId())
		}
		slices.Sort(listed)
		for _, c := range confidential {
			_, err := ss.GetSubmission(ctx, &submissionv1.GetSubmissionRequest{Id: c})
			switch status.Code(err) {
			case codes.OK:
				got = append(got, c)
			case codes.NotFound:
			default:
				return nil, nil, fmt.Errorf("GetSubmission %s: %w", c, err)
			}
		}
		return listed, got, nil
	}
	// seesAll and seesPublic are what a co-lead and a former co-lead read.
	seesAll := func(country string) error {
		listed, got, err := reads(country)
		if err != nil {
			return err
		}
		if !slices.Equal(listed, all) || len(got) != len(confidential) {
			return fmt.Errorf("%s lists %v and gets %d of %d confidential submissions; a co-lead reads all %v",
				country, listed, len(got), len(confidential), all)
		}
		return nil
	}
	seesPublic := func(country string) error {
		listed, got, err := reads(country)
		if err != nil {
			return err
		}
		if !slices.Equal(listed, public) || len(got) != 0 {
			return fmt.Errorf("%s lists %v and gets confidential submissions %v; it should read only the public %v",
				country, listed, got, public)
		}
		return nil
	}
	for _, check := range []error{seesAll("AR"), seesAll("DE"), seesPublic("CL")} {
		if check != nil {
			t.Fatalf("before the change: %v", check)
		}
	}

	h.assignCoLeads("ai_hpc", "CL", "DE") // AR out, CL in
	changed := time.Now()
	// Poll for at most a second after the change was acknowledged.
	deadline := changed.Add(time.Second)
	for {
		errs := []error{seesPublic("AR"), seesAll("CL"), seesAll("DE")}
		if !slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
			t.Logf("the change took effect %v after it was acknowledged", time.Since(changed).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second after the co-leads changed: %v", errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And stays so.
	for _, check := range []error{seesPublic("AR"), seesAll("CL"), seesAll("DE")} {
		if check != nil {
			t.Errorf("after the change: %v", check)
		}
	}
}
