package translate

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DeepL endpoints: the paid API, and the free one whose keys end in ":fx".
const (
	DeepLURL     = "https://api.deepl.com"
	DeepLFreeURL = "https://api-free.deepl.com"
	// deepLBatch is how many texts DeepL takes in one request.
	deepLBatch = 50
)

// DeepL calls the DeepL API: POST {URL}/v2/translate with
// {"text": [...], "source_lang", "target_lang", "glossary_id"} and the key in
// "Authorization: DeepL-Auth-Key KEY".
type DeepL struct {
	// URL is the API's base URL, without /v2.
	URL string
	// Key is the authentication key.
	Key string
	// Glossaries maps a pair of base languages ("es-en") to the id of the
	// DeepL glossary used for it.
	Glossaries map[string]string
	// Client defaults to an http.Client with DefaultTimeout.
	Client *http.Client
}

// NewDeepL returns a DeepL client. baseURL empty means DeepLFreeURL for a
// free key (ending in ":fx"), else DeepLURL.
func NewDeepL(baseURL, key string, glossaries map[string]string) (*DeepL, error) {
	if key == "" {
		return nil, fmt.Errorf("deepl: no API key (CONSULTA_DEEPL_API_KEY)")
	}
	if baseURL == "" {
		baseURL = DeepLURL
		if strings.HasSuffix(key, ":fx") {
			baseURL = DeepLFreeURL
		}
	}
	base, err := checkBaseURL("DeepL URL", baseURL)
	if err != nil {
		return nil, err
	}
	return &DeepL{URL: base, Key: key, Glossaries: glossaries, Client: &http.Client{Timeout: DefaultTimeout}}, nil
}

// deepLSource is DeepL's source language: the base language, upper-case.
func deepLSource(tag string) string { return strings.ToUpper(BaseLanguage(tag)) }

// deepLTarget is DeepL's target language. English and Portuguese need a
// variant: the tag's region when it has one, else British English and
// European Portuguese (the platform's partners are European and Latin
// American; a consultation that wants pt-BR says so).
func deepLTarget(tag string) string {
	base := BaseLanguage(tag)
	region := ""
	if _, rest, ok := strings.Cut(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"), "-"); ok {
		region = strings.ToUpper(rest)
	}
	switch base {
	case "en":
		if region == "US" {
			return "EN-US"
		}
		return "EN-GB"
	case "pt":
		if region == "BR" {
			return "PT-BR"
		}
		return "PT-PT"
	}
	return strings.ToUpper(base)
}

type deepLRequest struct {
	Text       []string `json:"text"`
	SourceLang string   `json:"source_lang"`
	TargetLang string   `json:"target_lang"`
	GlossaryID string   `json:"glossary_id,omitempty"`
}

type deepLResponse struct {
	Translations []struct {
		DetectedSourceLanguage string `json:"detected_source_language"`
		Text                   string `json:"text"`
	} `json:"translations"`
}

func (d *DeepL) header() http.Header {
	return http.Header{"Authorization": {"DeepL-Auth-Key " + d.Key}}
}

// deepLMessage reads DeepL's {"message": "..."}.
func deepLMessage(raw []byte) string { return jsonMessage(raw, "message", "detail") }

// Translate translates texts in batches of 50, with the pair's glossary.
func (d *DeepL) Translate(ctx context.Context, texts []string, from, to string) ([]string, error) {
	if BaseLanguage(from) == "" || BaseLanguage(to) == "" {
		return nil, permanent(ProviderDeepL, "translate %q to %q: empty language", from, to)
	}
	if BaseLanguage(from) == BaseLanguage(to) && deepLTarget(from) == deepLTarget(to) {
		return append([]string(nil), texts...), nil
	}
	glossary := d.Glossaries[BaseLanguage(from)+"-"+BaseLanguage(to)]
	out := make([]string, 0, len(texts))
	for start := 0; start < len(texts); start += deepLBatch {
		batch := texts[start:min(start+deepLBatch, len(texts))]
		body, err := jsonBody(deepLRequest{Text: batch, SourceLang: deepLSource(from), TargetLang: deepLTarget(to), GlossaryID: glossary})
		if err != nil {
			return nil, err
		}
		var r deepLResponse
		err = call{provider: ProviderDeepL, client: d.Client, method: http.MethodPost, url: d.URL + "/v2/translate",
			header: d.header(), body: body, contentType: "application/json", message: deepLMessage}.do(ctx, &r)
		if err == nil && len(r.Translations) != len(batch) {
			err = &Error{Provider: ProviderDeepL, Err: fmt.Errorf("%d translations for %d texts", len(r.Translations), len(batch))}
		}
		if err != nil {
			return nil, fmt.Errorf("translate %d texts %s→%s: %w", len(batch), deepLSource(from), deepLTarget(to), err)
		}
		for _, t := range r.Translations {
			out = append(out, t.Text)
		}
	}
	return out, nil
}

