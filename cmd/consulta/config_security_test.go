package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// The NATS credentials and TLS settings and the gRPC TLS settings are read
// from the environment, and metrics default to a loopback address.
func TestInternalTrafficSettingsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"CONSULTA_NATS_USER": "submission", "CONSULTA_NATS_PASSWORD": "pw",
		"CONSULTA_NATS_NKEY_FILE": "/n.nk", "CONSULTA_NATS_CREDS_FILE": "/c.creds",
		"CONSULTA_NATS_CA_FILE": "/ca.pem", "CONSULTA_NATS_CERT_FILE": "/c.pem", "CONSULTA_NATS_KEY_FILE": "/k.pem",
		"CONSULTA_GRPC_TLS_CERT_FILE": "/g.pem", "CONSULTA_GRPC_TLS_KEY_FILE": "/gk.pem",
		"CONSULTA_GRPC_TLS_CLIENT_CA_FILE": "/gcca.pem", "CONSULTA_GRPC_TLS_CA_FILE": "/gca.pem",
		"CONSULTA_GRPC_TLS_SERVER_NAME": "consulta.internal",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, _, err := platformConfigFromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	wantNATS := platform.NATSAuth{User: "submission", Password: "pw", NKeyFile: "/n.nk", CredsFile: "/c.creds",
		CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"}
	if cfg.NATS != wantNATS {
		t.Errorf("NATS = %+v, want %+v", cfg.NATS, wantNATS)
	}
	wantTLS := platform.GRPCTLS{CertFile: "/g.pem", KeyFile: "/gk.pem", ClientCAFile: "/gcca.pem", CAFile: "/gca.pem",
		ServerName: "consulta.internal"}
	if cfg.GRPCTLS != wantTLS {
		t.Errorf("GRPCTLS = %+v, want %+v", cfg.GRPCTLS, wantTLS)
	}
	host, _, err := net.SplitHostPort(cfg.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("default metrics address %q is not loopback", cfg.MetricsAddr)
	}
}

// The command-line client speaks TLS to a server that requires it when
// given the CA (--tls-ca or $CONSULTA_GRPC_TLS_CA_FILE), and fails without.
func TestClientSpeaksTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	addr, _ := startPlatformWith(t, func(c *platform.Config) {
		c.GRPCTLS = platform.GRPCTLS{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}
	})
	out := cli(t, "api", "--target", addr, "--tls-ca", pki.CAFile, "ConsultationService.ListConsultations", `{}`)
	if !strings.Contains(out, "{") {
		t.Errorf("ListConsultations over TLS printed %q", out)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := realMain(ctx, []string{"api", "--target", addr, "ConsultationService.ListConsultations", `{}`}, &stdout, &stderr); err == nil {
		t.Errorf("a plaintext call to the TLS server succeeded: %s", stdout.String())
	}
}
