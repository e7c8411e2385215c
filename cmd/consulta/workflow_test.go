package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startPlatform runs every service in this process for a CLI test and
// returns its gRPC address and the key its tokens are signed with.
func startPlatform(t *testing.T) (string, *auth.DevKey) {
	t.Helper()
	return startPlatformWith(t, nil)
}

// startPlatformWith is startPlatform with changes to the configuration.
func startPlatformWith(t *testing.T, change func(*platform.Config)) (string, *auth.DevKey) {
	t.Helper()
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := platform.Config{
		SigningKey: []byte("a test signing key of at least 32 bytes"), DisableRateLimits: true,
		Services:    platform.AllServices,
		DatabaseURL: testenv.DatabaseURL(t), RedisURL: testenv.RedisURL(t), NATSURL: testenv.NATS(t),
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Auth:           auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience},
		JobQueuePrefix: testenv.UniqueName(t) + ":",
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if change != nil {
		change(&cfg)
	}
	p, err := platform.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("platform: %v", err)
		}
	})
	return p.GRPCAddr(), key
}

// cli runs the consulta command and returns what it printed.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := realMain(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("consulta %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func field(t *testing.T, doc string, path ...string) string {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("decode %q: %v", doc, err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %v in %s", path, doc)
		}
		v = m[p]
	}
	return fmt.Sprint(v)
}

const consultationFile = `# A consultation drafted in Spanish with every kind of question.
dialogue_id: %s
title: {source_language: es, texts: {es: "Inteligencia artificial en la región"}}
description: {source_language: es, texts: {es: "Consulta previa al diálogo birregional."}}
languages: [es, en, pt]
audience: [academia, civil_society, tech_community]
default_publication: PUBLICATION_PUBLIC_ANONYMOUS
opens_at: %s
closes_at: %s
background_documents:
  - title: {source_language: es, texts: {es: "Documento de referencia"}}
    url: https://example.org/referencia.pdf
questions:
  - id: vision
    required: true
    text: {source_language: es, texts: {es: "¿Cuál es su visión?"}}
    text_question: {max_length: 200}
  - id: detalle
    text: {source_language: es, texts: {es: "Detalle su propuesta"}}
    text_question: {max_length: 5000, long: true}
  - id: sector
    text: {source_language: es, texts: {es: "Sector"}}
    choice_question:
      options:
        - {id: publico, label: {source_language: es, texts: {es: "Público"}}}
        - {id: privado, label: {source_language: es, texts: {es: "Privado"}}}
  - id: temas
    text: {source_language: es, texts: {es: "Temas prioritarios"}}
    choice_question:
      multiple: true
      min_choices: 1
      max_choices: 2
      options:
        - {id: datos, label: {source_language: es, texts: {es: "Datos"}}}
        - {id: computo, label: {source_language: es, texts: {es: "Cómputo"}}}
        - {id: talento, label: {source_language: es, texts: {es: "Talento"}}}
  - id: acuerdo
    text: {source_language: es, texts: {es: "¿Está de acuerdo?"}}
    scale_question:
      labels:
        - {value: 1, label: {source_language: es, texts: {es: "Nada"}}}
        - {value: 5, label: {source_language: es, texts: {es: "Totalmente"}}}
  - id: orden
    text: {source_language: es, texts: {es: "Ordene por prioridad"}}
    ranking_question:
      options:
        - {id: a, label: {source_language: es, texts: {es: "Ética"}}}
        - {id: b, label: {source_language: es, texts: {es: "Inversión"}}}
  - id: documento
    text: {source_language: es, texts: {es: "Documento de posición"}}
    file_question: {max_bytes: 10485760}
`

