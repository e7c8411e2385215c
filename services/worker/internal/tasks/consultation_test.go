package tasks_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/worker/internal/tasks"
	"github.com/consulta-platform/consulta/services/worker/internal/translate"
	"github.com/consulta-platform/consulta/services/worker/internal/translate/translatetest"
)

func jetStream(t *testing.T) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := events.EnsureStream(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return js, stream
}

var payload = tasks.TranslateConsultation{
	ConsultationID: "0193c1a0-0000-7000-8000-000000000001",
	Version:        3,
	Language:       "en",
	Texts: []tasks.SourceText{
		{Path: "title", SourceLanguage: "es", SourceText: "Gobernanza de datos"},
		{Path: "questions/priorities/text", SourceLanguage: "es", SourceText: "¿Cuáles son sus prioridades?"},
		{Path: "background_documents/0/title", SourceLanguage: "pt-BR", SourceText: "Relatório"},
	},
}

// TestTranslateConsultationPublishesOnce runs the same task twice, as an
// Asynq retry would, and expects one event on the stream with every text
// translated from its own source language.
func TestTranslateConsultationPublishesOnce(t *testing.T) {
	js, stream := jetStream(t)
	srv := translatetest.NewServer(t, "key", "es", "pt", "en")
	tr, err := translate.NewLibreTranslate(srv.URL, "key")
	if err != nil {
		t.Fatal(err)
	}
	h := tasks.Handlers{Logger: slog.New(slog.DiscardHandler), Translator: tr, JetStream: js}
	job, err := tasks.NewTranslateConsultation(payload)
	if err != nil {
		t.Fatal(err)
	}
	if want := "translate:consultation:" + payload.ConsultationID + ":v3:en"; job.ID != want {
		t.Errorf("task id %s, want %s", job.ID, want)
	}
	for range 2 {
		if err := h.Mux().ProcessTask(context.Background(), job.Task); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Requests()); n != 4 {
		t.Errorf("%d translation requests, want 4 (two runs, two source languages each)", n)
	}

	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d messages on the stream, want 1: the retry must be dropped as a duplicate", info.State.Msgs)
	}
	msg, err := stream.GetMsg(context.Background(), info.State.FirstSeq)
	if err != nil {
		t.Fatal(err)
	}
	env, err := events.Unmarshal(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != events.ConsultationTranslated || env.GetType() != events.ConsultationTranslated ||
		msg.Header.Get(jetstream.MsgIDHeader) != env.GetId() || env.GetId() != tasks.TaskEventID(job.ID) ||
		env.GetAggregateType() != "consultation" || env.GetAggregateId() != payload.ConsultationID || env.GetAggregateVersion() != 3 {
		t.Errorf("message %s %v, envelope %v", msg.Subject, msg.Header, env)
	}
	ev := &consultationv1.ConsultationTranslatedEvent{}
	if err := events.Payload(env, ev); err != nil {
		t.Fatal(err)
	}
	want := &consultationv1.ConsultationTranslatedEvent{
		ConsultationId: payload.ConsultationID, BasedOnVersion: 3, Language: "en",
		Texts: []*consultationv1.TranslatedText{
			{Path: "title", SourceLanguage: "es", SourceText: "Gobernanza de datos", Text: "[en] Gobernanza de datos"},
			{Path: "questions/priorities/text", SourceLanguage: "es", SourceText: "¿Cuáles son sus prioridades?", Text: "[en] ¿Cuáles son sus prioridades?"},
			{Path: "background_documents/0/title", SourceLanguage: "pt-BR", SourceText: "Relatório", Text: "[en] Relatório"},
		},
	}
	if !proto.Equal(ev, want) {
		t.Errorf("event\n%v\nwant\n%v", ev, want)
	}
}

func TestTranslateConsultationWithoutTranslator(t *testing.T) {
	js, stream := jetStream(t)
	var logs bytes.Buffer
	h := tasks.Handlers{Logger: slog.New(slog.NewTextHandler(&logs, nil)), JetStream: js}
	job, err := tasks.NewTranslateConsultation(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(context.Background(), job.Task); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "no machine translator configured"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d messages published without a translator", info.State.Msgs)
	}
}

func TestTranslateConsultationUnsupportedLanguageIsNotRetried(t *testing.T) {
	js, _ := jetStream(t)
	srv := translatetest.NewServer(t, "", "es", "en")
	tr, err := translate.NewLibreTranslate(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	h := tasks.Handlers{Logger: slog.New(slog.DiscardHandler), Translator: tr, JetStream: js, Now: func() time.Time { return time.Unix(0, 0) }}
	p := payload
	p.Language = "nl"
	job, err := tasks.NewTranslateConsultation(p)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Mux().ProcessTask(context.Background(), job.Task)
	if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "nl is not supported") {
		t.Errorf("err = %v, want a SkipRetry naming the language", err)
	}
}

// A provider that is rate-limiting makes the job fail for a retry (not
// SkipRetry) no sooner than the provider's Retry-After.
func TestTranslateConsultationRateLimitedIsRetriedAfterProviderDelay(t *testing.T) {
	js, stream := jetStream(t)
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "90")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":"Too many requests"}`))
	}))
	t.Cleanup(limited.Close)
	tr, err := translate.NewLibreTranslate(limited.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	h := tasks.Handlers{Logger: slog.New(slog.DiscardHandler), Translator: tr, JetStream: js}
	job, err := tasks.NewTranslateConsultation(payload)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Mux().ProcessTask(context.Background(), job.Task)
	if err == nil || errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "Too many requests") {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if d := jobs.RetryDelay(0, err, job.Task); d < 90*time.Second {
		t.Errorf("retry in %s, want at least the provider's 90s", d)
	}
	if info, _ := stream.Info(context.Background()); info.State.Msgs != 0 {
		t.Errorf("%d messages published for a failed job", info.State.Msgs)
	}
}
