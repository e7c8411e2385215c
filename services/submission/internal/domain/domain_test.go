package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
)

var now = time.Now().UTC().Truncate(time.Second)

var questionnaire = Consultation{
	ID: "c1", Version: 3, Status: StatusOpen, ClosesAt: now.Add(time.Hour), Languages: []string{"es", "pt-BR"},
	Questions: []Question{
		{ID: "text", Required: true, Kind: KindText, MaxLength: 10},
		{ID: "one", Kind: KindChoice, Options: []string{"a", "b", "c"}},
		{ID: "many", Kind: KindChoice, Multiple: true, MinChoices: 2, MaxChoices: 3, Options: []string{"a", "b", "c", "d"}},
		{ID: "scale", Kind: KindScale},
		{ID: "rank", Kind: KindRanking, RankCount: 2, Options: []string{"x", "y", "z"}},
		{ID: "paper", Kind: KindFile, MaxBytes: 1 << 20},
	},
	Audience: []string{"academia", "civil_society"},
}

func valid() Submission {
	return Submission{
		Respondent: Respondent{StakeholderType: "academia", Country: "PT"},
		Language:   "pt-br",
		Answers: []Answer{
			{QuestionID: "text", Kind: AnswerText, Text: "olá"},
			{QuestionID: "one", Kind: AnswerChoice, Options: []string{"b"}},
			{QuestionID: "many", Kind: AnswerChoice, Options: []string{"a", "d"}},
			{QuestionID: "scale", Kind: AnswerScale, Scale: 4},
			{QuestionID: "rank", Kind: AnswerRanking, Options: []string{"z", "x"}},
		},
	}
}

func TestCheckAcceptsValid(t *testing.T) {
	s := valid()
	if err := questionnaire.Check(&s); err != nil {
		t.Fatal(err)
	}
	if s.Language != "pt-BR" {
		t.Errorf("language = %s, want the canonical pt-BR", s.Language)
	}
	s.Language = ""
	if err := questionnaire.Check(&s); err != nil || s.Language != "es" {
		t.Errorf("empty language: %v, %s; want the consultation's first language", err, s.Language)
	}
}

func TestCheckRefuses(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *Submission)
		field  string
	}{
		{"missing required", func(s *Submission) { s.Answers = s.Answers[1:] }, "answers"},
		{"empty required", func(s *Submission) { s.Answers[0].Text = "" }, "answers"},
		{"unknown question", func(s *Submission) {
			s.Answers = append(s.Answers, Answer{QuestionID: "nope", Kind: AnswerText, Text: "x"})
		}, "answers[5].question_id"},
		{"answered twice", func(s *Submission) { s.Answers = append(s.Answers, s.Answers[0]) }, "answers[5].question_id"},
		{"text too long", func(s *Submission) { s.Answers[0].Text = "ñññññññññññ" }, "answers[0].text"},
		{"choice for a text question", func(s *Submission) {
			s.Answers[0] = Answer{QuestionID: "text", Kind: AnswerChoice, Options: []string{"a"}}
		}, "answers[0]"},
		{"text for a choice question", func(s *Submission) { s.Answers[1] = Answer{QuestionID: "one", Kind: AnswerText, Text: "b"} }, "answers[1]"},
		{"unknown option", func(s *Submission) { s.Answers[1].Options = []string{"z"} }, "answers[1].choice.option_ids[0]"},
		{"two options for single choice", func(s *Submission) { s.Answers[1].Options = []string{"a", "b"} }, "answers[1].choice.option_ids"},
		{"too few options", func(s *Submission) { s.Answers[2].Options = []string{"a"} }, "answers[2].choice.option_ids"},
		{"too many options", func(s *Submission) { s.Answers[2].Options = []string{"a", "b", "c", "d"} }, "answers[2].choice.option_ids"},
		{"scale out of range", func(s *Submission) { s.Answers[3].Scale = 6 }, "answers[3].scale"},
		{"ranking too short", func(s *Submission) { s.Answers[4].Options = []string{"x"} }, "answers[4].ranking.option_ids"},
		{"ranking repeats an option", func(s *Submission) { s.Answers[4].Options = []string{"x", "x"} }, "answers[4].ranking.option_ids[1]"},
		{"ranking unknown option", func(s *Submission) { s.Answers[4].Options = []string{"x", "q"} }, "answers[4].ranking.option_ids[1]"},
		{"file answer without a document", func(s *Submission) {
			s.Answers = append(s.Answers, Answer{QuestionID: "paper", Kind: AnswerFile})
		}, "answers[5].file.blob_id"},
		{"outside the audience", func(s *Submission) { s.Respondent.StakeholderType = "private_sector" }, "respondent.stakeholder_type"},
		{"language not offered", func(s *Submission) { s.Language = "fr" }, "language"},
		{"not a language", func(s *Submission) { s.Language = "??" }, "language"},
		{"not a country", func(s *Submission) { s.Respondent.Country = "QQ" }, "respondent.country"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			tc.mutate(&s)
			err := questionnaire.Check(&s)
			var list apperr.List
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an apperr.List", err)
			}
			for _, e := range list {
				if e.Field == tc.field {
					return
				}
			}
			t.Errorf("no error about %s in %v", tc.field, err)
		})
	}
}

