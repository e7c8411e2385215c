package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/consulta-platform/consulta/cmd/consulta/internal/platform"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	target string
	token  string
	tls    platform.GRPCTLS
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	target := os.Getenv("CONSULTA_GRPC_TARGET")
	if target == "" {
		target = "127.0.0.1:9090"
	}
	fs.StringVar(&c.target, "target", target, "gRPC address of Consulta ($CONSULTA_GRPC_TARGET)")
	fs.StringVar(&c.token, "token", os.Getenv("CONSULTA_TOKEN"), "bearer token ($CONSULTA_TOKEN; see consulta token)")
	fs.StringVar(&c.tls.CAFile, "tls-ca", os.Getenv("CONSULTA_GRPC_TLS_CA_FILE"),
		"speak TLS, trusting the CAs in this PEM file ($CONSULTA_GRPC_TLS_CA_FILE)")
	fs.StringVar(&c.tls.CertFile, "tls-cert", os.Getenv("CONSULTA_GRPC_TLS_CERT_FILE"),
		"client certificate for servers that require one ($CONSULTA_GRPC_TLS_CERT_FILE)")
	fs.StringVar(&c.tls.KeyFile, "tls-key", os.Getenv("CONSULTA_GRPC_TLS_KEY_FILE"), "its key ($CONSULTA_GRPC_TLS_KEY_FILE)")
	fs.StringVar(&c.tls.ServerName, "tls-server-name", os.Getenv("CONSULTA_GRPC_TLS_SERVER_NAME"),
		"name expected in the server's certificate, when not the target's host ($CONSULTA_GRPC_TLS_SERVER_NAME)")
}

// dial connects to the target; the returned context carries the token.
func (c *clientFlags) dial(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	creds, err := c.tls.ClientCredentials()
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(c.target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", c.target, err)
	}
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	return conn, ctx, nil
}
