// Package translate is the worker's machine translation: the Translator its
// jobs call, and a client for LibreTranslate-compatible HTTP APIs.
package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Translator translates texts from one language into another. Languages are
// BCP 47 tags; the result has one text per input text, in the same order.
type Translator interface {
	Translate(ctx context.Context, texts []string, from, to string) ([]string, error)
}

// Defaults of LibreTranslate.
const (
	// DefaultTimeout bounds one HTTP request.
	DefaultTimeout = 60 * time.Second
	// DefaultBatchSize is how many texts go into one request.
	DefaultBatchSize = 25
	// bodyExcerpt is how much of an error response is quoted in the error.
	bodyExcerpt = 300
	// maxResponse bounds what is read of a response.
	maxResponse = 16 << 20
)

// LibreTranslate calls a LibreTranslate-compatible API: POST {URL}/translate
// with {"q": [...], "source", "target", "format": "text", "api_key"} and an
// answer {"translatedText": [...]}.
type LibreTranslate struct {
	// URL is the base URL of the API, without /translate.
	URL string
	// APIKey is sent as api_key when not empty.
	APIKey string
	// Client defaults to an http.Client with DefaultTimeout.
	Client *http.Client
	// BatchSize is how many texts go into one request (DefaultBatchSize when 0).
	BatchSize int
}

// NewLibreTranslate checks baseURL and returns a client for it.
func NewLibreTranslate(baseURL, apiKey string) (*LibreTranslate, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("translator URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	return &LibreTranslate{
		URL:    strings.TrimRight(baseURL, "/"),
		APIKey: apiKey,
		Client: &http.Client{Timeout: DefaultTimeout},
	}, nil
}

// HTTPError is a non-2xx answer of the translation API.
type HTTPError struct {
	StatusCode int
	// Body is the start of the response body.
	Body string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("status %d: %s", e.StatusCode, e.Body)
}

// Permanent reports whether sending the same request again cannot succeed:
// the API rejected the request itself (for example an unsupported language
// or a text over its size limit), not the key, the rate or its own state.
func (e *HTTPError) Permanent() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

type request struct {
	Q      []string `json:"q"`
	Source string   `json:"source"`
	Target string   `json:"target"`
	Format string   `json:"format"`
	APIKey string   `json:"api_key,omitempty"`
}

type response struct {
	TranslatedText []string `json:"translatedText"`
}

// Translate translates texts in batches of BatchSize. Languages are reduced
// to their base language ("pt-BR" becomes "pt"), which is what such APIs
// take; texts whose languages reduce to the same one are returned unchanged.
func (l *LibreTranslate) Translate(ctx context.Context, texts []string, from, to string) ([]string, error) {
	src, dst := BaseLanguage(from), BaseLanguage(to)
	if src == "" || dst == "" {
		return nil, fmt.Errorf("translate %q to %q: empty language", from, to)
	}
	if src == dst {
		return append([]string(nil), texts...), nil
	}
	size := l.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	out := make([]string, 0, len(texts))
	for start := 0; start < len(texts); start += size {
		batch := texts[start:min(start+size, len(texts))]
		got, err := l.post(ctx, request{Q: batch, Source: src, Target: dst, Format: "text", APIKey: l.APIKey})
		if err != nil {
			return nil, fmt.Errorf("translate %d texts %s→%s at %s: %w", len(batch), src, dst, redacted(l.URL), err)
		}
		out = append(out, got...)
	}
	return out, nil
}

func (l *LibreTranslate) post(ctx context.Context, body request) ([]string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL+"/translate", bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := l.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // *url.Error names method, URL and cause
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &HTTPError{StatusCode: resp.StatusCode, Body: excerpt(raw, bodyExcerpt)}
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode response %q: %w", excerpt(raw, bodyExcerpt), err)
	}
	if len(r.TranslatedText) != len(body.Q) {
		return nil, fmt.Errorf("%d translations for %d texts", len(r.TranslatedText), len(body.Q))
	}
	return r.TranslatedText, nil
}

// BaseLanguage reduces a BCP 47 tag to its lower-case primary language
// subtag: "pt-BR" → "pt", "es_419" → "es".
func BaseLanguage(tag string) string {
	base, _, _ := strings.Cut(strings.TrimSpace(tag), "-")
	base, _, _ = strings.Cut(base, "_")
	return strings.ToLower(base)
}

// excerpt returns at most n bytes of b as valid UTF-8 on one line.
func excerpt(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redacted hides a password in u.
func redacted(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return parsed.Redacted()
}

// IsPermanent reports whether err, from a Translator, will not go away by
// itself (see HTTPError.Permanent).
func IsPermanent(err error) bool {
	var h *HTTPError
	return errors.As(err, &h) && h.Permanent()
}
