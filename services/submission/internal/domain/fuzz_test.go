package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheck feeds arbitrary answers to the validation of a questionnaire
// with every kind of question. It must never panic, and whatever it accepts
// must respect the questionnaire: known questions, answered once, each
// within its limits.
func FuzzCheck(f *testing.F) {
	f.Add("text", "olá", "b", 3, "x,z", "es")
	f.Add("one", "", "a,b", 0, "", "pt-BR")
	f.Add("many", "x", "a,d", 6, "z,x,y", "??")
	f.Add("rank", "\xff\xfe", "", -1, "x,x", "")
	f.Fuzz(func(t *testing.T, qid, text, choice string, scale int, ranking, lang string) {
		s := Submission{
			Respondent: Respondent{StakeholderType: "academia", Country: "PT"},
			Language:   lang,
			Answers: []Answer{
				{QuestionID: "text", Kind: AnswerText, Text: text},
				{QuestionID: qid, Kind: AnswerChoice, Options: split(choice)},
				{QuestionID: "scale", Kind: AnswerScale, Scale: scale},
				{QuestionID: "rank", Kind: AnswerRanking, Options: split(ranking)},
			},
		}
		if err := questionnaire.Check(&s); err != nil {
			return
		}
		seen := map[string]bool{}
		for _, a := range s.Answers {
			if seen[a.QuestionID] {
				t.Fatalf("question %q answered twice was accepted", a.QuestionID)
			}
			seen[a.QuestionID] = true
			var q *Question
			for i := range questionnaire.Questions {
				if questionnaire.Questions[i].ID == a.QuestionID {
					q = &questionnaire.Questions[i]
				}
			}
			if q == nil {
				t.Fatalf("unknown question %q accepted", a.QuestionID)
			}
			switch q.Kind {
			case KindText:
				if !utf8.ValidString(a.Text) || utf8.RuneCountInString(a.Text) > q.MaxLength {
					t.Fatalf("text %q accepted for a limit of %d", a.Text, q.MaxLength)
				}
			case KindScale:
				if a.Scale < 1 || a.Scale > 5 {
					t.Fatalf("scale %d accepted", a.Scale)
				}
			case KindChoice:
				if !q.Multiple && len(a.Options) > 1 {
					t.Fatalf("%d options accepted for a single choice", len(a.Options))
				}
			}
		}
		if s.Language != "es" && s.Language != "pt-BR" {
			t.Fatalf("language %q accepted", s.Language)
		}
	})
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
