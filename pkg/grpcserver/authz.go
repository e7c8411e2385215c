package grpcserver

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/pkg/auth"
)

// openServices are open to every caller whatever the Policy says: probes and
// tools must reach them without a token.
var openServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

func isOpen(method string) bool {
	for _, prefix := range openServices {
		if strings.HasPrefix(method, prefix) {
			return true
		}
	}
	return false
}

type authorizer struct {
	verifier TokenVerifier
	policy   auth.Policy
}

func (a *authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

// authorize finds the caller, puts it in the context and applies the policy.
func (a *authorizer) authorize(ctx context.Context, method string) (context.Context, error) {
	if isOpen(method) {
		if ci := callInfoFrom(ctx); ci != nil {
			ci.role = auth.RolePublic
		}
		return auth.WithPrincipal(ctx, auth.Principal{Role: auth.RolePublic}), nil
	}
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if ci := callInfoFrom(ctx); ci != nil {
		ci.role = p.Role
	}
	ctx = auth.WithPrincipal(ctx, p)

	if !a.policy.Lists(method) {
		return nil, status.Errorf(codes.PermissionDenied, "method %s is not open to any role", method)
	}
	if !a.policy.Allows(method, p.Role) {
		if !p.IsAuthenticated() {
			return nil, status.Errorf(codes.Unauthenticated, "authorization: a bearer token is required to call %s", shortMethod(method))
		}
		return nil, status.Errorf(codes.PermissionDenied, "role %s may not call %s", p.Role, shortMethod(method))
	}
	return ctx, nil
}

// principal reads the bearer token from the "authorization" metadata. No
// token means a public caller; a token that does not verify is an error.
func (a *authorizer) principal(ctx context.Context) (auth.Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	switch len(values) {
	case 0:
		return auth.Principal{Role: auth.RolePublic}, nil
	case 1:
	default:
		return auth.Principal{}, status.Error(codes.Unauthenticated, "authorization: more than one authorization header")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return auth.Principal{}, status.Error(codes.Unauthenticated, `authorization: expected "Bearer <token>"`)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "authorization: empty bearer token")
	}
	p, err := a.verifier.Verify(ctx, token)
	if err != nil {
		var te *auth.TokenError
		switch {
		case errors.As(err, &te):
			return auth.Principal{}, status.Error(codes.Unauthenticated, "authorization: "+te.Reason)
		case errors.Is(err, auth.ErrInvalidToken):
			return auth.Principal{}, status.Error(codes.Unauthenticated, "authorization: "+err.Error())
		default:
			st := status.New(codes.Unavailable, "authorization: cannot verify the token now, try again")
			return auth.Principal{}, &withCause{st: st, cause: err}
		}
	}
	return p, nil
}

// shortMethod turns "/pkg.Service/Method" into "Method".
func shortMethod(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[i+1:]
	}
	return full
}
