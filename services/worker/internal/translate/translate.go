// Package translate is the worker's machine translation: the Translator its
// jobs call and the providers behind it.
//
// Providers: Apertium (the default, free software running on this machine,
// through apertium-apy's HTTP API or the apertium command; Spanish is the
// pivot, so pt↔en, fr↔en and pt↔fr take two hops through es), LibreTranslate,
// DeepL (with glossaries) and any OpenAI-compatible chat-completions endpoint.
// New builds the one a Config names.
//
// The interface is one method, Translate, which returns one text per input
// text, in order. Which provider and which model or language pair produced a
// result is its Provenance: every provider here also has a method
// Provenance(from, to string) Provenance, and ProvenanceOf(t, from, to) reads
// it from any Translator (Provider "unknown" for one without it), so that
// stored translations can be labelled "machine, by apertium es-pt".
//
// Failures are *Error values classified for retries: Permanent when the
// provider refused the request itself (any 4xx but 401, 403, 408, 429 and
// DeepL's 456 quota; an unsupported language pair), transient otherwise
// (network, timeouts, 5xx, rate limits), with the provider's Retry-After.
// IsPermanent and RetryAfter read them through any wrapping.
package translate

import (
	"context"
	"fmt"
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

// Provenance says what produced a translation.
type Provenance struct {
	// Provider is one of the Provider* names.
	Provider string
	// Model is the model or language pair within the provider: "es-pt" or
	// "pt-es+spa-eng" (two Apertium hops), "gpt-4o-mini", "deepl
	// glossary 1234...".
	Model string
}

// String is "provider model".
func (p Provenance) String() string { return strings.TrimSpace(p.Provider + " " + p.Model) }

// Provider names.
const (
	ProviderApertium       = "apertium"
	ProviderLibreTranslate = "libretranslate"
	ProviderDeepL          = "deepl"
	ProviderOpenAI         = "openai"
)

// provenancer is what every provider here implements besides Translator.
type provenancer interface {
	Provenance(from, to string) Provenance
}

// ProvenanceOf says what t uses to translate from one language into another.
func ProvenanceOf(t Translator, from, to string) Provenance {
	if p, ok := t.(provenancer); ok {
		return p.Provenance(from, to)
	}
	return Provenance{Provider: "unknown"}
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
	base, err := checkBaseURL("translator URL", baseURL)
	if err != nil {
		return nil, err
	}
	return &LibreTranslate{
		URL:    base,
		APIKey: apiKey,
		Client: &http.Client{Timeout: DefaultTimeout},
	}, nil
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
	b, err := jsonBody(body)
	if err != nil {
		return nil, err
	}
	var r response
	err = call{
		provider: ProviderLibreTranslate, client: l.Client, method: http.MethodPost, url: l.URL + "/translate",
		body: b, contentType: "application/json",
		message: func(raw []byte) string { return jsonMessage(raw, "error") },
	}.do(ctx, &r)
	if err != nil {
		return nil, err
	}
	if len(r.TranslatedText) != len(body.Q) {
		return nil, &Error{Provider: ProviderLibreTranslate, Err: fmt.Errorf("%d translations for %d texts", len(r.TranslatedText), len(body.Q))}
	}
	return r.TranslatedText, nil
}

// Provenance names LibreTranslate and the language pair.
func (l *LibreTranslate) Provenance(from, to string) Provenance {
	return Provenance{Provider: ProviderLibreTranslate, Model: BaseLanguage(from) + "-" + BaseLanguage(to)}
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
