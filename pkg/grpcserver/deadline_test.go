package grpcserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/consulta-platform/consulta/pkg/auth"
	summaryv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/summary/v1"
	"github.com/consulta-platform/consulta/pkg/grpcserver"
)

// stuckServer waits for its context to end, like a handler whose database
// never answers, and reports the deadline it was given.
type stuckServer struct {
	summaryv1.UnimplementedSummaryServiceServer
	deadlines chan time.Time
}

func (s stuckServer) GetSummary(ctx context.Context, _ *summaryv1.GetSummaryRequest) (*summaryv1.GetSummaryResponse, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	s.deadlines <- dl
	<-ctx.Done()
	return nil, fmt.Errorf("wait for the database: %w", ctx.Err())
}

// TestDefaultDeadline: a call without a deadline gets the server's default
// and fails with DeadlineExceeded when it runs out; a caller's earlier
// deadline wins, a later one does not.
func TestDefaultDeadline(t *testing.T) {
	const timeout = time.Second
	key, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(t.Context(), auth.VerifierConfig{JWKS: key.JWKS(), Issuer: auth.DevIssuer, Audience: auth.DevAudience})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(grpcserver.Config{
		Logger:         slog.New(slog.DiscardHandler),
		Verifier:       verifier,
		Policy:         auth.Policy{summaryv1.SummaryService_GetSummary_FullMethodName: {auth.RolePublic}},
		DefaultTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	stuck := stuckServer{deadlines: make(chan time.Time, 1)}
	summaryv1.RegisterSummaryServiceServer(srv.GRPC, stuck)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.GRPC.Serve(lis) }()
	t.Cleanup(srv.GRPC.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := summaryv1.NewSummaryServiceClient(conn)
	req := &summaryv1.GetSummaryRequest{ConsultationId: okID}

	for _, tc := range []struct {
		name string
		// client is the caller's deadline, 0 for none.
		client time.Duration
		// want is the deadline the handler must get.
		want time.Duration
	}{
		{"no deadline: the default", 0, timeout},
		{"an earlier deadline wins", timeout / 10, timeout / 10},
		{"a later deadline gives way to the default", 10 * timeout, timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.client > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.client)
				defer cancel()
			}
			start := time.Now()
			_, err := client.GetSummary(ctx, req)
			elapsed := time.Since(start)
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("a stuck call: %v, want DeadlineExceeded", err)
			}
			dl := <-stuck.deadlines
			if dl.IsZero() {
				t.Fatal("the handler got no deadline")
			}
			// The handler's deadline is start+want, give or take the trip
			// to the handler (a busy machine may take a while).
			if got := dl.Sub(start); got < tc.want-timeout/20 || got > tc.want+timeout*4/10 {
				t.Errorf("the handler's deadline is %s after the call, want %s", got, tc.want)
			}
			if elapsed < tc.want {
				t.Errorf("the call ended after %s, before its deadline %s", elapsed, tc.want)
			}
		})
	}
}
