// Package worker turns events into jobs and runs them on Asynq: a new
// submission becomes a translation job, a published consultation becomes one
// translation job per language it misses texts in, a scheduled dialogue
// becomes digest jobs ahead of it. Every job has a deterministic task id
// derived from the event, so a redelivered event never makes a second job;
// the worker acknowledges an event only once its jobs are in Redis.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/consulta-platform/consulta/pkg/background"
	"github.com/consulta-platform/consulta/pkg/consumer"
	"github.com/consulta-platform/consulta/pkg/events"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	eventsv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/events/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker/internal/tasks"
	"github.com/consulta-platform/consulta/services/worker/internal/translate"
)

// Name is the service name used by `consulta serve --services`.
const Name = "worker"

// Durable consumers of the worker.
const (
	SubmissionsConsumer = "worker-submissions"
	DialoguesConsumer   = "worker-dialogues"
	// ConsultationsConsumer turns published consultations into translation jobs.
	ConsultationsConsumer = "worker-consultations"
)

// Translator is machine translation; see NewTranslator.
type Translator = translate.Translator

// TranslatorConfig chooses and configures the translation provider:
// Apertium, LibreTranslate, DeepL or an OpenAI-compatible endpoint.
type TranslatorConfig = translate.Config

// Provenance says which provider and which model or language pair produced
// a translation; see TranslationProvenance.
type Provenance = translate.Provenance

// NewTranslator builds the Translator cfg names; nil and no error when it
// names none.
func NewTranslator(cfg TranslatorConfig) (Translator, error) {
	return translate.New(cfg)
}

// DefaultTranslator is the provider to use when none is named:
// LibreTranslate when its URL is set, else Apertium when an apertium-apy URL
// is set or the apertium command is installed, else none.
func DefaultTranslator(cfg TranslatorConfig) string {
	return translate.DefaultProvider(cfg)
}

// TranslationProvenance says what t uses to translate from one language
// into another.
func TranslationProvenance(t Translator, from, to string) Provenance {
	return translate.ProvenanceOf(t, from, to)
}

// ApertiumInstall is the command that installs Apertium and the pairs the
// platform uses on Debian or Ubuntu.
const ApertiumInstall = translate.ApertiumInstall

// ApertiumInstalled reports whether the apertium command is on PATH.
func ApertiumInstalled() bool { return translate.ApertiumInstalled() }

// NewLibreTranslate returns a Translator for the LibreTranslate-compatible
// API at url (the base URL, without /translate), sending apiKey when it is
// not empty.
func NewLibreTranslate(url, apiKey string) (Translator, error) {
	lt, err := translate.NewLibreTranslate(url, apiKey)
	if err != nil {
		return nil, err // not a nil *LibreTranslate in a non-nil interface
	}
	return lt, nil
}

// SubmissionTexts is the submission service's internal translation API.
type SubmissionTexts = tasks.SubmissionTexts

// DefaultDigestLeads are how long before a dialogue its digests go out.
var DefaultDigestLeads = []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}

// Deps is what the worker needs from the process.
type Deps struct {
	JetStream jetstream.JetStream
	Jobs      jobs.Config
	Logger    *slog.Logger
	// DigestLeads overrides DefaultDigestLeads.
	DigestLeads []time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Translator translates consultation texts; nil means none is
	// configured and those texts wait for a co-lead's review.
	Translator Translator
	// Consultations is the consultation service's API, which the
	// reconciler reads dialogues and consultations from; nil disables the
	// reconciler.
	Consultations ConsultationReader
	// Submissions is the submission service's internal translation API
	// (called with the service key); nil leaves submissions' texts
	// untranslated.
	Submissions SubmissionTexts
	// ReconcileInterval is the time between two reconciliations (default
	// DefaultReconcileInterval); the first runs at start.
	ReconcileInterval time.Duration
}

// Service is the worker.
type Service struct {
	deps   Deps
	client *jobs.Client
}