// Provenance names DeepL, the target variant and the glossary when there is one.
func (d *DeepL) Provenance(from, to string) Provenance {
	model := deepLSource(from) + "-" + deepLTarget(to)
	if g := d.Glossaries[BaseLanguage(from)+"-"+BaseLanguage(to)]; g != "" {
		model += " glossary " + g
	}
	return Provenance{Provider: ProviderDeepL, Model: model}
}

// Glossary is a DeepL glossary.
type Glossary struct {
	ID           string    `json:"glossary_id"`
	Name         string    `json:"name"`
	Ready        bool      `json:"ready"`
	SourceLang   string    `json:"source_lang"`
	TargetLang   string    `json:"target_lang"`
	CreationTime time.Time `json:"creation_time"`
	EntryCount   int       `json:"entry_count"`
}

// GlossaryEntry is one term and its translation.
type GlossaryEntry struct {
	Source, Target string
}

// CreateGlossary creates a glossary for one pair of base languages from its
// entries, sent as TSV (one "source<TAB>target" line each). A term with a
// tab or a line break cannot be written in TSV and is refused.
func (d *DeepL) CreateGlossary(ctx context.Context, name, from, to string, entries []GlossaryEntry) (Glossary, error) {
	if name == "" || len(entries) == 0 {
		return Glossary{}, fmt.Errorf("deepl glossary: want a name and at least one entry")
	}
	var tsv strings.Builder
	for i, e := range entries {
		if strings.TrimSpace(e.Source) == "" || strings.TrimSpace(e.Target) == "" ||
			strings.ContainsAny(e.Source+e.Target, "\t\r\n") {
			return Glossary{}, fmt.Errorf("deepl glossary: entry %d (%q): want non-empty terms without tabs or line breaks", i+1, e.Source)
		}
		tsv.WriteString(e.Source + "\t" + e.Target + "\n")
	}
	body, err := jsonBody(map[string]string{
		"name": name, "source_lang": BaseLanguage(from), "target_lang": BaseLanguage(to),
		"entries": tsv.String(), "entries_format": "tsv",
	})
	if err != nil {
		return Glossary{}, err
	}
	var g Glossary
	err = call{provider: ProviderDeepL, client: d.Client, method: http.MethodPost, url: d.URL + "/v2/glossaries",
		header: d.header(), body: body, contentType: "application/json", message: deepLMessage}.do(ctx, &g)
	if err != nil {
		return Glossary{}, fmt.Errorf("create glossary %q: %w", name, err)
	}
	return g, nil
}

// ListGlossaries lists the account's glossaries.
func (d *DeepL) ListGlossaries(ctx context.Context) ([]Glossary, error) {
	var r struct {
		Glossaries []Glossary `json:"glossaries"`
	}
	err := call{provider: ProviderDeepL, client: d.Client, method: http.MethodGet, url: d.URL + "/v2/glossaries",
		header: d.header(), message: deepLMessage}.do(ctx, &r)
	if err != nil {
		return nil, fmt.Errorf("list glossaries: %w", err)
	}
	return r.Glossaries, nil
}

// ParseGlossaries reads "es-en=ID,pt-en=ID" (CONSULTA_DEEPL_GLOSSARIES).
func ParseGlossaries(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		pair, id, ok := strings.Cut(item, "=")
		from, to, ok2 := strings.Cut(strings.TrimSpace(pair), "-")
		if !ok || !ok2 || BaseLanguage(from) == "" || BaseLanguage(to) == "" || strings.TrimSpace(id) == "" {
			return nil, fmt.Errorf("deepl glossaries: %q: want from-to=glossary_id, e.g. es-en=def3a26b-…", item)
		}
		out[BaseLanguage(from)+"-"+BaseLanguage(to)] = strings.TrimSpace(id)
	}
	return out, nil
}
