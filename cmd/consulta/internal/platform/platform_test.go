package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/jobs"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// harness is a whole platform running in this test process against real
// Postgres, Redis and an in-process NATS JetStream server.
type harness struct {
	t       *testing.T
	base    string // http://host:port
	blobDir string
	natsURL string
	bus     testenv.SecureNATS
	// metricsAddr is where the platform serves /metrics.
	metricsAddr string
	grpcConn    *grpc.ClientConn
	key         *auth.DevKey
	pool        *pgxpool.Pool
	jobs        jobs.Config
	cancel      context.CancelFunc
	done        chan error
}

func startPlatform(t *testing.T) *harness {
	t.Helper()
	return startPlatformWith(t, nil)
}

type platformConfig = platform.Config

// startPlatformWith is startPlatform with changes to the configuration.
func startPlatformWith(t *testing.T, change func(*platformConfig)) *harness {
	t.Helper()
	dbURL := testenv.DatabaseURL(t)
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	jobsCfg := jobs.Config{RedisURL: testenv.RedisURL(t), QueuePrefix: testenv.UniqueName(t) + ":"}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A server that requires credentials, the platform connecting as the
	// user with every service's permissions: every test shows that these
	// permissions are enough. Tests watch and forge traffic as the admin.
	bus := testenv.NATSWithUsers(t)
	natsURL := bus.UserURL(testenv.AdminUser)
	blobDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := platform.Config{
		Services:          platform.AllServices,
		DatabaseURL:       dbURL,
		RedisURL:          jobsCfg.RedisURL,
		NATSURL:           bus.URL,
		NATS:              platform.NATSAuth{User: testenv.MonolithUser, Password: bus.Passwords[testenv.MonolithUser]},
		GRPCAddr:          "127.0.0.1:0",
		HTTPAddr:          "127.0.0.1:0",
		MetricsAddr:       "127.0.0.1:0",
		Auth:              auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience},
		JobQueuePrefix:    jobsCfg.QueuePrefix,
		JobPollInterval:   100 * time.Millisecond,
		Migrate:           true,
		SigningKey:        testSigningKey,
		DisableRateLimits: true,
		BlobStoreURL:      "file://" + blobDir,
		Logger:            log,
	}
	if change != nil {
		change(&cfg)
	}
	p, err := platform.New(ctx, cfg)

	if err != nil {
		cancel()
		t.Fatalf("platform.New: %v", err)
	}
	h := &harness{t: t, base: "http://" + p.HTTPAddr(), natsURL: natsURL, bus: bus, metricsAddr: p.MetricsAddr(), blobDir: blobDir, key: key, jobs: jobsCfg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- p.Run(ctx) }()
	t.Cleanup(h.stop)

	h.grpcConn, err = grpc.NewClient(p.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(platform.MaxMessageBytes)))
	if err != nil {
		t.Fatal(err)
	}
	h.pool, err = pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) stop() {
	if h.grpcConn != nil {
		h.grpcConn.Close()
	}
	if h.pool != nil {
		h.pool.Close()
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("platform.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Error("platform did not shut down within 30s")
	}
}

func (h *harness) token(role auth.Role, country, sub string) string {
	h.t.Helper()
	tok, err := h.key.Mint(auth.Principal{Subject: sub, Role: role, Country: country}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// rest calls the gateway and decodes the JSON answer into out (when not nil).
func (h *harness) rest(method, path, token string, body any, out any) (int, string) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func (h *harness) grpcCtx(token string) context.Context {
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return ctx
}

// eventually retries check until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// forgedToken is signed by a key the platform does not trust.
func forgedToken(t *testing.T) string {
	t.Helper()
	other, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "other.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := other.Mint(auth.Principal{Subject: "mallory", Role: auth.RoleStakeholder}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func taskInfo(h *harness, queue, id string) (*asynq.TaskInfo, error) {
	insp, err := jobs.NewInspector(h.jobs)
	if err != nil {
		return nil, err
	}
	defer insp.Close()
	return insp.GetTaskInfo(h.jobs.Queue(queue), id)
}

func countRows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), fmt.Sprintf("SELECT count(*) FROM %s", table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMain(m *testing.M) {
	testenv.Main(m)
}

// assignCoLeads has the secretariat make countries the co-leads of area.
func (h *harness) assignCoLeads(area string, countries ...string) {
	h.t.Helper()
	secretariat := h.token(auth.RoleSecretariat, "", "secretariat")
	code, body := h.rest("POST", "/v1/thematic-areas/"+area+":setCoLeads", secretariat, map[string]any{"countries": countries}, nil)
	if code != http.StatusOK {
		h.t.Fatalf("assign co-leads of %s: %d %s", area, code, body)
	}
}

// testSigningKey signs edit secrets and confirmation links in tests.
var testSigningKey = []byte("a test signing key of at least 32 bytes")
