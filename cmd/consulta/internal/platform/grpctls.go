package platform

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// GRPCTLS turns TLS on for the gRPC traffic between processes. With
// CertFile and KeyFile the gRPC server speaks only TLS; with CAFile (or a
// certificate of its own) a process's gRPC clients (gateway upstreams, the
// submission service's read-through, the worker's reconciler) speak TLS and
// verify the server. All empty: plaintext, for a private network or
// loopback.
type GRPCTLS struct {
	// CertFile and KeyFile are this process's certificate (PEM): the
	// server's, and the one its clients present when servers ask for one.
	CertFile string
	KeyFile  string
	// ClientCAFile makes the server require client certificates signed by
	// these CAs (mutual TLS).
	ClientCAFile string
	// CAFile are the CAs clients verify servers against; empty means the
	// system's.
	CAFile string
	// ServerName, when set, is the name clients expect in the server's
	// certificate instead of the host they dial.
	ServerName string
}

// enabled reports whether the process's clients speak TLS.
func (t GRPCTLS) enabled() bool { return t.CertFile != "" || t.CAFile != "" }

// certificate loads CertFile and KeyFile, or returns nil when unset.
func (t GRPCTLS) certificate() (*tls.Certificate, error) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("gRPC TLS: CONSULTA_GRPC_TLS_CERT_FILE and CONSULTA_GRPC_TLS_KEY_FILE go together")
	}
	if t.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("gRPC TLS: CONSULTA_GRPC_TLS_CERT_FILE/KEY_FILE: %w", err)
	}
	return &cert, nil
}

// serverCredentials are the transport credentials of the gRPC server, or nil
// for plaintext.
func (t GRPCTLS) serverCredentials() (credentials.TransportCredentials, error) {
	cert, err := t.certificate()
	if err != nil {
		return nil, err
	}
	if cert == nil {
		if t.ClientCAFile != "" {
			return nil, errors.New("gRPC TLS: CONSULTA_GRPC_TLS_CLIENT_CA_FILE needs CONSULTA_GRPC_TLS_CERT_FILE and CONSULTA_GRPC_TLS_KEY_FILE")
		}
		return nil, nil
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pool, err := loadCAs("CONSULTA_GRPC_TLS_CLIENT_CA_FILE", t.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

// ClientCredentials are the transport credentials of gRPC clients: TLS
// when CAFile or CertFile is set (verifying servers against CAFile, else the
// system's CAs, and presenting CertFile), else plaintext.
func (t GRPCTLS) ClientCredentials() (credentials.TransportCredentials, error) {
	if !t.enabled() {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pool, err := loadCAs("CONSULTA_GRPC_TLS_CA_FILE", t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	cert, err := t.certificate()
	if err != nil {
		return nil, err
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return credentials.NewTLS(cfg), nil
}

// loadCAs reads a PEM file of CA certificates named by setting.
func loadCAs(setting, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gRPC TLS: %s: %w", setting, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("gRPC TLS: %s %s: no PEM certificate in it", setting, path)
	}
	return pool, nil
}
