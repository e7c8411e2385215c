package translate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// ApertiumPackages are the Debian packages of the Apertium engine, its HTTP
// server and the language pairs the platform uses.
const ApertiumPackages = "apertium apertium-apy apertium-eng-spa apertium-es-pt apertium-fr-es"

// ApertiumInstall is the command that installs them on Debian or Ubuntu.
const ApertiumInstall = "apt-get install -y --no-install-recommends " + ApertiumPackages

// apertiumHop is one direct Apertium pair: its mode for the apertium
// command and its language pair for apertium-apy, which names languages by
// ISO 639-3 codes. The Debian pairs name their modes inconsistently
// (eng-spa but es-pt), hence the table.
type apertiumHop struct {
	mode     string // apertium MODE
	langpair string // apertium-apy langpair
}

// apertiumPairs are the direct pairs, by base language. Spanish is in every
// one of them: it is the pivot for the others.
var apertiumPairs = map[[2]string]apertiumHop{
	{"en", "es"}: {"eng-spa", "eng|spa"},
	{"es", "en"}: {"spa-eng", "spa|eng"},
	{"es", "pt"}: {"es-pt", "spa|por"},
	{"pt", "es"}: {"pt-es", "por|spa"},
	{"es", "fr"}: {"es-fr", "spa|fra"},
	{"fr", "es"}: {"fr-es", "fra|spa"},
}

// apertiumPivot is the language the pairs have in common.
const apertiumPivot = "es"

// apertiumRoute returns the hops from one base language to another: the
// direct pair, or two through Spanish.
func apertiumRoute(from, to string) ([]apertiumHop, bool) {
	if h, ok := apertiumPairs[[2]string{from, to}]; ok {
		return []apertiumHop{h}, true
	}
	a, ok1 := apertiumPairs[[2]string{from, apertiumPivot}]
	b, ok2 := apertiumPairs[[2]string{apertiumPivot, to}]
	if ok1 && ok2 {
		return []apertiumHop{a, b}, true
	}
	return nil, false
}

// Apertium translates with the Apertium rule-based engine: through an
// apertium-apy server when URL is set, else by running the apertium command
// once per text and hop (no shell; output bounded). Unknown words are left
// as they are, without Apertium's "*" mark, and text goes through the plain
// text deformatter, which keeps markup and special characters (<, &, $, %)
// in place.
type Apertium struct {
	// URL is the base URL of an apertium-apy server; empty means the CLI.
	URL string
	// Binary is the apertium command (ApertiumBinary when empty).
	Binary string
	// Client is the HTTP client for apertium-apy (DefaultTimeout when nil).
	Client *http.Client
	// Timeout bounds one run of the command (DefaultTimeout when 0).
	Timeout time.Duration
}

// ApertiumBinary is the name of the Apertium command.
const ApertiumBinary = "apertium"

// ApertiumModesDir is where the Debian packages install the pairs' modes,
// the directory apertium-apy serves.
const ApertiumModesDir = "/usr/share/apertium/modes"

// NewApertium returns a client of the apertium-apy at apyURL, or of the
// apertium command when apyURL is empty; then the command must be installed.
func NewApertium(apyURL string) (*Apertium, error) {
	if apyURL != "" {
		base, err := checkBaseURL("Apertium URL", apyURL)
		if err != nil {
			return nil, err
		}
		return &Apertium{URL: base, Client: &http.Client{Timeout: DefaultTimeout}}, nil
	}
	bin, err := exec.LookPath(ApertiumBinary)
	if err != nil {
		return nil, fmt.Errorf("apertium: the command is not installed (%w); install it with `%s`, or set CONSULTA_APERTIUM_URL to an apertium-apy", err, ApertiumInstall)
	}
	return &Apertium{Binary: bin}, nil
}

// ApertiumInstalled reports whether the apertium command is on PATH.
func ApertiumInstalled() bool {
	_, err := exec.LookPath(ApertiumBinary)
	return err == nil
}

// Translate translates each text, through Spanish when there is no direct
// pair. Empty texts stay empty.
func (a *Apertium) Translate(ctx context.Context, texts []string, from, to string) ([]string, error) {
	src, dst := BaseLanguage(from), BaseLanguage(to)
	if src == "" || dst == "" {
		return nil, permanent(ProviderApertium, "translate %q to %q: empty language", from, to)
	}
	if src == dst {
		return append([]string(nil), texts...), nil
	}
	route, ok := apertiumRoute(src, dst)
	if !ok {
		return nil, permanent(ProviderApertium, "no Apertium pair for %s→%s (pairs: en, pt and fr to and from es)", src, dst)
	}
	out := make([]string, len(texts))
	for i, text := range texts {
		if strings.TrimSpace(text) == "" {
			out[i] = text
			continue
		}
		for _, hop := range route {
			var err error
			if text, err = a.hop(ctx, hop, text); err != nil {
				return nil, fmt.Errorf("translate text %d of %d %s→%s: %w", i+1, len(texts), src, dst, err)
			}
		}
		out[i] = text
	}
	return out, nil
}

