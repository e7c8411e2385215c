// Package geo checks the codes that identify countries and languages, using
// the CLDR data in golang.org/x/text so that no list is kept by hand.
package geo

import (
	"fmt"

	"golang.org/x/text/language"
)

// Country checks that code is an ISO 3166-1 alpha-2 country code in upper case.
func Country(code string) error {
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return fmt.Errorf("%q is not an ISO 3166-1 alpha-2 code", code)
	}
	r, err := language.ParseRegion(code)
	if err != nil || !r.IsCountry() || r.String() != code {
		return fmt.Errorf("%q is not an ISO 3166-1 country", code)
	}
	return nil
}

// Language parses a BCP 47 tag and returns its canonical form ("pt-br" gives
// "pt-BR").
func Language(tag string) (string, error) {
	t, err := language.Parse(tag)
	if err != nil {
		return "", fmt.Errorf("%q is not a BCP 47 language tag", tag)
	}
	if t == language.Und {
		return "", fmt.Errorf("%q is not a language", tag)
	}
	return t.String(), nil
}
