package platform_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
	"github.com/consulta-platform/consulta/pkg/testenv"
)

// healthCheck calls the gRPC health service at addr with creds.
func healthCheck(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestGRPCOverTLS runs the whole platform with TLS on its gRPC server: a
// plaintext client and a client that does not trust the CA are refused, a
// client with the CA gets through, and the gateway's REST calls, which
// reach the services over gRPC, work.
func TestGRPCOverTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	h := startPlatformWith(t, func(c *platformConfig) {
		c.GRPCTLS = platform.GRPCTLS{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile}
	})
	addr := h.grpcConn.Target()

	if err := healthCheck(t, addr, insecure.NewCredentials()); err == nil {
		t.Error("a plaintext client got an answer from the TLS server")
	}
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})); err == nil {
		t.Error("a client that does not trust the CA got an answer")
	}
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pki.Roots, MinVersion: tls.VersionTLS12})); err != nil {
		t.Errorf("a client with the CA: %v", err)
	}
	// Gateway → gRPC over TLS.
	if code, body := h.rest("GET", "/v1/consultations", "", nil, nil); code != http.StatusOK {
		t.Errorf("REST through the gateway: %d %s", code, body)
	}
}

// TestGRPCMutualTLS requires client certificates signed by the CA: a TLS
// client without one is refused, one with a certificate gets through, and
// the process's own clients (the gateway) present theirs.
func TestGRPCMutualTLS(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	h := startPlatformWith(t, func(c *platformConfig) {
		c.GRPCTLS = platform.GRPCTLS{CertFile: pki.CertFile, KeyFile: pki.KeyFile, CAFile: pki.CAFile, ClientCAFile: pki.CAFile}
	})
	addr := h.grpcConn.Target()
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pki.Roots, MinVersion: tls.VersionTLS12})); err == nil {
		t.Error("a client without a certificate got an answer")
	}
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pki.Roots, Certificates: []tls.Certificate{pki.Cert},
		MinVersion: tls.VersionTLS12})); err != nil {
		t.Errorf("a client with a certificate: %v", err)
	}
	if code, body := h.rest("GET", "/v1/consultations", "", nil, nil); code != http.StatusOK {
		t.Errorf("REST through the gateway: %d %s", code, body)
	}
}

// TestGRPCTLSSettingsAreChecked: half a certificate, or a CA file without a
// certificate in it, stops the start with an error naming the setting.
func TestGRPCTLSSettingsAreChecked(t *testing.T) {
	t.Parallel()
	pki := testenv.NewPKI(t)
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		tls  platform.GRPCTLS
		want string
	}{
		"cert without key":  {platform.GRPCTLS{CertFile: pki.CertFile}, "CONSULTA_GRPC_TLS_KEY_FILE"},
		"CA not PEM":        {platform.GRPCTLS{CAFile: notPEM}, "CONSULTA_GRPC_TLS_CA_FILE"},
		"client CA alone":   {platform.GRPCTLS{ClientCAFile: pki.CAFile}, "CONSULTA_GRPC_TLS_CLIENT_CA_FILE"},
		"missing cert file": {platform.GRPCTLS{CertFile: pki.CertFile + ".missing", KeyFile: pki.KeyFile}, "CONSULTA_GRPC_TLS_CERT_FILE"},
	} {
		_, err := platform.New(context.Background(), platform.Config{Services: []string{"gateway"}, GRPCTLS: tc.tls, HTTPAddr: "127.0.0.1:0"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
}
