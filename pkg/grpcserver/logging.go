package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/pkg/infraerr"
)

// callInfo carries what inner interceptors learn about a call back out to
// the logging interceptor.
type callInfo struct {
	role auth.Role // empty until the caller is known
}

type callInfoKey struct{}

func callInfoFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return ci
}

func logUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ci := &callInfo{}
		start := time.Now()
		resp, err := handler(context.WithValue(ctx, callInfoKey{}, ci), req)
		logCall(ctx, logger, info.FullMethod, ci, time.Since(start), err)
		return resp, err
	}
}

func logStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ci := &callInfo{}
		start := time.Now()
		err := handler(srv, &contextStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), callInfoKey{}, ci)})
		logCall(ss.Context(), logger, info.FullMethod, ci, time.Since(start), err)
		return err
	}
}

// statusUnary is the innermost interceptor: see edgeError.
func statusUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, edgeError(err)
}

func statusStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return edgeError(handler(srv, ss))
}

// edgeError makes sure what a handler returns is a gRPC status: this is the
// one place where domain errors (pkg/apperr) become codes. Context errors get
// their codes. Postgres or Redis out of reach (pkg/infraerr) is
// codes.Unavailable with a retry hint, not a fault of ours. Any other plain error would reach the caller as
// codes.Unknown with its text, which may reveal internals; it becomes
// codes.Internal with the message "internal error" for the caller (and the
// metrics), while the logging interceptor still logs its text.
func edgeError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if st, ok := apperr.Status(err); ok {
		return st.Err()
	}
	if st := status.FromContextError(err); st.Code() != codes.Unknown {
		return st.Err()
	}
	if infraerr.Unavailable(err) {
		return &withCause{st: unavailableStatus(), cause: err}
	}
	return &withCause{st: status.New(codes.Internal, "internal error"), cause: err}
}

// RetryAfter is the wait an Unavailable answer suggests (google.rpc.RetryInfo,
// and Retry-After through the gateway).
const RetryAfter = 2 * time.Second

// unavailableStatus is the answer when Postgres or Redis cannot be reached:
// codes.Unavailable with a retry hint. Nothing the request would have done
// is half done (a transaction that did not commit rolled back), so a client
// retries, with the same idempotency key where the method takes one.
func unavailableStatus() *status.Status {
	st := status.New(codes.Unavailable, "temporarily unavailable: a backing service cannot be reached; retry later (with the same idempotency key)")
	if withDetails, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(RetryAfter)}); err == nil {
		return withDetails
	}
	return st
}

// withCause is a status for the caller plus the error behind it, for the
// log: Error (what the logging interceptor writes) has both, GRPCStatus
// (what the caller and the metrics see) only the status.
type withCause struct {
	st    *status.Status
	cause error
}

func (e *withCause) Error() string { return e.st.Message() + ": " + e.cause.Error() }

func (e *withCause) GRPCStatus() *status.Status { return e.st }

func (e *withCause) Unwrap() error { return e.cause }

func logCall(ctx context.Context, logger *slog.Logger, method string, ci *callInfo, d time.Duration, err error) {
	code := status.Code(err)
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs,
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", d),
	)
	if ci.role != "" {
		attrs = append(attrs, slog.String("role", string(ci.role)))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", errorText(err)))
	}
	logger.LogAttrs(ctx, levelFor(code), "grpc call", attrs...)
}

// errorText is the status message, and for a withCause also its cause.
func errorText(err error) string {
	if wc, ok := err.(*withCause); ok {
		return wc.Error()
	}
	return status.Convert(err).Message()
}

// levelFor is Info for success and for errors that are the caller's doing,
// Warn for those that may need a look, Error for server faults.
func levelFor(code codes.Code) slog.Level {
	switch code {
	case codes.OK, codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.Unauthenticated, codes.PermissionDenied, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange:
		return slog.LevelInfo
	case codes.DeadlineExceeded, codes.ResourceExhausted, codes.Unavailable:
		return slog.LevelWarn
	default: // Unknown, Unimplemented, Internal, DataLoss
		return slog.LevelError
	}
}

// recoverPanic logs a panic with its stack, once, and turns it into
// codes.Internal. The panicking call gets no "grpc call" line: the panic
// unwinds past the logging interceptor.
func recoverPanic(logger *slog.Logger) func(ctx context.Context, p any) error {
	return func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		logger.ErrorContext(ctx, "grpc call panicked",
			slog.String("method", method),
			slog.String("code", codes.Internal.String()),
			slog.String("panic", fmt.Sprint(p)),
			slog.String("stack", string(debug.Stack())),
		)
		return status.Error(codes.Internal, "internal error")
	}
}

// contextStream is a ServerStream with a replaced context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
