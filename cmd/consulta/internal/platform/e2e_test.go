package platform_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/events"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker"
)

// Shapes of the REST/JSON answers this test reads.
type dialogueJSON struct {
	Dialogue struct {
		ID       string    `json:"id"`
		StartsAt time.Time `json:"startsAt"`
	} `json:"dialogue"`
}

type consultationJSON struct {
	Consultation struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Version string `json:"version"` // int64 travels as a JSON string
	} `json:"consultation"`
}

type submissionJSON struct {
	Submission struct {
		ID         string `json:"id"`
		Language   string `json:"language"`
		Respondent struct {
			Region string `json:"region"`
		} `json:"respondent"`
	} `json:"submission"`
}

type summaryJSON struct {
	Summary struct {
		Total             string            `json:"total"`
		ByStakeholderType map[string]string `json:"byStakeholderType"`
		ByRegion          map[string]string `json:"byRegion"`
	} `json:"summary"`
}

// TestSubmissionTravelsThroughEveryPart is the foundation's end-to-end test:
// a co-lead schedules a dialogue and opens a consultation over REST, a
// stakeholder submits, and the submission reaches the summary through
// Postgres, the outbox, JetStream and the summary's projection, and reaches
// Asynq as a translation job; the dialogue reaches Asynq as digest jobs.
func TestSubmissionTravelsThroughEveryPart(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("data_governance", "BR", "ES")
	colead := h.token(auth.RoleColead, "BR", "colead-br")
	stakeholder := h.token(auth.RoleStakeholder, "", "ana")

	startsAt := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second)
	var d dialogueJSON
	code, body := h.rest("POST", "/v1/dialogues", colead, map[string]any{
		"thematicArea": "data_governance",
		"title":        "EU-LAC dialogue on data governance",
		"startsAt":     startsAt.Format(time.RFC3339),
		"venueCity":    "Brasília",
		"venueCountry": "BR",
	}, &d)
	if code != http.StatusOK {
		t.Fatalf("create dialogue: %d %s", code, body)
	}

	var c consultationJSON
	code, body = h.rest("POST", "/v1/consultations", colead, map[string]any{
		"dialogueId": d.Dialogue.ID,
		"title":      map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": "Gobernanza de datos"}},
		"languages":  []string{"es", "en", "pt"},
		"questions": []map[string]any{
			{"id": "priorities", "required": true,
				"text":         map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": "¿Cuáles son sus prioridades?"}},
				"textQuestion": map[string]any{"maxLength": 2000, "long": true}},
			{"id": "sector",
				"text": map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": "Sector"}},
				"choiceQuestion": map[string]any{"options": []map[string]any{
					{"id": "public", "label": map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": "Público"}}},
					{"id": "private", "label": map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": "Privado"}}},
				}}},
		},
		"closesAt": time.Now().Add(14 * 24 * time.Hour).UTC().Format(time.RFC3339),
	}, &c)
	if code != http.StatusOK {
		t.Fatalf("create consultation: %d %s", code, body)
	}
	if c.Consultation.Status != "CONSULTATION_STATUS_DRAFT" {
		t.Fatalf("new consultation status = %s, want draft", c.Consultation.Status)
	}
	code, body = h.rest("POST", "/v1/consultations/"+c.Consultation.ID+":open", colead,
		map[string]any{"version": c.Consultation.Version}, &c)
	if code != http.StatusOK || c.Consultation.Status != "CONSULTATION_STATUS_OPEN" {
		t.Fatalf("open consultation: %d %s", code, body)
	}

	// The submission service learns of the opening from the event stream;
	// until its read model has it, the consultation is unknown there.
	var sub submissionJSON
	submission := map[string]any{
		"respondent": map[string]any{"stakeholderType": "civil_society", "country": "BR",
			"organisationName": "Instituto de Dados", "contactEmail": "ana@example.org"},
		"language": "pt",
		"answers": []map[string]any{
			{"questionId": "priorities", "text": "Interoperabilidade e proteção de dados."},
			{"questionId": "sector", "choice": map[string]any{"optionIds": []string{"public"}}},
		},
	}
	eventually(t, 10*time.Second, "submission accepted", func() error {
		code, body := h.rest("POST", "/v1/consultations/"+c.Consultation.ID+"/submissions", stakeholder, submission, &sub)
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if sub.Submission.Respondent.Region != "LAC" || sub.Submission.Language != "pt" {
		t.Errorf("submission = %+v, want region LAC and language pt", sub.Submission)
	}

	// Path 1: Postgres → outbox → JetStream → summary projection.
	eventually(t, 10*time.Second, "summary counts the submission", func() error {
		var s summaryJSON
		code, body := h.rest("GET", "/v1/consultations/"+c.Consultation.ID+"/summary", "", nil, &s)
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		if s.Summary.Total != "1" || s.Summary.ByStakeholderType["civil_society"] != "1" || s.Summary.ByRegion["LAC"] != "1" {
			return fmt.Errorf("summary = %+v", s.Summary)
		}
		return nil
	})
	if n := countRows(t, h.pool, "submission.outbox WHERE published_at IS NULL"); n != 0 {
		t.Errorf("%d submission events still unpublished in the outbox", n)
	}
	assertEventInStream(t, h, events.SubmissionReceived, sub.Submission.ID)

	// Path 2: JetStream → worker → Asynq translation job, processed.
	translateID := worker.TranslateSubmissionTaskID(sub.Submission.ID, 1)
	eventually(t, 15*time.Second, "translation job processed", func() error {
		info, err := taskInfo(h, jobs.QueueDefault, translateID)
		if err != nil {
			return err
		}
		if info.State != asynq.TaskStateCompleted {
			return fmt.Errorf("task %s is %s", translateID, info.State)
		}
		return nil
	})

	// Digests: scheduled 7 days and 1 day before the dialogue.
	for _, lead := range worker.DefaultDigestLeads {
		id := worker.DigestTaskID(d.Dialogue.ID, lead, startsAt)
		eventually(t, 10*time.Second, "digest scheduled "+lead.String()+" ahead", func() error {
			info, err := taskInfo(h, jobs.QueueDefault, id)
			if err != nil {
				return err
			}
			if info.State != asynq.TaskStateScheduled {
				return fmt.Errorf("task %s is %s", id, info.State)
			}
			if want := startsAt.Add(-lead); !info.NextProcessAt.Equal(want) {
				return fmt.Errorf("task %s due at %s, want %s", id, info.NextProcessAt.UTC(), want)
			}
			return nil
		})
	}

	// Contact data never enters an event.
	assertNoEventContains(t, h, "ana@example.org")
}

func natsJS(t *testing.T, h *harness) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(h.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// assertEventInStream finds the event of aggregateID on subject in the stream.
func assertEventInStream(t *testing.T, h *harness, subject, aggregateID string) {
	t.Helper()
	for _, env := range streamEvents(t, h) {
		if events.TypeOfSubject(env.subject) == subject && env.aggregateID == aggregateID {
			return
		}
	}
	t.Errorf("no %s event for %s in stream %s", subject, aggregateID, events.StreamName)
}

type streamEvent struct {
	subject, aggregateID string
	data                 []byte
}

// streamEvents reads every message of the stream with an ephemeral consumer.
func streamEvents(t *testing.T, h *harness) []streamEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := natsJS(t, h)
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []streamEvent
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		env, err := events.Unmarshal(msg.Data)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		out = append(out, streamEvent{subject: msg.Subject, aggregateID: env.GetAggregateId(), data: msg.Data})
	}
	return out
}

func assertNoEventContains(t *testing.T, h *harness, needle string) {
	t.Helper()
	for _, ev := range streamEvents(t, h) {
		if bytes.Contains(ev.data, []byte(needle)) {
			t.Errorf("event %s of %s contains %q", ev.subject, ev.aggregateID, needle)
		}
	}
}
