package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
)

// RoleService is another process of the platform calling an internal RPC
// (the worker reading a submission's texts to translate them). No token of
// the identity provider can carry it: Principal.Validate refuses it, and only
// a bearer token made from the processes' shared service key
// (ServiceKey.Token) becomes it, in ServiceVerifier.
const RoleService Role = "service"

// serviceTokenPrefix marks a service token, so that it never reaches the
// JWT verifier (and a JWT never reaches the constant-time comparison).
const serviceTokenPrefix = "svc."

// serviceKeyLabel separates the service token from anything else derived
// from the same secret (the signing key, when no service key is set).
const serviceKeyLabel = "consulta service identity v1"

// ServiceKey is the secret the platform's processes share to call each
// other's internal RPCs. The token sent is an HMAC of a fixed label under
// the secret: it names no process and does not expire, so it is as
// long-lived as the secret; rotate by changing the secret everywhere.
type ServiceKey struct {
	token string
}

// NewServiceKey derives the service token from secret (at least 32 bytes).
func NewServiceKey(secret []byte) (*ServiceKey, error) {
	if len(secret) < 32 {
		return nil, errors.New("service key: want at least 32 bytes")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(serviceKeyLabel))
	return &ServiceKey{token: serviceTokenPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))}, nil
}

// GetRequestMetadata sends the service token as a bearer token: a
// ServiceKey is a grpc credentials.PerRPCCredentials.
func (k *ServiceKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + k.token}, nil
}

// RequireTransportSecurity is false: in-cluster connections without TLS
// (and the loopback connection of monolithic mode) carry it too. Deploy
// with gRPC TLS (CONSULTA_GRPC_TLS_*) where the network is not trusted.
func (k *ServiceKey) RequireTransportSecurity() bool { return false }

// TokenVerifier turns a bearer token into the caller it names.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// ServiceVerifier accepts the service token of Key as RoleService and hands
// every other token to Next.
type ServiceVerifier struct {
	Key  *ServiceKey
	Next TokenVerifier
}

// Verify implements TokenVerifier.
func (v ServiceVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, serviceTokenPrefix) {
		return v.Next.Verify(ctx, token)
	}
	if v.Key == nil || subtle.ConstantTimeCompare([]byte(token), []byte(v.Key.token)) != 1 {
		return Principal{}, tokenErr("invalid service token")
	}
	return Principal{Role: RoleService, Subject: "service"}, nil
}
