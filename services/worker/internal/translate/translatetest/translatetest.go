// Package translatetest runs a LibreTranslate-compatible HTTP server for
// tests: it "translates" by a visible, deterministic transformation, so that
// a test can tell which text went through it and into which language.
package translatetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Translation is what the server makes of text in target: "[target] text".
func Translation(text, target string) string {
	return "[" + target + "] " + text
}

// Request is one request the server answered.
type Request struct {
	Q      []string `json:"q"`
	Source string   `json:"source"`
	Target string   `json:"target"`
	Format string   `json:"format"`
	APIKey string   `json:"api_key"`
}

// Server is the test server.
type Server struct {
	*httptest.Server
	apiKey    string
	languages map[string]bool

	mu       sync.Mutex
	requests []Request
}

// NewServer starts a server, closed when the test ends, that requires apiKey
// when it is not empty and knows the given base languages (any when none).
func NewServer(t testing.TB, apiKey string, languages ...string) *Server {
	t.Helper()
	s := &Server{apiKey: apiKey, languages: map[string]bool{}}
	for _, l := range languages {
		s.languages[l] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/translate" {
		fail(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(w, http.StatusBadRequest, "want a JSON body")
		return
	}
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "invalid request: %v", err)
		return
	}
	if s.apiKey != "" && req.APIKey != s.apiKey {
		fail(w, http.StatusForbidden, "Invalid API key")
		return
	}
	for _, l := range []string{req.Source, req.Target} {
		if l == "" || strings.ContainsAny(l, "-_") || (len(s.languages) > 0 && !s.languages[l]) {
			fail(w, http.StatusBadRequest, "%s is not supported", l)
			return
		}
	}
	if req.Format != "text" || len(req.Q) == 0 {
		fail(w, http.StatusBadRequest, "invalid request: format %q, %d texts", req.Format, len(req.Q))
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	out := make([]string, len(req.Q))
	for i, q := range req.Q {
		out[i] = Translation(q, req.Target)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"translatedText": out})
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}
