package grpcserver

import (
	"context"
	"errors"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func validateUnary(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := validateMessage(v, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

func validateStream(v protovalidate.Validator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &validatingStream{ServerStream: ss, v: v})
	}
}

// validatingStream validates every message the client sends.
type validatingStream struct {
	grpc.ServerStream
	v protovalidate.Validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return validateMessage(s.v, m)
}

// validateMessage refuses a string field holding a NUL character, then
// checks m against its protovalidate rules. Violations become
// InvalidArgument; a failure to evaluate the rules is a server fault.
func validateMessage(v protovalidate.Validator, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	if nul := nulViolations(msg.ProtoReflect()); len(nul) > 0 {
		return InvalidRequest(string(msg.ProtoReflect().Descriptor().Name()), nul...)
	}
	err := v.Validate(msg)
	if err == nil {
		return nil
	}
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		return &withCause{st: status.New(codes.Internal, "internal error: cannot validate request"), cause: err}
	}
	violations := make([]FieldViolation, 0, len(ve.Violations))
	for _, vi := range ve.Violations {
		pv := vi.Proto
		desc := pv.GetMessage()
		if desc == "" {
			desc = "violates rule " + pv.GetRuleId()
		}
		violations = append(violations, FieldViolation{
			Field:       protovalidate.FieldPathString(pv.GetField()),
			Description: desc,
		})
	}
	return InvalidRequest(string(msg.ProtoReflect().Descriptor().Name()), violations...)
}
