// Package grpcserver builds the gRPC server every Consulta service runs in:
// the standard health and reflection services, and one chain of unary and
// stream interceptors, outermost first:
//
//  1. panic recovery: a panic becomes codes.Internal and is logged with its
//     stack;
//  2. request logging: one slog line per call with method, code, duration and
//     the caller's role; errors are logged here and nowhere else;
//  3. Prometheus server metrics, with a handling-time histogram;
//  4. for unary calls, a default deadline (Config.DefaultTimeout) when the
//     caller set none or a later one, so that a stuck dependency fails the
//     call with codes.DeadlineExceeded instead of holding it forever;
//  5. authentication and authorization: a bearer token in the
//     "authorization" metadata becomes an auth.Principal in the context, and
//     the auth.Policy decides whether that role may call the method;
//  6. request checks: a string field holding U+0000, at any depth (nested
//     messages, lists, maps), is refused first ("answers[0].text: contains
//     a NUL character"), for every method, since Postgres stores no NUL in
//     text; then every request message is checked against the protovalidate
//     rules in its .proto file; violations become codes.InvalidArgument
//     naming each field, with a google.rpc.BadRequest detail;
//  7. last, next to the handler: a returned error that is not a gRPC status
//     becomes codes.Internal "internal error" for the caller, its text kept
//     for the log line (context errors become Canceled or DeadlineExceeded).
//
// InvalidArgument and InvalidRequest give handlers the same error shape for
// the checks they make themselves.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"buf.build/go/protovalidate"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/consulta-platform/consulta/pkg/auth"
)

// TokenVerifier turns a bearer token into the caller it names. *auth.Verifier
// implements it. Errors that wrap auth.ErrInvalidToken mean the token is bad
// (codes.Unauthenticated); other errors mean it could not be checked
// (codes.Unavailable).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// Config is what New needs.
type Config struct {
	// Logger receives one line per call and panics. Nil means slog.Default().
	Logger *slog.Logger
	// Verifier checks bearer tokens. Required.
	Verifier TokenVerifier
	// Policy lists the roles allowed per method; methods it does not list
	// are denied, except the health and reflection services, which are open
	// to everyone.
	Policy auth.Policy
	// Registerer receives the gRPC server metrics. Nil means they are not
	// registered anywhere.
	Registerer prometheus.Registerer
	// DefaultTimeout bounds every unary call whose caller set no earlier
	// deadline; 0 means DefaultTimeout. Streams (exports) have none: they
	// end when the caller goes away.
	DefaultTimeout time.Duration
	// ServerOptions are added after the interceptors (credentials, message
	// sizes, keepalive...). Do not pass grpc.UnaryInterceptor or
	// grpc.StreamInterceptor here: grpc allows only one of each.
	ServerOptions []grpc.ServerOption
}

// DefaultTimeout is the deadline of a unary call whose caller set none.
const DefaultTimeout = 30 * time.Second

// Server is a gRPC server with health and reflection registered. Register the
// services on GRPC, then call MarkServing, then GRPC.Serve.
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server

	metrics *grpcprom.ServerMetrics
}

// New builds the server and its interceptor chain. The health service
// reports NOT_SERVING until MarkServing is called.
func New(cfg Config) (*Server, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("grpcserver: Config.Verifier is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("grpcserver: protovalidate: %w", err)
	}
	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(metrics); err != nil {
			return nil, fmt.Errorf("grpcserver: register metrics: %w", err)
		}
	}

	timeout := cfg.DefaultTimeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	recoverOpt := recovery.WithRecoveryHandlerContext(recoverPanic(logger))
	authz := &authorizer{verifier: cfg.Verifier, policy: cfg.Policy}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(
			recovery.UnaryServerInterceptor(recoverOpt),
			logUnary(logger),
			metrics.UnaryServerInterceptor(),
			deadlineUnary(timeout),
			authz.unary,
			validateUnary(validator),
			statusUnary,
		),
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recoverOpt),
			logStream(logger),
			metrics.StreamServerInterceptor(),
			authz.stream,
			validateStream(validator),
			statusStream,
		),
	}
	opts = append(opts, cfg.ServerOptions...)
	s := &Server{
		GRPC:    grpc.NewServer(opts...),
		Health:  health.NewServer(),
		metrics: metrics,
	}
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.GRPC, s.Health)
	reflection.Register(s.GRPC)
	return s, nil
}

// MarkServing reports SERVING for the server as a whole ("") and for every
// service registered so far, and initialises the metrics of their methods
// so that they are exported at zero. Call it after registering services.
func (s *Server) MarkServing() {
	for name := range s.GRPC.GetServiceInfo() {
		s.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.metrics.InitializeMetrics(s.GRPC)
}

// Stop reports NOT_SERVING, stops taking calls and waits for running calls
// to finish; when ctx is done first it closes the remaining ones.
func (s *Server) Stop(ctx context.Context) {
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.GRPC.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.GRPC.Stop()
		<-done
	}
}

// deadlineUnary gives a call the deadline timeout from now unless its
// caller's deadline is earlier: a call never waits longer than timeout on a
// stuck database or service.
func deadlineUnary(timeout time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		// WithTimeout keeps the parent's deadline when it is earlier.
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return handler(ctx, req)
	}
}
