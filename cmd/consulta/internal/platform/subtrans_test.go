package platform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/services/worker"
)

// fakeTestTranslator is a deterministic in-process stand-in for a machine
// translation engine, for tests only: it "translates" by prefixing the
// target language ("Dados" into en is "[en] Dados") and counts its calls per
// target language. The real engines are tested with their providers.
type fakeTestTranslator struct {
	mu    sync.Mutex
	calls map[string]int // "from>to" -> calls
	texts int
}

func (f *fakeTestTranslator) Translate(_ context.Context, texts []string, from, to string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[from+">"+to]++
	f.texts += len(texts)
	out := make([]string, len(texts))
	for i, s := range texts {
		out[i] = "[" + to + "] " + s
	}
	return out, nil
}

// Provider names the fake in the labels of its translations.
func (f *fakeTestTranslator) Provenance(from, to string) worker.Provenance {
	return worker.Provenance{Provider: "fake-test-translator", Model: "prefix-v1"}
}

// snapshot returns the calls from from (the consultation's own texts go
// through the translator too), and the number of texts translated.
func (f *fakeTestTranslator) snapshot(from string) (map[string]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.calls {
		if strings.HasPrefix(k, from+">") {
			out[k] = v
		}
	}
	return out, f.texts
}

// openMultilingual opens a consultation in es, en, pt and fr with one text
// question, and waits until the submission service's read model has it.
func openMultilingual(t *testing.T, h *harness) string {
	t.Helper()
	h.assignCoLeads("cybersecurity", "BR", "ES")
	ctx := h.grpcCtx(h.token(auth.RoleColead, "ES", "colead-es"))
	cs := consultationv1.NewConsultationServiceClient(h.grpcConn)
	d, err := cs.CreateDialogue(ctx, &consultationv1.CreateDialogueRequest{ThematicArea: "cybersecurity", Title: "Cyber dialogue",
		StartsAt: timestamppb.New(time.Now().Add(60 * 24 * time.Hour))})
	if err != nil {
		t.Fatalf("CreateDialogue: %v", err)
	}
	c, err := cs.CreateConsultation(ctx, &consultationv1.CreateConsultationRequest{
		DialogueId: d.GetDialogue().GetId(), Title: es("Ciberseguridad"), Languages: []string{"es", "en", "pt", "fr"},
		Questions: []*consultationv1.Question{{Id: "q1", Required: true, Text: es("Pregunta uno"),
			Kind: &consultationv1.Question_TextQuestion{TextQuestion: &consultationv1.TextQuestion{MaxLength: 2000}}}},
		ClosesAt: timestamppb.New(time.Now().Add(30 * 24 * time.Hour)),
	})
	if err != nil {
		t.Fatalf("CreateConsultation: %v", err)
	}
	if _, err := cs.OpenConsultation(ctx, &consultationv1.OpenConsultationRequest{Id: c.GetConsultation().GetId()}); err != nil {
		t.Fatalf("OpenConsultation: %v", err)
	}
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	eventually(t, 10*time.Second, "read model has the consultation open", func() error {
		_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
			ConsultationId: c.GetConsultation().GetId(),
			Respondent:     &submissionv1.Respondent{StakeholderType: "academia", Country: "ES"},
			Answers:        []*submissionv1.Answer{{QuestionId: "probe", Value: &submissionv1.Answer_Text{Text: "x"}}},
		})
		if status.Code(err) != codes.InvalidArgument {
			return err
		}
		return nil
	})
	return c.GetConsultation().GetId()
}

// translationsOf reads a submission's translations through the public API,
// "lang=text" sorted.
func translationsOf(h *harness, id string) ([]string, []*submissionv1.TextTranslation, error) {
	resp, err := submissionv1.NewSubmissionServiceClient(h.grpcConn).GetSubmission(context.Background(),
		&submissionv1.GetSubmissionRequest{Id: id})
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, tr := range resp.GetSubmission().GetTranslations() {
		out = append(out, tr.GetLanguage()+"="+tr.GetText())
	}
	sort.Strings(out)
	return out, resp.GetSubmission().GetTranslations(), nil
}

