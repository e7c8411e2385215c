// Package gateway is the HTTP edge for outside clients: REST/JSON routes
// translated to the gRPC APIs by grpc-gateway (so every call passes the same
// authentication, validation and logging as a gRPC call), the OpenAPI
// document, and, in development, the JWKS of the built-in token issuer.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/consulta-platform/consulta/docs/openapi"
	"github.com/consulta-platform/consulta/pkg/clientaddr"
	submissionv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/submission/v1"
	"github.com/consulta-platform/consulta/services/consultation"
	"github.com/consulta-platform/consulta/services/submission"
	"github.com/consulta-platform/consulta/services/summary"
)

// Name is the service name used by `consulta serve --services`.
const Name = "gateway"

// Upstreams are the gRPC connections the routes are proxied to; in monolithic
// mode all three are the same connection to the process's own server.
type Upstreams struct {
	Consultation *grpc.ClientConn
	Submission   *grpc.ClientConn
	Summary      *grpc.ClientConn
}

// Config configures the gateway.
type Config struct {
	Upstreams Upstreams
	Logger    *slog.Logger
	// DevJWKS, when set, is served at /.well-known/jwks.json: the public key of
	// the development issuer. Never set in production.
	DevJWKS []byte
	// TrustedProxies are the networks of the proxies in front of the
	// gateway whose X-Forwarded-For hops are believed (none: the client is
	// always the connection's peer). See clientaddr.Proxies.
	TrustedProxies []netip.Prefix
	// Limits bound request bodies per route, and the deadlines of the
	// routes that need longer than the server's timeouts.
	Limits Limits
}

// New builds the HTTP handler. Every response carries the security headers
// of secureHeaders, and none carries the services' gRPC metadata.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	// The client address the edge found goes to the services as metadata;
	// the forwarding headers the client wrote do not (clientaddr.Handler
	// strips them before grpc-gateway reads the request).
	mux := runtime.NewServeMux(runtime.WithErrorHandler(errorHandler), runtime.WithMetadata(clientaddr.OutgoingMetadata),
		runtime.WithOutgoingHeaderMatcher(dropMetadata), runtime.WithOutgoingTrailerMatcher(dropMetadata))
	regs := []struct {
		name string
		conn *grpc.ClientConn
		fn   func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{consultation.Name, cfg.Upstreams.Consultation, consultation.RegisterGateway},
		{submission.Name, cfg.Upstreams.Submission, submission.RegisterGateway},
		{summary.Name, cfg.Upstreams.Summary, summary.RegisterGateway},
	}
	for _, r := range regs {
		if r.conn == nil {
			return nil, fmt.Errorf("gateway: no upstream for %s", r.name)
		}
		if err := r.fn(ctx, mux, r.conn); err != nil {
			return nil, fmt.Errorf("gateway: register %s: %w", r.name, err)
		}
	}
	root := http.NewServeMux()
	root.Handle("/v1/", mux)
	// Open data as file downloads, which grpc-gateway's stream rendering is not.
	root.Handle("GET /v1/consultations/{id}/open-data.csv", openDataDownload(mux, cfg.Upstreams.Submission,
		submissionv1.OpenDataFormat_OPEN_DATA_FORMAT_CSV, "text/csv; charset=utf-8", "csv"))
	root.Handle("GET /v1/consultations/{id}/open-data.ndjson", openDataDownload(mux, cfg.Upstreams.Submission,
		submissionv1.OpenDataFormat_OPEN_DATA_FORMAT_NDJSON, "application/x-ndjson", "ndjson"))
	root.Handle("GET /confirm", confirmSubmission(cfg.Upstreams.Submission))
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Document)
	})
	if len(cfg.DevJWKS) > 0 {
		jwks := cfg.DevJWKS
		root.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jwks)
		})
	}
	// The client's address is settled first (forwarding headers from
	// untrusted hops are dropped); every answer, a refused body's 413
	// included, carries the security headers; bodies are bounded per route.
	return clientaddr.NewProxies(cfg.TrustedProxies).Handler(secureHeaders(bounded(root, cfg.Limits))), nil
}

// errorHandler is grpc-gateway's, plus a Retry-After header on answers a
// client should retry later: 503 (a backing service out of reach, or the
// upstream service itself) and 429 (a rate limit). The wait is the status's
// google.rpc.RetryInfo (for a rate limit, the limiter's own wait) rounded up
// to whole seconds, so that a client that waits that long is let through;
// without one, a second.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	if c := st.Code(); c == codes.Unavailable || c == codes.ResourceExhausted {
		wait := time.Duration(0)
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				wait = ri.GetRetryDelay().AsDuration()
			}
		}
		if wait <= 0 {
			wait = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}
