package platform_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

// TestListingConsultations filters by thematic area, language, status and
// co-lead country, sorts by deadline and pages with tokens; drafts appear
// only to those who manage them.
func TestListingConsultations(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("cybersecurity", "BR", "ES")
	h.assignCoLeads("connectivity", "JM", "IE")
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	sec := h.grpcCtx(h.token(auth.RoleSecretariat, "", "sec"))

	// Seven consultations with distinct deadlines, created in a shuffled
	// order: area, languages and whether they get opened vary.
	type spec struct {
		area  string
		days  int
		langs []string
		open  bool
	}
	specs := []spec{
		{"cybersecurity", 9, []string{"es", "en"}, true},
		{"connectivity", 3, []string{"en"}, true},
		{"cybersecurity", 5, []string{"es", "pt"}, false},
		{"connectivity", 7, []string{"en", "fr"}, true},
		{"cybersecurity", 2, []string{"es"}, true},
		{"cybersecurity", 8, []string{"es", "en"}, true},
		{"connectivity", 4, []string{"en"}, false},
	}
	dialogues := map[string]string{}
	for _, area := range []string{"cybersecurity", "connectivity"} {
		d, err := cs.CreateDialogue(sec, &consultationv1.CreateDialogueRequest{ThematicArea: area, Title: area,
			StartsAt: timestamppb.New(time.Now().Add(30 * 24 * time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		dialogues[area] = d.GetDialogue().GetId()
	}
	byDeadline := map[int]string{}
	for _, s := range specs {
		text := &consultationv1.LocalizedText{SourceLanguage: s.langs[0], Texts: map[string]string{s.langs[0]: "T"}}
		c, err := cs.CreateConsultation(sec, &consultationv1.CreateConsultationRequest{
			DialogueId: dialogues[s.area], Title: text, Languages: s.langs,
			Questions: []*consultationv1.Question{{Id: "q", Text: text,
				Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 5}}}},
			ClosesAt: timestamppb.New(time.Now().Add(time.Duration(s.days) * 24 * time.Hour)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.open {
			if _, err := cs.OpenConsultation(sec, &consultationv1.OpenConsultationRequest{Id: c.GetConsultation().GetId()}); err != nil {
				t.Fatal(err)
			}
		}
		byDeadline[s.days] = c.GetConsultation().GetId()
	}
	ids := func(days ...int) []string {
		var out []string
		for _, d := range days {
			out = append(out, byDeadline[d])
		}
		return out
	}
	list := func(token string, req *consultationv1.ListConsultationsRequest) []string {
		t.Helper()
		var out []string
		for page := 0; ; page++ {
			resp, err := cs.ListConsultations(h.grpcCtx(token), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.GetConsultations() {
				out = append(out, c.GetId())
			}
			if resp.GetNextPageToken() == "" {
				return out
			}
			if page > 10 {
				t.Fatal("pagination does not end")
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}
	open := consultationv1.ConsultationStatus_CONSULTATION_STATUS_OPEN
	draft := consultationv1.ConsultationStatus_CONSULTATION_STATUS_DRAFT
	secretariat := h.token(auth.RoleSecretariat, "", "sec")
	cases := []struct {
		name  string
		token string
		req   *consultationv1.ListConsultationsRequest
		want  []string
	}{
		{"public, by deadline, two per page", "", &consultationv1.ListConsultationsRequest{PageSize: 2}, ids(2, 3, 7, 8, 9)},
		{"by thematic area", "", &consultationv1.ListConsultationsRequest{ThematicArea: "connectivity"}, ids(3, 7)},
		{"by language", "", &consultationv1.ListConsultationsRequest{Language: "EN"}, ids(3, 7, 8, 9)},
		{"by co-lead country", "", &consultationv1.ListConsultationsRequest{ColeadCountry: "BR", PageSize: 1}, ids(2, 8, 9)},
		{"drafts are not public", "", &consultationv1.ListConsultationsRequest{
			Statuses: []consultationv1.ConsultationStatus{draft}}, nil},
		{"the secretariat sees every draft", secretariat, &consultationv1.ListConsultationsRequest{
			Statuses: []consultationv1.ConsultationStatus{draft}}, ids(4, 5)},
		{"a co-lead sees the drafts of their areas", h.token(auth.RoleColead, "JM", "jm"), &consultationv1.ListConsultationsRequest{
			Statuses: []consultationv1.ConsultationStatus{draft, open}}, ids(2, 3, 4, 7, 8, 9)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.token, tc.req); !slices.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", names(byDeadline, got), names(byDeadline, tc.want))
			}
		})
	}
	if _, err := cs.ListConsultations(sec, &consultationv1.ListConsultationsRequest{PageToken: "forged"}); err == nil {
		t.Error("a forged page token was accepted")
	}
}

// names shows consultation ids as the deadlines that tell them apart.
func names(byDeadline map[int]string, ids []string) []string {
	var out []string
	for _, id := range ids {
		for d, x := range byDeadline {
			if x == id {
				out = append(out, fmt.Sprintf("%dd", d))
			}
		}
	}
	return out
}
