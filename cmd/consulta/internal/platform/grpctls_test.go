package platform_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
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
)

// testPKI is a CA and a certificate it signed for 127.0.0.1 and localhost,
// good for servers and clients, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	roots                     *x509.CertPool
	cert                      tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "consulta test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "consulta"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{caFile: write("ca.pem", "CERTIFICATE", caDER), certFile: write("cert.pem", "CERTIFICATE", leafDER),
		keyFile: write("key.pem", "PRIVATE KEY", keyDER), roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	if p.cert, err = tls.LoadX509KeyPair(p.certFile, p.keyFile); err != nil {
		t.Fatal(err)
	}
	return p
}

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
	pki := newTestPKI(t)
	h := startPlatformWith(t, func(c *platformConfig) {
		c.GRPCTLS = platform.GRPCTLS{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile}
	})
	addr := h.grpcConn.Target()

	if err := healthCheck(t, addr, insecure.NewCredentials()); err == nil {
		t.Error("a plaintext client got an answer from the TLS server")
	}
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})); err == nil {
		t.Error("a client that does not trust the CA got an answer")
	}
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pki.roots, MinVersion: tls.VersionTLS12})); err != nil {
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
	pki := newTestPKI(t)
	h := startPlatformWith(t, func(c *platformConfig) {
		c.GRPCTLS = platform.GRPCTLS{CertFile: pki.certFile, KeyFile: pki.keyFile, CAFile: pki.caFile, ClientCAFile: pki.caFile}
	})
	addr := h.grpcConn.Target()
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pki.roots, MinVersion: tls.VersionTLS12})); err == nil {
		t.Error("a client without a certificate got an answer")
	}
	if err := healthCheck(t, addr, credentials.NewTLS(&tls.Config{RootCAs: pki.roots, Certificates: []tls.Certificate{pki.cert},
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
	pki := newTestPKI(t)
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		tls  platform.GRPCTLS
		want string
	}{
		"cert without key":  {platform.GRPCTLS{CertFile: pki.certFile}, "CONSULTA_GRPC_TLS_KEY_FILE"},
		"CA not PEM":        {platform.GRPCTLS{CAFile: notPEM}, "CONSULTA_GRPC_TLS_CA_FILE"},
		"client CA alone":   {platform.GRPCTLS{ClientCAFile: pki.caFile}, "CONSULTA_GRPC_TLS_CLIENT_CA_FILE"},
		"missing cert file": {platform.GRPCTLS{CertFile: pki.certFile + ".missing", KeyFile: pki.keyFile}, "CONSULTA_GRPC_TLS_CERT_FILE"},
	} {
		_, err := platform.New(context.Background(), platform.Config{Services: []string{"gateway"}, GRPCTLS: tc.tls, HTTPAddr: "127.0.0.1:0"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
}