// New connects the worker's Asynq client.
func New(d Deps) (*Service, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if len(d.DigestLeads) == 0 {
		d.DigestLeads = DefaultDigestLeads
	}
	c, err := jobs.NewClient(d.Jobs)
	if err != nil {
		return nil, err
	}
	return &Service{deps: d, client: c}, nil
}

// Background is the worker's background work: the consumers that turn
// events into jobs, and the Asynq server that works the jobs. The consumers
// stop first; then the server, which lets running jobs finish.
func (s *Service) Background() []background.Part {
	parts := []background.Part{
		{Name: SubmissionsConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   SubmissionsConsumer,
				// Texts are translated on receipt and again on every edit
				// (each a new version).
				Subjects: append(events.Filters(events.SubmissionReceived), events.Filters(events.SubmissionUpdated)...),
				Logger:   s.deps.Logger.With("consumer", SubmissionsConsumer),
			}, s.onSubmission)
		}},
		{Name: DialoguesConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   DialoguesConsumer,
				// One wildcard subject rather than three: older JetStream servers
				// take one filter per consumer. onDialogue picks its events.
				Subjects: []string{"consulta.dialogue.>"},
				Logger:   s.deps.Logger.With("consumer", DialoguesConsumer),
			}, s.onDialogue)
		}},
		{Name: ConsultationsConsumer, Stage: background.Consumers, Run: func(ctx context.Context) error {
			return consumer.Run(ctx, consumer.Config{
				JetStream: s.deps.JetStream,
				Durable:   ConsultationsConsumer,
				Subjects:  []string{"consulta.consultation.>"}, // onConsultationChanged picks its events
				Logger:    s.deps.Logger.With("consumer", ConsultationsConsumer),
			}, s.onConsultationChanged)
		}},
		{Name: "worker jobs", Stage: background.Jobs, Run: s.runJobs},
	}
	if s.deps.Consultations != nil {
		// The reconciler enqueues jobs, like the consumers, so it stops with
		// them, before the server and the client it uses.
		parts = append(parts, background.Part{Name: "worker reconciler", Stage: background.Consumers, Run: s.runReconciler})
	} else {
		s.deps.Logger.Warn("reconciler disabled: no address of the consultation service; jobs lost with Redis are not rebuilt")
	}
	return parts
}

