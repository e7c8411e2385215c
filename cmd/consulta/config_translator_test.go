package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The translation settings are read; without CONSULTA_TRANSLATOR the
// provider follows what is configured or installed; a bad name is named.
func TestTranslatorSettingsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"CONSULTA_TRANSLATOR": "DeepL", "CONSULTA_DEEPL_API_KEY": "k:fx", "CONSULTA_DEEPL_URL": "http://deepl.test",
		"CONSULTA_DEEPL_GLOSSARIES": "es-en=g1", "CONSULTA_OPENAI_URL": "http://llm:8000", "CONSULTA_OPENAI_API_KEY": "sk",
		"CONSULTA_OPENAI_MODEL": "m", "CONSULTA_APERTIUM_URL": "http://apy:2737",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, _, err := platformConfigFromEnv(lookup)
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Translator
	if tc.Provider != "deepl" || tc.DeepLKey != "k:fx" || tc.DeepLURL != "http://deepl.test" || tc.DeepLGlossaries != "es-en=g1" ||
		tc.OpenAIURL != "http://llm:8000" || tc.OpenAIKey != "sk" || tc.OpenAIModel != "m" || tc.ApertiumURL != "http://apy:2737" {
		t.Errorf("translator config %+v", tc)
	}

	env = map[string]string{"CONSULTA_TRANSLATOR_URL": "http://lt:5000"}
	if cfg, _, _ = platformConfigFromEnv(lookup); cfg.Translator.Provider != "libretranslate" {
		t.Errorf("with a LibreTranslate URL: provider %q", cfg.Translator.Provider)
	}
	env = map[string]string{"CONSULTA_APERTIUM_URL": "http://apy:2737"}
	if cfg, _, _ = platformConfigFromEnv(lookup); cfg.Translator.Provider != "apertium" {
		t.Errorf("with an apertium-apy URL: provider %q", cfg.Translator.Provider)
	}
	env = map[string]string{}
	_, lookErr := exec.LookPath("apertium")
	want := map[bool]string{true: "apertium", false: ""}[lookErr == nil]
	if cfg, _, _ = platformConfigFromEnv(lookup); cfg.Translator.Provider != want {
		t.Errorf("nothing set (apertium installed: %v): provider %q, want %q", lookErr == nil, cfg.Translator.Provider, want)
	}

	env = map[string]string{"CONSULTA_TRANSLATOR": "google"}
	if _, _, err = platformConfigFromEnv(lookup); err == nil || !strings.Contains(err.Error(), "CONSULTA_TRANSLATOR") {
		t.Errorf("unknown provider: %v", err)
	}
}
