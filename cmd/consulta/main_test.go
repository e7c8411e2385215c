package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
	"github.com/consulta-platform/consulta/pkg/postgres"
)

func TestTokenMintsATokenTheDevIssuerTrusts(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "key.pem")
	var out, errOut bytes.Buffer
	err := realMain(context.Background(), []string{"token", "--role", "colead", "--country", "BR", "--key", keyPath}, &out, &errOut)
	if err != nil {
		t.Fatalf("token: %v (%s)", err, errOut.String())
	}
	key, err := auth.LoadOrCreateDevKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("verify minted token: %v", err)
	}
	if p.Role != auth.RoleColead || p.Country != "BR" || p.Subject != "colead-BR" {
		t.Errorf("principal = %+v", p)
	}
}

func TestTokenRefusesBadRequests(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "key.pem")
	for _, args := range [][]string{
		{"token"},
		{"token", "--role", "colead"},  // a co-lead needs a country
		{"token", "--role", "emperor"}, // no such role
		{"token", "--role", "public"},  // public is the absence of a token
	} {
		var out, errOut bytes.Buffer
		if err := realMain(context.Background(), append(args, "--key", keyPath), &out, &errOut); err == nil {
			t.Errorf("%v: minted %q", args, out.String())
		}
	}
}

func TestServeNamesEveryMissingSetting(t *testing.T) {
	cfg, _, err := platformConfigFromEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Services = platform.AllServices
	err = checkServeConfig(cfg)
	if err == nil {
		t.Fatal("empty environment accepted")
	}
	for _, want := range []string{"DATABASE_URL", "NATS_URL", "REDIS_URL", "CONSULTA_JWKS_URL", "CONSULTA_JWT_ISSUER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	cfg.Services = []string{"gateway"}
	if err := checkServeConfig(cfg); err != nil {
		t.Errorf("gateway alone needs no database, NATS or Redis: %v", err)
	}
}

func TestBadEnvironmentIsReported(t *testing.T) {
	env := map[string]string{"CONSULTA_JOB_POLL_INTERVAL": "soon", "CONSULTA_MIGRATE": "perhaps", "CONSULTA_STREAM_REPLICAS": "0",
		"CONSULTA_DB_MAX_CONNS": "lots", "CONSULTA_RPC_TIMEOUT": "-1s"}
	_, _, err := platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil {
		t.Fatal("bad environment accepted")
	}
	for k := range env {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
}

// TestPoolSizeAndRPCTimeout: both are read from the environment, with the
// documented defaults when unset.
func TestPoolSizeAndRPCTimeout(t *testing.T) {
	cfg, _, err := platformConfigFromEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DBMaxConns != postgres.DefaultMaxConns || cfg.RPCTimeout != grpcserver.DefaultTimeout {
		t.Errorf("defaults: pool %d, RPC timeout %s", cfg.DBMaxConns, cfg.RPCTimeout)
	}
	env := map[string]string{"CONSULTA_DB_MAX_CONNS": "5", "CONSULTA_RPC_TIMEOUT": "12s"}
	cfg, _, err = platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DBMaxConns != 5 || cfg.RPCTimeout != 12*time.Second {
		t.Errorf("set: pool %d, RPC timeout %s", cfg.DBMaxConns, cfg.RPCTimeout)
	}
}

func TestUnknownCommandAndService(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := realMain(context.Background(), []string{"launch"}, &out, &errOut); err == nil {
		t.Error("unknown command accepted")
	}
	if err := realMain(context.Background(), []string{"serve", "--services=consultation,billing"}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "billing") {
		t.Errorf("unknown service: %v", err)
	}
}

// TestTrustedNetworks: none by default (every client is its peer); lists of
// networks and addresses are read, and a bad entry is named.
func TestTrustedNetworks(t *testing.T) {
	cfg, _, err := platformConfigFromEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 0 || len(cfg.TrustedGateways) != 0 {
		t.Errorf("defaults: proxies %v, gateways %v; want none", cfg.TrustedProxies, cfg.TrustedGateways)
	}
	env := map[string]string{"CONSULTA_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7", "CONSULTA_TRUSTED_GATEWAYS": "10.1.0.0/16"}
	cfg, _, err = platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg.TrustedProxies) != "[10.0.0.0/8 192.0.2.7/32]" || fmt.Sprint(cfg.TrustedGateways) != "[10.1.0.0/16]" {
		t.Errorf("set: proxies %v, gateways %v", cfg.TrustedProxies, cfg.TrustedGateways)
	}
	env = map[string]string{"CONSULTA_TRUSTED_PROXIES": "lb.example.org", "CONSULTA_TRUSTED_GATEWAYS": "10.1.0.0/99"}
	if _, _, err = platformConfigFromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil ||
		!strings.Contains(err.Error(), "CONSULTA_TRUSTED_PROXIES") || !strings.Contains(err.Error(), "CONSULTA_TRUSTED_GATEWAYS") {
		t.Errorf("bad networks: %v", err)
	}
}

// TestEdgeBoundsFromTheEnvironment: the gateway's body limits and timeouts
// and the document grace period have their documented defaults, are read
// from the environment, and a bad value is named.
func TestEdgeBoundsFromTheEnvironment(t *testing.T) {
	cfg, _, err := platformConfigFromEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GatewayLimits.MaxBodyBytes != 1<<20 || cfg.GatewayLimits.MaxUploadBodyBytes != 34<<20 ||
		cfg.HTTPTimeouts.Read != time.Minute || cfg.HTTPTimeouts.Write != 2*time.Minute || cfg.HTTPTimeouts.Idle != 2*time.Minute ||
		cfg.GatewayLimits.StreamWriteTimeout != 30*time.Minute || cfg.DocumentGrace != 24*time.Hour {
		t.Errorf("defaults: %+v %+v grace %s", cfg.GatewayLimits, cfg.HTTPTimeouts, cfg.DocumentGrace)
	}
	set := map[string]string{"CONSULTA_HTTP_MAX_BODY_BYTES": "2MiB", "CONSULTA_HTTP_WRITE_TIMEOUT": "45s", "CONSULTA_DOCUMENT_GRACE_PERIOD": "48h"}
	cfg, _, err = platformConfigFromEnv(func(k string) (string, bool) { v, ok := set[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GatewayLimits.MaxBodyBytes != 2<<20 || cfg.HTTPTimeouts.Write != 45*time.Second || cfg.DocumentGrace != 48*time.Hour {
		t.Errorf("set: %+v %+v grace %s", cfg.GatewayLimits, cfg.HTTPTimeouts, cfg.DocumentGrace)
	}
	bad := map[string]string{"CONSULTA_HTTP_MAX_UPLOAD_BODY_BYTES": "big", "CONSULTA_HTTP_IDLE_TIMEOUT": "-1s", "CONSULTA_DOCUMENT_SWEEP_INTERVAL": "0s"}
	_, _, err = platformConfigFromEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
	for k := range bad {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("error %v does not name %s", err, k)
		}
	}
}