// TestSubmissionTextsAreTranslated is issue 9's end-to-end test of
// submission translation: a Portuguese submission to a consultation in es,
// en, pt and fr gets es, en and fr machine translations, labelled, through
// the API and the open-data export; the job run twice more writes nothing
// and calls no engine; an edit is translated again for its new version; an
// erasure removes translations and memory.
func TestSubmissionTextsAreTranslated(t *testing.T) {
	t.Parallel()
	fake := &fakeTestTranslator{}
	h := startPlatformWith(t, func(c *platformConfig) { c.TranslatorOverride = fake })
	consultationID := openMultilingual(t, h)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	const email = "joana.individual@example.org"
	const text1 = "Precisamos de proteção de dados."
	created, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
		ConsultationId: consultationID, Language: "pt",
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "BR", PersonName: "Joana Individual",
			ContactEmail: email},
		Answers: []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: text1}}},
	})
	if err != nil {
		t.Fatalf("CreateSubmission: %v", err)
	}
	id := created.GetSubmission().GetId()
	want := []string{"en=[en] " + text1, "es=[es] " + text1, "fr=[fr] " + text1}
	eventually(t, 20*time.Second, "translations of version 1 visible", func() error {
		got, _, err := translationsOf(h, id)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("translations %q, want %q", got, want)
		}
		return nil
	})
	_, trs, _ := translationsOf(h, id)
	for _, tr := range trs {
		if tr.GetQuestionId() != "q1" || tr.GetKind() != submissionv1.TranslationKind_TRANSLATION_KIND_MACHINE ||
			tr.GetProvider() != "fake-test-translator" || tr.GetModel() != "prefix-v1" || tr.GetTranslateTime().AsTime().IsZero() {
			t.Errorf("translation not labelled: %v", tr)
		}
	}
	calls, _ := fake.snapshot("pt")
	if !maps.Equal(calls, map[string]int{"pt>es": 1, "pt>en": 1, "pt>fr": 1}) {
		t.Errorf("engine calls %v, want one per target language and none into pt", calls)
	}

	// The same job delivered twice more (as after a lost acknowledgement):
	// nothing new is written and the engine is not called.
	client, err := jobs.NewClient(h.jobs)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	payload, _ := json.Marshal(map[string]any{"submission_id": id, "consultation_id": consultationID, "version": 1,
		"language": "pt", "text_answers": 1})
	for i := range 2 {
		taskID := fmt.Sprintf("redelivery-%d-%s", i, id)
		if _, err := client.Enqueue(context.Background(), jobs.Job{Task: asynq.NewTask("translation:translate", payload), ID: taskID}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 15*time.Second, "redelivered job done", func() error {
			info, err := taskInfo(h, jobs.QueueDefault, taskID)
			if err != nil {
				return err
			}
			if info.State != asynq.TaskStateCompleted {
				return fmt.Errorf("task %s is %s", taskID, info.State)
			}
			return nil
		})
	}
	if n := countRows(t, h.pool, "submission.translations WHERE submission_id = '"+id+"'"); n != 3 {
		t.Errorf("%d translation rows after two redeliveries, want 3", n)
	}
	if again, _ := fake.snapshot("pt"); !maps.Equal(again, calls) {
		t.Errorf("engine calls %v after redeliveries, want still %v", again, calls)
	}

	// The open data shows the translations, labelled.
	resp, err := http.Get(h.base + "/v1/consultations/" + consultationID + "/open-data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Translations []map[string]string `json:"translations"`
	}
	err = json.NewDecoder(resp.Body).Decode(&line)
	resp.Body.Close()
	if err != nil || len(line.Translations) != 3 || line.Translations[0]["kind"] != "machine" ||
		line.Translations[0]["provider"] != "fake-test-translator" {
		t.Errorf("open data translations = %v, %v", line.Translations, err)
	}

	// An edit: version 2 gets its own translations; reads show them.
	const text2 = "Precisamos de mais proteção de dados."
	if _, err := ss.UpdateSubmission(context.Background(), &submissionv1.UpdateSubmissionRequest{
		Id: id, Version: 1, Language: "pt", EditSecret: created.GetEditSecret(),
		Respondent: &submissionv1.Respondent{StakeholderType: "individual", Country: "BR", PersonName: "Joana Individual",
			ContactEmail: email},
		Answers: []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: text2}}},
	}); err != nil {
		t.Fatalf("UpdateSubmission: %v", err)
	}
	want2 := []string{"en=[en] " + text2, "es=[es] " + text2, "fr=[fr] " + text2}
	eventually(t, 20*time.Second, "translations of version 2 visible", func() error {
		got, _, err := translationsOf(h, id)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want2) {
			return fmt.Errorf("translations %q, want %q", got, want2)
		}
		return nil
	})
	if n := countRows(t, h.pool, "submission.translations WHERE submission_id = '"+id+"' AND version = 1"); n != 3 {
		t.Errorf("%d translations of version 1 after the edit, want 3 (they stay with it)", n)
	}

	// The erasure: no translation, no memory entry of the texts remains.
	if n := countRows(t, h.pool, "submission.translation_memory"); n != 6 {
		t.Errorf("%d memory entries before the erasure, want 6", n)
	}
	code, body := h.rest("POST", "/v1/personal-data:erase", h.token(auth.RoleSecretariat, "", "dpo"),
		map[string]any{"email": email, "reason": "request e2e"}, nil)
	if code != http.StatusOK {
		t.Fatalf("erase: %d %s", code, body)
	}
	// A job of the erased submission that runs late does nothing.
	before, _ := fake.snapshot("pt")
	payload, _ = json.Marshal(map[string]any{"submission_id": id, "consultation_id": consultationID, "version": 2,
		"language": "pt", "text_answers": 1})
	lateID := "late-" + id
	if _, err := client.Enqueue(context.Background(), jobs.Job{Task: asynq.NewTask("translation:translate", payload), ID: lateID}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "late job done", func() error {
		info, err := taskInfo(h, jobs.QueueDefault, lateID)
		if err != nil {
			return err
		}
		if info.State != asynq.TaskStateCompleted {
			return fmt.Errorf("task %s is %s", lateID, info.State)
		}
		return nil
	})
	for _, table := range []string{"submission.translations", "submission.translation_memory"} {
		if n := countRows(t, h.pool, table); n != 0 {
			t.Errorf("%d rows left in %s after the erasure", n, table)
		}
	}
	if after, _ := fake.snapshot("pt"); !maps.Equal(after, before) {
		t.Errorf("a job of an erased submission called the engine: %v, before %v", after, before)
	}
}

