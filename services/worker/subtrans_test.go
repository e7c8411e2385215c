package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/events"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker/internal/tasks"
)

// TestSubmissionEventsBecomeTranslationJobs: a received submission and each
// edit (a new version) with text answers become one translation job per
// version, whatever the redeliveries, holding ids and counts only; a
// version without text asks for nothing.
func TestSubmissionEventsBecomeTranslationJobs(t *testing.T) {
	now := time.Now()
	w, insp, cfg := newWorker(t, now)
	snap := func(version int64, textLen int32) *submissionv1.SubmissionSnapshot {
		s := &submissionv1.SubmissionSnapshot{Id: "s1", ConsultationId: "c1", Version: version, Language: "pt"}
		s.Answered = append(s.Answered, &submissionv1.AnsweredQuestion{QuestionId: "q2",
			Value: &submissionv1.AnsweredQuestion_Scale{Scale: 3}})
		if textLen > 0 {
			s.Answered = append(s.Answered, &submissionv1.AnsweredQuestion{QuestionId: "q1",
				Value: &submissionv1.AnsweredQuestion_Text{Text: &submissionv1.TextAnswered{Characters: textLen}}})
		}
		return s
	}
	received, err := events.New(events.SubmissionReceived, events.Aggregate{Type: "submission", ID: "s1", Version: 1},
		&submissionv1.SubmissionReceivedEvent{Submission: snap(1, 40)}, now)
	if err != nil {
		t.Fatal(err)
	}
	updated, err := events.New(events.SubmissionUpdated, events.Aggregate{Type: "submission", ID: "s1", Version: 2},
		&submissionv1.SubmissionUpdatedEvent{Submission: snap(2, 50)}, now)
	if err != nil {
		t.Fatal(err)
	}
	noText, err := events.New(events.SubmissionUpdated, events.Aggregate{Type: "submission", ID: "s1", Version: 3},
		&submissionv1.SubmissionUpdatedEvent{Submission: snap(3, 0)}, now)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, env := range []*eventsv1.Envelope{received, updated, noText} {
			if err := w.onSubmission(context.Background(), env); err != nil {
				t.Fatal(err)
			}
		}
	}
	pending, err := insp.ListPendingTasks(cfg.Queue(jobs.QueueDefault))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tasks.TranslateSubmission{}
	for _, ti := range pending {
		var p tasks.TranslateSubmission
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatal(err)
		}
		got[ti.ID] = p
	}
	want := map[string]tasks.TranslateSubmission{
		TranslateSubmissionTaskID("s1", 1): {SubmissionID: "s1", ConsultationID: "c1", Version: 1, Language: "pt", TextAnswers: 1},
		TranslateSubmissionTaskID("s1", 2): {SubmissionID: "s1", ConsultationID: "c1", Version: 2, Language: "pt", TextAnswers: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}
	for id, p := range want {
		if got[id] != p {
			t.Errorf("job %s = %+v, want %+v", id, got[id], p)
		}
	}
}
