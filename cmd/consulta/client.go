package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	target string
	token  string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	target := os.Getenv("CONSULTA_GRPC_TARGET")
	if target == "" {
		target = "127.0.0.1:9090"
	}
	fs.StringVar(&c.target, "target", target, "gRPC address of Consulta ($CONSULTA_GRPC_TARGET)")
	fs.StringVar(&c.token, "token", os.Getenv("CONSULTA_TOKEN"), "bearer token ($CONSULTA_TOKEN; see consulta token)")
}

// dial connects to the target; the returned context carries the token.
func (c *clientFlags) dial(ctx context.Context) (*grpc.ClientConn, context.Context, error) {
	conn, err := grpc.NewClient(c.target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", c.target, err)
	}
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	return conn, ctx, nil
}