// TestTranslationMemoryTranslatesATextOnce: 1,000 submissions with the
// same answer (up to white space) make one engine call per target
// language; the other 999 come from the translation memory, as its
// metrics count. The worker runs one job at a time here: jobs of the same
// text running at once may each miss the memory (the first to record
// fills it).
func TestTranslationMemoryTranslatesATextOnce(t *testing.T) {
	t.Parallel()
	const n = 1000
	fake := &fakeTestTranslator{}
	h := startPlatformWith(t, func(c *platformConfig) { c.TranslatorOverride = fake; c.JobConcurrency = 1 })
	consultationID := openMultilingual(t, h)
	ss := submissionv1.NewSubmissionServiceClient(h.grpcConn)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			text := "Uma campanha:   a mesma carta para todos."
			if i%2 == 1 {
				text = " Uma campanha: a mesma carta\npara todos. "
			}
			_, err := ss.CreateSubmission(context.Background(), &submissionv1.CreateSubmissionRequest{
				ConsultationId: consultationID, Language: "pt",
				Respondent: &submissionv1.Respondent{StakeholderType: "civil_society", Country: "BR", OrganisationName: "Campanha"},
				Answers:    []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: text}}},
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("CreateSubmission: %v", err)
		}
	}
	eventually(t, 120*time.Second, "every submission translated", func() error {
		if got := countRows(t, h.pool, "submission.translations"); got != 3*n {
			return fmt.Errorf("%d translations, want %d", got, 3*n)
		}
		return nil
	})
	calls, _ := fake.snapshot("pt")
	if want := map[string]int{"pt>es": 1, "pt>en": 1, "pt>fr": 1}; !maps.Equal(calls, want) {
		t.Errorf("engine calls %v, want %v", calls, want)
	}
	resp, err := http.Get("http://" + h.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"es", "en", "fr"} {
		for metric, want := range map[string]int{"hits": n - 1, "misses": 1} {
			line := fmt.Sprintf(`consulta_translation_memory_%s_total{source_language="pt",target_language="%s"} %d`, metric, l, want)
			if !strings.Contains(string(body), line+"\n") {
				t.Errorf("metrics lack %s", line)
			}
		}
	}
}

