package grpcserver

import (
	"slices"
	"testing"

	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

// TestNULViolationsNameEveryPath: a NUL is found at any depth (a nested
// message, an element of a list, a map value and a map key, a oneof) and
// named by its path; a request without one passes.
func TestNULViolationsNameEveryPath(t *testing.T) {
	req := &consultationv1.CreateConsultationRequest{
		DialogueId: "d\x00",
		Title:      &consultationv1.LocalizedText{SourceLanguage: "es", Texts: map[string]string{"es": "T\x00ítulo", "pt\x00": "x"}},
		Languages:  []string{"es", "p\x00t"},
		Questions: []*consultationv1.Question{
			{Id: "q1", Text: &consultationv1.LocalizedText{Texts: map[string]string{"es": "ok"}}},
			{Id: "q2", Text: &consultationv1.LocalizedText{Texts: map[string]string{"es": "\x00"}},
				Kind: &consultationv1.Question_ChoiceQuestion{ChoiceQuestion: &consultationv1.ChoiceQuestion{
					Options: []*consultationv1.Option{{Id: "a\x00"}}}}},
		},
	}
	var got []string
	for _, v := range nulViolations(req.ProtoReflect()) {
		if v.Description != nulDescription && v.Description != "a key "+nulDescription {
			t.Errorf("%s: description %q", v.Field, v.Description)
		}
		got = append(got, v.Field)
	}
	for _, want := range []string{
		"dialogue_id", `title.texts["es"]`, "title.texts", "languages[1]",
		`questions[1].text.texts["es"]`, "questions[1].choice_question.options[0].id",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("violations %q do not name %s", got, want)
		}
	}
	if len(got) != 6 {
		t.Errorf("violations %q, want 6", got)
	}

	clean := &consultationv1.CreateConsultationRequest{DialogueId: "d", Languages: []string{"es"},
		Title: &consultationv1.LocalizedText{Texts: map[string]string{"es": "Título"}}}
	if v := nulViolations(clean.ProtoReflect()); len(v) != 0 {
		t.Errorf("a clean request has violations %v", v)
	}

	many := &consultationv1.CreateConsultationRequest{}
	for range 1000 {
		many.Languages = append(many.Languages, "\x00")
	}
	if v := nulViolations(many.ProtoReflect()); len(v) != maxNULViolations {
		t.Errorf("1000 bad strings gave %d violations, want at most %d", len(v), maxNULViolations)
	}
}