// TestCoLeadWorkflowFromTheCLI is issue 3's "done when", from the command
// line: schedule a dialogue, draft a consultation in Spanish with every
// question kind from a file, review a translation, schedule the opening, and
// see it open and close on time.
func TestCoLeadWorkflowFromTheCLI(t *testing.T) {
	target, key := startPlatform(t)
	mint := func(p auth.Principal) string {
		tok, err := key.Mint(p, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	secretariat := mint(auth.Principal{Subject: "sec", Role: auth.RoleSecretariat})
	colead := mint(auth.Principal{Subject: "mx", Role: auth.RoleColead, Country: "MX"})
	// as runs a command as the holder of token; the client flags follow the
	// (sub)command name.
	as := func(token string, args ...string) string {
		n := 1
		if args[0] == "consultation" {
			n = 2
		}
		flags := []string{"--target", target, "--token", token}
		return cli(t, append(append(args[:n:n], flags...), args[n:]...)...)
	}

	as(secretariat, "api", "ReferenceService.SetThematicAreaCoLeads", `{"thematicArea": "ai_hpc", "countries": ["MX", "FR"]}`)
	starts := time.Now().Add(20 * 24 * time.Hour).UTC().Format(time.RFC3339)
	var d struct{ Dialogue struct{ ID string } }
	out := as(colead, "api", "ConsultationService.CreateDialogue",
		`{"thematicArea": "ai_hpc", "title": "Diálogo UE-ALC sobre IA", "startsAt": "`+starts+`", "venueCity": "Ciudad de México", "venueCountry": "MX"}`)
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Dialogue.ID == "" {
		t.Fatalf("create dialogue: %v %s", err, out)
	}

	opensAt := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	closesAt := opensAt.Add(3 * time.Second)
	file := filepath.Join(t.TempDir(), "consultation.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(consultationFile, d.Dialogue.ID,
		opensAt.Format(time.RFC3339), closesAt.Format(time.RFC3339))), 0o600); err != nil {
		t.Fatal(err)
	}
	created := as(colead, "consultation", "create", "-f", file)
	id := field(t, created, "id")
	if field(t, created, "status") != "CONSULTATION_STATUS_DRAFT" {
		t.Fatalf("created: %s", created)
	}

	// The export is a file that creates the same consultation.
	exported := as(colead, "consultation", "export", id)
	if !strings.Contains(exported, "ranking_question") || !strings.Contains(exported, "¿Cuál es su visión?") {
		t.Errorf("export lacks content:\n%s", exported)
	}
	reimport := filepath.Join(t.TempDir(), "again.yaml")
	if err := os.WriteFile(reimport, []byte(exported), 0o600); err != nil {
		t.Fatal(err)
	}
	updated := as(colead, "consultation", "update", "-f", reimport, "--id", id)
	if field(t, updated, "version") != "1" {
		t.Errorf("re-applying the export changed the consultation: version %s", field(t, updated, "version"))
	}

	reviewed := as(colead, "api", "ConsultationService.ReviewTranslation",
		`{"id": "`+id+`", "textPath": "title", "language": "en", "text": "Artificial intelligence in the region"}`)
	var r struct {
		Consultation struct {
			Title struct{ Origins map[string]string }
		}
	}
	if err := json.Unmarshal([]byte(reviewed), &r); err != nil || r.Consultation.Title.Origins["en"] != "TEXT_ORIGIN_REVIEWED" {
		t.Errorf("review: %v %s", err, reviewed)
	}
	scheduled := as(colead, "api", "ConsultationService.ScheduleConsultation", `{"id": "`+id+`"}`)
	if !strings.Contains(scheduled, "CONSULTATION_STATUS_SCHEDULED") {
		t.Fatalf("schedule: %s", scheduled)
	}

	waitFor := func(status string, notBefore time.Time) {
		t.Helper()
		deadline := notBefore.Add(5 * time.Second)
		for {
			got := as(colead, "api", "ConsultationService.GetConsultation", `{"id": "`+id+`"}`)
			if strings.Contains(got, status) {
				if now := time.Now(); now.Before(notBefore) {
					t.Fatalf("%s at %s, before %s", status, now.Format(time.RFC3339Nano), notBefore.Format(time.RFC3339Nano))
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not %s by %s: %s", status, deadline, got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("CONSULTATION_STATUS_OPEN", opensAt)
	waitFor("CONSULTATION_STATUS_CLOSED", closesAt)
}