// Provenance names Apertium and its modes: "es-pt", or "pt-es+spa-eng".
func (a *Apertium) Provenance(from, to string) Provenance {
	route, _ := apertiumRoute(BaseLanguage(from), BaseLanguage(to))
	modes := make([]string, len(route))
	for i, h := range route {
		modes[i] = h.mode
	}
	return Provenance{Provider: ProviderApertium, Model: strings.Join(modes, "+")}
}

func (a *Apertium) hop(ctx context.Context, h apertiumHop, text string) (string, error) {
	if a.URL != "" {
		return a.apy(ctx, h, text)
	}
	return a.cli(ctx, h, text)
}

// apyResponse is apertium-apy's answer to /translate.
type apyResponse struct {
	ResponseData struct {
		TranslatedText string `json:"translatedText"`
	} `json:"responseData"`
	ResponseStatus int `json:"responseStatus"`
}

// apy asks apertium-apy: POST /translate with a form, so that long texts
// fit (GET takes the same parameters).
func (a *Apertium) apy(ctx context.Context, h apertiumHop, text string) (string, error) {
	form := url.Values{"langpair": {h.langpair}, "q": {text}, "markUnknown": {"no"}}
	var r apyResponse
	err := call{
		provider: ProviderApertium, client: a.Client, method: http.MethodPost, url: a.URL + "/translate",
		body: []byte(form.Encode()), contentType: "application/x-www-form-urlencoded",
		// {"status": "error", "code": 400, "message": "Bad Request", "explanation": "That pair is not installed"}
		message: func(raw []byte) string { return jsonMessage(raw, "explanation", "message") },
	}.do(ctx, &r)
	if err != nil {
		return "", fmt.Errorf("apertium-apy %s: %w", h.langpair, err)
	}
	return r.ResponseData.TranslatedText, nil
}

// ListPairs returns the pairs an apertium-apy server offers, as
// "spa|por" (ISO 639-3 codes), from /listPairs.
func (a *Apertium) ListPairs(ctx context.Context) ([]string, error) {
	if a.URL == "" {
		return nil, errors.New("apertium: ListPairs needs an apertium-apy URL")
	}
	var r struct {
		ResponseData []struct {
			Source string `json:"sourceLanguage"`
			Target string `json:"targetLanguage"`
		} `json:"responseData"`
	}
	err := call{provider: ProviderApertium, client: a.Client, method: http.MethodGet, url: a.URL + "/listPairs"}.do(ctx, &r)
	if err != nil {
		return nil, err
	}
	pairs := make([]string, len(r.ResponseData))
	for i, p := range r.ResponseData {
		pairs[i] = p.Source + "|" + p.Target
	}
	return pairs, nil
}

// boundedBuffer keeps at most max bytes and remembers whether more came.
type boundedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil // keep the process going; the result is refused
	}
	return b.buf.Write(p)
}

// cli runs `apertium -u -f txt MODE` with text on stdin.
func (a *Apertium) cli(ctx context.Context, h apertiumHop, text string) (string, error) {
	bin := a.Binary
	if bin == "" {
		bin = ApertiumBinary
	}
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// -u: no "*" before unknown words; -f txt: the plain-text deformatter
	// (-f none loses everything after a "<").
	cmd := exec.CommandContext(ctx, bin, "-u", "-f", "txt", h.mode)
	cmd.Stdin = strings.NewReader(text)
	// A translation is about as long as its source; far more is a fault.
	stdout := &boundedBuffer{max: 4*len(text) + 4096}
	stderr := &boundedBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", &Error{Provider: ProviderApertium, Err: fmt.Errorf("apertium %s: %w", h.mode, ctx.Err())}
	}
	if err != nil {
		// A missing mode (a pair package not installed) is for an operator
		// to fix, like anything else that makes the command fail: transient.
		return "", &Error{Provider: ProviderApertium, Message: excerpt(stderr.buf.Bytes(), bodyExcerpt),
			Err: fmt.Errorf("apertium %s: %w", h.mode, err)}
	}
	if stdout.overflow {
		return "", &Error{Provider: ProviderApertium, Permanent: true,
			Err: fmt.Errorf("apertium %s: output over %d bytes for %d bytes of input", h.mode, stdout.max, len(text))}
	}
	return stdout.buf.String(), nil
}
