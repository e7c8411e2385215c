package geo

import "testing"

func TestCountry(t *testing.T) {
	for _, ok := range []string{"BR", "DE", "JM", "US"} {
		if err := Country(ok); err != nil {
			t.Errorf("Country(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "br", "XX", "ZZ", "EU", "BRA", "419"} {
		if err := Country(bad); err == nil {
			t.Errorf("Country(%q) = nil, want an error", bad)
		}
	}
}

func TestLanguage(t *testing.T) {
	cases := map[string]string{"es": "es", "pt-br": "pt-BR", "en-GB": "en-GB", "fr": "fr", "nl": "nl"}
	for in, want := range cases {
		got, err := Language(in)
		if err != nil || got != want {
			t.Errorf("Language(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "und", "english", "e", "12"} {
		if _, err := Language(bad); err == nil {
			t.Errorf("Language(%q) = nil error, want one", bad)
		}
	}
}