func TestAccepts(t *testing.T) {
	if err := questionnaire.Accepts(now); err != nil {
		t.Errorf("open consultation: %v", err)
	}
	late := questionnaire
	if err := late.Accepts(late.ClosesAt); err == nil || !strings.Contains(err.Error(), "closed at") {
		t.Errorf("at the deadline: %v", err)
	}
	for status, kind := range map[string]apperr.Kind{StatusClosed: apperr.KindFailedPrecondition, StatusDraft: apperr.KindNotFound} {
		c := questionnaire
		c.Status = status
		var e *apperr.Error
		if err := c.Accepts(now); !errors.As(err, &e) || e.Kind != kind {
			t.Errorf("status %s: %v, want kind %v", status, err, kind)
		}
	}
}

func TestFileAnswersAreListedForTheCaller(t *testing.T) {
	s := valid()
	s.Answers = append(s.Answers, Answer{QuestionID: "paper", Kind: AnswerFile, BlobID: "b1"})
	if err := questionnaire.Check(&s); err != nil {
		t.Fatal(err)
	}
	files := questionnaire.FileAnswers(s)
	if len(files) != 1 || files[0].BlobID != "b1" || files[0].MaxBytes != 1<<20 || files[0].Field != "answers[5].file.blob_id" {
		t.Errorf("file answers: %+v", files)
	}
}

// Answers each within their limits but too long together are refused with
// an error about the answers, before anything is stored or relayed.
func TestCheckRefusesTooMuchTextInAll(t *testing.T) {
	c := Consultation{ID: "c", Status: StatusOpen, ClosesAt: now.Add(time.Hour), Languages: []string{"en"}}
	s := Submission{Respondent: Respondent{StakeholderType: "academia", Country: "PT"}}
	for i := range 3 {
		id := string(rune('a' + i))
		c.Questions = append(c.Questions, Question{ID: id, Kind: KindText})
		s.Answers = append(s.Answers, Answer{QuestionID: id, Kind: AnswerText, Text: strings.Repeat("é", MaxTextCharacters/2)})
	}
	err := c.Check(&s)
	var list apperr.List
	if !errors.As(err, &list) || len(list) != 1 || list[0].Field != "answers" || !strings.Contains(list[0].Msg, "150000") {
		t.Fatalf("err = %v, want one error about answers naming the 150000 characters", err)
	}
	s.Answers = s.Answers[:2]
	if err := c.Check(&s); err != nil {
		t.Fatalf("exactly the limit refused: %v", err)
	}
}
