package translate

import (
	"fmt"
	"strings"
)

// Config chooses and configures a provider (see docs/operations.md for the
// environment variables behind each field).
type Config struct {
	// Provider is "apertium", "libretranslate", "deepl", "openai", or
	// "" / "none" for no machine translation.
	Provider string

	// ApertiumURL is an apertium-apy server; empty runs the apertium command.
	ApertiumURL string

	// LibreTranslateURL and LibreTranslateKey configure LibreTranslate.
	LibreTranslateURL, LibreTranslateKey string

	// DeepLKey, DeepLURL (empty: chosen by the key) and DeepLGlossaries
	// ("es-en=ID,...") configure DeepL.
	DeepLKey, DeepLURL, DeepLGlossaries string

	// OpenAIURL, OpenAIKey and OpenAIModel configure an OpenAI-compatible
	// chat-completions endpoint.
	OpenAIURL, OpenAIKey, OpenAIModel string
}

// DefaultProvider is the provider when none is named: LibreTranslate when
// its URL is set (the setting that came first), else Apertium when an
// apertium-apy URL is set or the apertium command is installed, else none.
func DefaultProvider(c Config) string {
	switch {
	case c.LibreTranslateURL != "":
		return ProviderLibreTranslate
	case c.ApertiumURL != "" || ApertiumInstalled():
		return ProviderApertium
	}
	return ""
}

// New builds the provider c names; nil and no error for none.
func New(c Config) (Translator, error) {
	switch strings.ToLower(strings.TrimSpace(c.Provider)) {
	case "", "none":
		return nil, nil
	case ProviderApertium:
		return orNil(NewApertium(c.ApertiumURL))
	case ProviderLibreTranslate:
		if c.LibreTranslateURL == "" {
			return nil, fmt.Errorf("translator libretranslate: no URL (CONSULTA_TRANSLATOR_URL)")
		}
		return orNil(NewLibreTranslate(c.LibreTranslateURL, c.LibreTranslateKey))
	case ProviderDeepL:
		g, err := ParseGlossaries(c.DeepLGlossaries)
		if err != nil {
			return nil, err
		}
		return orNil(NewDeepL(c.DeepLURL, c.DeepLKey, g))
	case ProviderOpenAI:
		if c.OpenAIURL == "" {
			return nil, fmt.Errorf("translator openai: no URL (CONSULTA_OPENAI_URL)")
		}
		return orNil(NewOpenAI(c.OpenAIURL, c.OpenAIKey, c.OpenAIModel))
	}
	return nil, fmt.Errorf("translator %q: want apertium, libretranslate, deepl, openai or none", c.Provider)
}

// orNil keeps a nil pointer out of a non-nil interface.
func orNil[T Translator](t T, err error) (Translator, error) {
	if err != nil {
		return nil, err
	}
	return t, nil
}