// runJobs works jobs until ctx is cancelled, then lets running jobs finish.
func (s *Service) runJobs(ctx context.Context) error {
	// The consumers, the client's only users, stop in the stage before.
	defer s.client.Close()
	srv, err := jobs.NewServer(s.deps.Jobs)
	if err != nil {
		return err
	}
	handlers := tasks.Handlers{Logger: s.deps.Logger, Translator: s.deps.Translator, JetStream: s.deps.JetStream, Now: s.deps.Now,
		Submissions: s.deps.Submissions}
	if s.deps.Consultations != nil {
		handlers.Dialogues = s.deps.Consultations
	}
	if err := srv.Start(handlers.Mux()); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// onSubmission asks for the translation of a submission's texts. The event
// holds no text, and neither does the job: it names the submission version,
// and the job is to read the texts from the submission service when it runs.
func (s *Service) onSubmission(ctx context.Context, env *eventsv1.Envelope) error {
	var sub *submissionv1.SubmissionSnapshot
	switch env.GetType() {
	case events.SubmissionReceived:
		ev := &submissionv1.SubmissionReceivedEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		sub = ev.GetSubmission()
	case events.SubmissionUpdated:
		ev := &submissionv1.SubmissionUpdatedEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		sub = ev.GetSubmission()
	default:
		return nil
	}
	texts := 0
	for _, a := range sub.GetAnswered() {
		if a.GetText().GetCharacters() > 0 {
			texts++
		}
	}
	if texts == 0 {
		return nil // nothing to translate (or confidential: no texts leave the service)
	}
	job, err := tasks.NewTranslateSubmission(tasks.TranslateSubmission{
		SubmissionID:   sub.GetId(),
		ConsultationID: sub.GetConsultationId(),
		Version:        sub.GetVersion(),
		Language:       sub.GetLanguage(),
		TextAnswers:    texts,
	})
	if err != nil {
		return consumer.Permanent(err)
	}
	_, err = s.client.Enqueue(ctx, job)
	return err
}

// onConsultationChanged asks for the texts of a public consultation in every
// language it offers but misses some text in: one translation job per
// language and consultation version, so a redelivered event adds nothing and
// a consultation whose texts are complete asks for nothing.
func (s *Service) onConsultationChanged(ctx context.Context, env *eventsv1.Envelope) error {
	// After its publication, and after every later change (an edit may add
	// a question), a public consultation may miss texts.
	if t := env.GetType(); t != events.ConsultationPublished && t != events.ConsultationUpdated {
		return nil
	}
	msg, err := events.Decode(env)
	if err != nil {
		return consumer.Permanent(err)
	}
	ev, ok := msg.(interface {
		GetConsultation() *consultationv1.Consultation
	})
	if !ok {
		return consumer.Permanent(fmt.Errorf("event %s (%s) carries no consultation", env.GetId(), env.GetType()))
	}
	if ev.GetConsultation().GetStatus() == consultationv1.ConsultationStatus_CONSULTATION_STATUS_DRAFT {
		return nil // drafts are translated when they are published
	}
	_, err = s.enqueueTranslations(ctx, ev.GetConsultation())
	return err
}

// enqueueTranslations enqueues one job per language c misses some text in,
// with ids naming the consultation version and the language, and returns
// how many were new.
func (s *Service) enqueueTranslations(ctx context.Context, c *consultationv1.Consultation) (created int, err error) {
	texts := consultationTexts(c)
	for _, lang := range c.GetLanguages() {
		var missing []tasks.SourceText
		for _, t := range texts {
			if _, ok := t.text.GetTexts()[lang]; ok {
				continue
			}
			src := t.text.GetSourceLanguage()
			missing = append(missing, tasks.SourceText{Path: t.path, SourceLanguage: src, SourceText: t.text.GetTexts()[src]})
		}
		if len(missing) == 0 {
			continue
		}
		job, err := tasks.NewTranslateConsultation(tasks.TranslateConsultation{
			ConsultationID: c.GetId(),
			Version:        c.GetVersion(),
			Language:       lang,
			Texts:          missing,
		})
		if err != nil {
			return created, consumer.Permanent(err)
		}
		ok, err := s.client.Enqueue(ctx, job)
		if err != nil {
			return created, err
		}
		if ok {
			created++
		}
	}
	return created, nil
}

type pathText struct {
	path string
	text *consultationv1.LocalizedText
}

// consultationTexts lists the texts of c with their paths (as in
// ReviewTranslationRequest.text_path), leaving out absent ones and those
// without a text in their source language.
func consultationTexts(c *consultationv1.Consultation) []pathText {
	var out []pathText
	add := func(path string, t *consultationv1.LocalizedText) {
		if t.GetTexts()[t.GetSourceLanguage()] != "" {
			out = append(out, pathText{path, t})
		}
	}
	add("title", c.GetTitle())
	add("description", c.GetDescription())
	for _, q := range c.GetQuestions() {
		prefix := "questions/" + q.GetId() + "/"
		add(prefix+"text", q.GetText())
		options := q.GetChoiceQuestion().GetOptions()
		if q.GetRankingQuestion() != nil {
			options = q.GetRankingQuestion().GetOptions()
		}
		for _, o := range options {
			add(prefix+"options/"+o.GetId()+"/label", o.GetLabel())
		}
		for _, l := range q.GetScaleQuestion().GetLabels() {
			add(fmt.Sprintf("%slabels/%d", prefix, l.GetValue()), l.GetLabel())
		}
	}
	for i, d := range c.GetBackgroundDocuments() {
		add(fmt.Sprintf("background_documents/%d/title", i), d.GetTitle())
	}
	return out
}

// onDialogue keeps a dialogue's digests in step with it: scheduled when it
// is scheduled, moved when its start moves, withdrawn when it is cancelled.
func (s *Service) onDialogue(ctx context.Context, env *eventsv1.Envelope) error {
	switch env.GetType() {
	case events.DialogueScheduled:
		ev := &consultationv1.DialogueScheduledEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		return s.scheduleDigests(ctx, ev.GetDialogue())
	case events.DialogueUpdated:
		ev := &consultationv1.DialogueUpdatedEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		if ev.GetPreviousStartsAt() == nil {
			return nil // the start did not move
		}
		if err := s.withdrawDigests(ev.GetDialogue().GetId(), ev.GetPreviousStartsAt().AsTime()); err != nil {
			return err
		}
		return s.scheduleDigests(ctx, ev.GetDialogue())
	case events.DialogueCancelled:
		ev := &consultationv1.DialogueCancelledEvent{}
		if err := events.Payload(env, ev); err != nil {
			return consumer.Permanent(err)
		}
		return s.withdrawDigests(ev.GetDialogue().GetId(), ev.GetDialogue().GetStartsAt().AsTime())
	}
	return nil
}

func (s *Service) scheduleDigests(ctx context.Context, d *consultationv1.Dialogue) error {
	_, err := s.enqueueDigests(ctx, d, true)
	return err
}

// enqueueDigests enqueues the digests of d still due, and returns how many
// were new. logSkips logs each digest whose due time has passed (once per
// event; the reconciler, which sees every dialogue again and again, does not).
func (s *Service) enqueueDigests(ctx context.Context, d *consultationv1.Dialogue, logSkips bool) (created int, err error) {
	startsAt := d.GetStartsAt().AsTime()
	now := s.deps.Now()
	for _, lead := range s.deps.DigestLeads {
		if !startsAt.Add(-lead).After(now) {
			// Scheduled too late for this digest: the dialogue is nearer than
			// the lead time. The later digests still go out.
			if logSkips {
				s.deps.Logger.InfoContext(ctx, "digest skipped: due time has passed", "dialogue_id", d.GetId(), "lead", lead)
			}
			continue
		}
		job, err := tasks.NewSendDigest(tasks.SendDigest{DialogueID: d.GetId(), StartsAt: startsAt, Lead: lead})
		if err != nil {
			return created, consumer.Permanent(err)
		}
		ok, err := s.client.Enqueue(ctx, job)
		if err != nil {
			return created, err
		}
		if ok {
			created++
		}
	}
	return created, nil
}

// withdrawDigests deletes the digests due before a dialogue starting at
// startsAt; each digest's id names its start time, so the digests of a
// later start are untouched.
func (s *Service) withdrawDigests(dialogueID string, startsAt time.Time) error {
	for _, lead := range s.deps.DigestLeads {
		if _, err := s.client.Withdraw(jobs.QueueDefault, tasks.SendDigestID(dialogueID, lead, startsAt)); err != nil {
			return err
		}
	}
	return nil
}

// TranslateSubmissionTaskID is the task id of the translation job of a
// submission version, for operators and tests that inspect the queue.
func TranslateSubmissionTaskID(submissionID string, version int64) string {
	return tasks.TranslateSubmissionID(submissionID, version)
}

// TranslateConsultationTaskID is the task id of the translation job of a
// consultation version into lang.
func TranslateConsultationTaskID(consultationID string, version int64, lang string) string {
	return tasks.TranslateConsultationID(consultationID, version, lang)
}

// DigestTaskID is the task id of the digest due lead before a dialogue.
func DigestTaskID(dialogueID string, lead time.Duration, startsAt time.Time) string {
	return tasks.SendDigestID(dialogueID, lead, startsAt)
}