// TestTranslationAPIIsInternal: the internal translation RPCs answer only
// the processes' service key: not the public, not a stakeholder or the
// secretariat, not a service token made with another key; and no REST
// route leads to them.
func TestTranslationAPIIsInternal(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	consultationID := openMultilingual(t, h)
	created, err := submissionv1.NewSubmissionServiceClient(h.grpcConn).CreateSubmission(context.Background(),
		&submissionv1.CreateSubmissionRequest{ConsultationId: consultationID, Language: "pt",
			Respondent: &submissionv1.Respondent{StakeholderType: "academia", Country: "BR", OrganisationName: "Uni"},
			Answers:    []*submissionv1.Answer{{QuestionId: "q1", Value: &submissionv1.Answer_Text{Text: "Texto"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetSubmission().GetId()
	tc := submissionv1.NewSubmissionTranslationServiceClient(h.grpcConn)
	otherKey, err := auth.NewServiceKey([]byte("not the platform's service key, 32+ bytes"))
	if err != nil {
		t.Fatal(err)
	}
	md, _ := otherKey.GetRequestMetadata(context.Background())
	for name, c := range map[string]struct {
		ctx  context.Context
		code codes.Code
	}{
		"public":      {context.Background(), codes.Unauthenticated},
		"stakeholder": {h.grpcCtx(h.token(auth.RoleStakeholder, "", "ana")), codes.PermissionDenied},
		"secretariat": {h.grpcCtx(h.token(auth.RoleSecretariat, "", "sec")), codes.PermissionDenied},
		"other key":   {h.grpcCtx(strings.TrimPrefix(md["authorization"], "Bearer ")), codes.Unauthenticated},
	} {
		if _, err := tc.GetTextsForTranslation(c.ctx, &submissionv1.GetTextsForTranslationRequest{SubmissionId: id, Version: 1}); status.Code(err) != c.code {
			t.Errorf("%s: GetTextsForTranslation: %v, want %s", name, err, c.code)
		}
		if _, err := tc.RecordTranslations(c.ctx, &submissionv1.RecordTranslationsRequest{SubmissionId: id, Version: 1,
			Translations: []*submissionv1.RecordedTranslation{{QuestionId: "q1", Language: "en", Text: "x", Provider: "p"}}}); status.Code(err) != c.code {
			t.Errorf("%s: RecordTranslations: %v, want %s", name, err, c.code)
		}
	}
	for _, path := range []string{"/consulta.submission.v1.SubmissionTranslationService/GetTextsForTranslation",
		"/v1/submissions/" + id + ":getTextsForTranslation", "/v1/submissions/" + id + "/texts"} {
		code, _ := h.rest("POST", path, h.token(auth.RoleSecretariat, "", "sec"), map[string]any{"submissionId": id, "version": 1}, nil)
		// grpc-gateway answers a path it has no route for with 404, 405 or
		// (an unknown custom verb) 501.
		if code != http.StatusNotFound && code != http.StatusMethodNotAllowed && code != http.StatusNotImplemented {
			t.Errorf("POST %s: %d, want no route", path, code)
		}
	}
	if n := countRows(t, h.pool, "submission.translations"); n != 0 {
		t.Errorf("%d translations written by refused callers", n)
	}
}
