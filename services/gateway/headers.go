package gateway

import (
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// Security headers of every response, and when a response must not be
// stored by a browser or a shared cache.
//
//   - X-Content-Type-Options: nosniff on every response, so that no
//     browser runs a JSON answer or a CSV export as a script or a page.
//   - Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
//     and X-Frame-Options: DENY on every response: the API's answers load
//     nothing and are framed by no one. The HTML pages (confirm.go) replace
//     the policy with htmlCSP, which lets them load their own styles.
//   - Referrer-Policy: no-referrer, since some addresses carry a token
//     (/confirm?token=...).
//   - Cache-Control: no-store on personal data (see personal), so that no
//     browser history or shared cache keeps what an erasure must reach or a
//     token entitled one caller to see. Public reference pages
//     (consultations, dialogues, thematic areas, summaries, receipts,
//     /openapi.json) may still be cached.
const (
	apiCSP  = "default-src 'none'; frame-ancestors 'none'"
	htmlCSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", apiCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if personal(r) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// personal reports whether the response to r may hold personal data or a
// secret, and so must not be stored:
//   - every request with credentials (an Authorization header, a cookie, or
//     metadata such as an edit secret in a Grpc-Metadata-* header): what it
//     sees depends on who asks;
//   - every request other than GET and HEAD: creations answer with edit
//     secrets and receipt keys;
//   - the routes of submissions and personal data, whoever asks: submissions
//     and their listings (/v1/submissions/..., /v1/consultations/{id}/
//     submissions), documents, the open-data exports (texts of individuals,
//     which an erasure must reach), /v1/personal-data:*, and /confirm.
func personal(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
		return true
	}
	for name := range r.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(name), runtime.MetadataHeaderPrefix) {
			return true
		}
	}
	p := r.URL.Path
	switch {
	case p == "/confirm",
		strings.HasPrefix(p, "/v1/submissions"),
		strings.HasPrefix(p, "/v1/personal-data"),
		strings.HasPrefix(p, "/v1/consultations/") && (strings.Contains(p, "/submissions") ||
			strings.Contains(p, "/documents") || strings.Contains(p, "/open-data")):
		return true
	}
	return false
}

// dropMetadata is grpc-gateway's header and trailer matcher for what the
// services send back: nothing is forwarded. By default grpc-gateway turns
// every gRPC response header into a Grpc-Metadata-* HTTP header (at least
// Grpc-Metadata-Content-Type), which tells the outside about the inside and
// would forward whatever a service or interceptor adds later. What the
// gateway means to expose it sets itself: Retry-After comes from the
// status's RetryInfo in errorHandler, not from metadata.
func dropMetadata(string) (string, bool) { return "", false }
