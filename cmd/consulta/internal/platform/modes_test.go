package platform_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/pkg/natsacl"
	"github.com/consulta-platform/consulta/pkg/testenv"
	"github.com/consulta-platform/consulta/services/consultation"
	"github.com/consulta-platform/consulta/services/submission"
	"github.com/consulta-platform/consulta/services/summary"
)

// TestMicroservicesMode runs the services as processes of their own sharing
// Postgres, NATS and Redis, the way deploy/ runs them, and drives them through
// the gateway of a fifth. The NATS server runs deploy/nats/nats.conf, and
// each process logs in as its service's user there, with only its
// permissions: the whole workflow needs no more.
func TestMicroservicesMode(t *testing.T) {
	t.Parallel()
	passwords := map[string]string{}
	vars := map[string]string{}
	for _, s := range natsacl.Services {
		passwords[s] = testenv.UniqueName(t)
		vars["CONSULTA_NATS_"+strings.ToUpper(s)+"_PASSWORD"] = passwords[s]
	}
	natsURL := testenv.NATSFromConfig(t, "../../../../deploy/nats/nats.conf", vars)
	dbURL, redisURL := testenv.DatabaseURL(t), testenv.RedisURL(t)
	logs := &lockedBuffer{}
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	base := platform.Config{
		SigningKey:        testSigningKey,
		DisableRateLimits: true,
		DatabaseURL:       dbURL, NATSURL: natsURL, RedisURL: redisURL,
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Auth:           auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience},
		JobQueuePrefix: testenv.UniqueName(t) + ":", JobPollInterval: 100 * time.Millisecond,
		Migrate: true,
		Logger:  slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil)),
	}
	start := func(service string) *platform.Platform {
		cfg := base
		cfg.Services = []string{service}
		cfg.NATS = platform.NATSAuth{User: service, Password: passwords[service]}
		return runProcess(t, cfg)
	}
	consultations := start("consultation")
	// The submission service reads through to the consultation service when
	// its read model lags; the worker's reconciler reads its listings.
	base.ConsultationAddr = consultations.GRPCAddr()
	submissions := start("submission")
	summaries := start("summary")
	start("worker")
	gwCfg := base
	gwCfg.Services = []string{"gateway"}
	gwCfg.ConsultationAddr = consultations.GRPCAddr()
	gwCfg.SubmissionAddr = submissions.GRPCAddr()
	gwCfg.SummaryAddr = summaries.GRPCAddr()
	gw := runProcess(t, gwCfg)
	if consultations.HTTPAddr() != "" || gw.GRPCAddr() != "" {
		t.Fatalf("processes run more than asked: %q %q", consultations.HTTPAddr(), gw.GRPCAddr())
	}

	h := &harness{t: t, base: "http://" + gw.HTTPAddr(), key: key}
	h.assignCoLeads("connectivity", "ES", "CO")
	colead := h.token(auth.RoleColead, "ES", "colead-es")
	var d dialogueJSON
	if code, body := h.rest("POST", "/v1/dialogues", colead, map[string]any{
		"thematicArea": "connectivity", "title": "Connectivity",
		"startsAt": time.Now().Add(40 * 24 * time.Hour).UTC().Format(time.RFC3339)}, &d); code != http.StatusOK {
		t.Fatalf("create dialogue: %d %s", code, body)
	}
	text := map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": "¿Qué falta?"}}
	var c consultationJSON
	if code, body := h.rest("POST", "/v1/consultations", colead, map[string]any{
		"dialogueId": d.Dialogue.ID, "title": text, "languages": []string{"es"},
		"questions": []map[string]any{{"id": "gaps", "text": text, "textQuestion": map[string]any{"maxLength": 500}}},
		"closesAt":  time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}, &c); code != http.StatusOK {
		t.Fatalf("create consultation: %d %s", code, body)
	}
	if code, body := h.rest("POST", "/v1/consultations/"+c.Consultation.ID+":open", colead, map[string]any{}, nil); code != http.StatusOK {
		t.Fatalf("open: %d %s", code, body)
	}
	eventually(t, 10*time.Second, "submission accepted by the other process", func() error {
		code, body := h.rest("POST", "/v1/consultations/"+c.Consultation.ID+"/submissions", "", map[string]any{
			"respondent": map[string]any{"stakeholderType": "tech_community", "country": "CO", "contactEmail": "rosa@example.org"},
			"answers":    []map[string]any{{"questionId": "gaps", "text": "Fibra rural."}}}, nil)
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	eventually(t, 10*time.Second, "summary counts it", func() error {
		var s summaryJSON
		h.rest("GET", "/v1/consultations/"+c.Consultation.ID+"/summary", "", nil, &s)
		if s.Summary.Total != "1" {
			return fmt.Errorf("summary = %+v", s.Summary)
		}
		return nil
	})
	// An erasure deletes messages from the stream: the submission user's
	// part of the JetStream API.
	conn, err := grpc.NewClient(submissions.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+h.token(auth.RoleSecretariat, "", "secretariat"))
	if _, err := submissionv1.NewSubmissionServiceClient(conn).ErasePersonalData(ctx,
		&submissionv1.ErasePersonalDataRequest{Email: "rosa@example.org", Reason: "request 1"}); err != nil {
		t.Fatalf("erase: %v", err)
	}
	eventually(t, 10*time.Second, "the erased submission's messages leave the stream", func() error {
		if !bytes.Contains(logs.bytes(), []byte("erased submission's messages from the stream")) {
			return errors.New("not yet")
		}
		return nil
	})
	// Nothing the services did was refused by the server.
	if b := logs.bytes(); bytes.Contains(b, []byte("NATS error")) || bytes.Contains(bytes.ToLower(b), []byte("permissions violation")) {
		t.Errorf("the NATS server refused something:\n%s", b)
	}
}

func runProcess(t *testing.T, cfg platform.Config) *platform.Platform {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("platform.New(%v): %v", cfg.Services, err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run(%v): %v", cfg.Services, err)
		}
	})
	return p
}

// TestEveryRPCHasAPolicy guards deny-by-default from the other side: an RPC
// added without a policy entry would be refused to everyone.
func TestEveryRPCHasAPolicy(t *testing.T) {
	policy := consultation.Policy().Merge(submission.Policy(), summary.Policy())
	for _, sd := range []grpc.ServiceDesc{
		consultationv1.ConsultationService_ServiceDesc,
		submissionv1.SubmissionService_ServiceDesc,
		summaryv1.SummaryService_ServiceDesc,
	} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, st := range sd.Streams {
			names = append(names, st.StreamName)
		}
		for _, name := range names {
			full := "/" + sd.ServiceName + "/" + name
			if !policy.Lists(full) {
				t.Errorf("%s has no policy", full)
			}
		}
	}
}
