package langdetect

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// consultation is the language set of a typical EU-LAC consultation.
var consultation = []string{"es", "pt-BR", "en", "fr", "nl"}

func TestRealisticAnswers(t *testing.T) {
	d := New()
	for _, s := range answers {
		tag, ok := d.Detect(s.text, consultation)
		if !ok || tag != s.lang {
			t.Errorf("Detect(%q) = %q, %v; want %q", s.text, tag, ok, s.lang)
		}
	}
}

// TestSpanishPortuguesePairs detects sentences that differ in a few letters.
func TestSpanishPortuguesePairs(t *testing.T) {
	d := New()
	for _, s := range pairs {
		if tag, ok := d.Detect(s.text, consultation); !ok || tag != s.lang {
			t.Errorf("Detect(%q) = %q, %v; want %q", s.text, tag, ok, s.lang)
		}
	}
}

// TestNeverWrong runs every sample, hard ones included, and allows "unsure"
// but never a wrong language. It logs how many it could tell.
func TestNeverWrong(t *testing.T) {
	d := New()
	all := append(append(append([]sample{}, answers...), pairs...), hard...)
	var right, unsure, long, longUnsure int
	for _, s := range all {
		tag, ok := d.Detect(s.text, consultation)
		isLong := utf8.RuneCountInString(s.text) >= 40
		if isLong {
			long++
		}
		switch {
		case !ok:
			unsure++
			if isLong {
				longUnsure++
			}
		case tag == s.lang:
			right++
		default:
			t.Errorf("Detect(%q) = %q, want %q or unsure", s.text, tag, s.lang)
		}
	}
	t.Logf("%d samples: %d right, %d unsure (%d of the %d with 40 characters or more)", len(all), right, unsure, longUnsure, long)
	if longUnsure*10 > long {
		t.Errorf("unsure about %d of %d samples of 40 characters or more, want at most 10%%", longUnsure, long)
	}
}

func TestTooShort(t *testing.T) {
	d := New()
	for _, text := range []string{"", "   ", "¿?", "Sí, gracias.", "Muy bien", "Not applicable.", "Sans objet.", "No aplica.", "2030 2031 2032"} {
		if tag, ok := d.Detect(text, consultation); ok {
			t.Errorf("Detect(%q) = %q, true; want ok=false", text, tag)
		}
	}
}

// TestCandidatesRestrict checks that the answer is a candidate or nothing,
// and nothing when the text is plainly in another language.
func TestCandidatesRestrict(t *testing.T) {
	d := New()
	cases := []struct {
		text       string
		candidates []string
		not        string
	}{
		{"Nous proposons un programme de formation à la cybersécurité pour les petites et moyennes entreprises.", []string{"es", "en"}, "fr"},
		{"Os dados de saúde não deveriam ser transferidos para fora do país sem garantias equivalentes às europeias.", []string{"es", "en"}, "pt"},
		{"Wir sind der Meinung, dass künstliche Intelligenz risikobasiert reguliert werden sollte.", consultation, "nl"},
		{"Riteniamo che l'intelligenza artificiale debba essere regolata con un approccio basato sul rischio.", consultation, "es"},
	}
	for _, c := range cases {
		tag, ok := d.Detect(c.text, c.candidates)
		if ok || tag != "" {
			t.Errorf("Detect(%q, %q) = %q, %v; want \"\", false (and never %q)", c.text, c.candidates, tag, ok, c.not)
		}
	}
}

func TestTagAsGiven(t *testing.T) {
	d := New()
	pt := "A interoperabilidade dos serviços públicos digitais é uma prioridade para os governos municipais."
	for _, c := range []struct {
		candidates []string
		want       string
	}{
		{[]string{"es", "pt-BR", "en"}, "pt-BR"},
		{[]string{"es", "pt-br", "en"}, "pt-br"},
		{[]string{"es", "pt-BR", "pt-PT"}, "pt-BR"},
		{[]string{"pt-PT", "es", "pt-BR"}, "pt-PT"},
		{[]string{"es", "por"}, "por"},
	} {
		if tag, ok := d.Detect(pt, c.candidates); !ok || tag != c.want {
			t.Errorf("Detect(pt, %q) = %q, %v; want %q", c.candidates, tag, ok, c.want)
		}
	}
}

// TestOneCandidate: with one language there is nothing to choose.
func TestOneCandidate(t *testing.T) {
	d := New()
	for _, c := range []struct {
		candidates []string
		want       string
	}{
		{[]string{"fr"}, "fr"},
		{[]string{"fr", "fr"}, "fr"},
		{[]string{"pt-BR", "pt"}, "pt-BR"},
		{[]string{"not a tag!", "nl"}, "nl"},
		{[]string{"ga"}, "ga"}, // not supported, but the only one
	} {
		for _, text := range []string{"", "Hello world, this is English."} {
			if tag, ok := d.Detect(text, c.candidates); !ok || tag != c.want {
				t.Errorf("Detect(%q, %q) = %q, %v; want %q, true", text, c.candidates, tag, ok, c.want)
			}
		}
	}
}

func TestUnsupportedCandidatesIgnored(t *testing.T) {
	d := New()
	es := "Proponemos un programa de formación en ciberseguridad para pequeñas y medianas empresas."
	en := "We propose a cybersecurity training programme for small and medium-sized enterprises."
	for _, c := range []struct {
		text       string
		candidates []string
		want       string
		ok         bool
	}{
		{es, []string{"es", "ga", "mt", "!!"}, "es", true},
		{es, []string{"ga", "es", "en", "sk"}, "es", true},
		{en, []string{"es", "ga"}, "", false}, // English is neither Spanish nor plainly Irish
		{es, []string{"ga", "mt"}, "", false},
		{es, nil, "", false},
		{es, []string{"", "und", "??"}, "", false},
	} {
		if tag, ok := d.Detect(c.text, c.candidates); ok != c.ok || tag != c.want {
			t.Errorf("Detect(%.20q…, %q) = %q, %v; want %q, %v", c.text, c.candidates, tag, ok, c.want, c.ok)
		}
	}
}

// TestLongText detects a position paper from its beginning.
func TestLongText(t *testing.T) {
	d := New()
	paper := strings.Repeat("Wij vinden dat kunstmatige intelligentie gereguleerd moet worden volgens een risicogebaseerde aanpak. ", 200)
	if tag, ok := d.Detect(paper, consultation); !ok || tag != "nl" {
		t.Errorf("Detect(paper) = %q, %v; want nl", tag, ok)
	}
	for _, c := range []struct {
		text string
		max  int
		want string
	}{
		{"uno dos tres", 100, "uno dos tres"},
		{"uno dos tres", 9, "uno dos"},
		{"uno dos tres", 7, "uno dos"},
		{"unodostres", 5, "unodo"},
		{"ñandú pingüino", 8, "ñandú"},
	} {
		if got := head(c.text, c.max); got != c.want {
			t.Errorf("head(%q, %d) = %q, want %q", c.text, c.max, got, c.want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	d := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			// Sets that differ by goroutine, to fill the cache concurrently.
			candidates := append([]string{fmt.Sprintf("x-%d", i)}, consultation...)
			for _, s := range answers[:10] {
				if tag, ok := d.Detect(s.text, candidates); !ok || tag != s.lang {
					t.Errorf("Detect(%q) = %q, %v; want %q", s.text, tag, ok, s.lang)
				}
			}
		})
	}
	wg.Wait()
}

func TestCacheBounded(t *testing.T) {
	d := New()
	es := "Proponemos un programa de formación en ciberseguridad para pequeñas y medianas empresas."
	for i := range maxCached + 10 {
		if tag, ok := d.Detect(es, []string{"en", "es", fmt.Sprintf("x-%d", i)}); !ok || tag != "es" {
			t.Fatalf("Detect = %q, %v; want es", tag, ok)
		}
	}
	if n := len(d.sets); n != maxCached {
		t.Errorf("%d sets cached, want %d", n, maxCached)
	}
}

// BenchmarkDetect detects a 200-character answer among five languages.
func BenchmarkDetect(b *testing.B) {
	d := New()
	text := "Consideramos que la inteligencia artificial debe regularse con un enfoque basado en riesgos, con participación de la sociedad civil y con especial atención a las comunidades rurales de la región, hoy."
	if n := utf8.RuneCountInString(text); n != 200 {
		b.Fatalf("text has %d characters, want 200", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if tag, ok := d.Detect(text, consultation); !ok || tag != "es" {
			b.Fatalf("Detect = %q, %v", tag, ok)
		}
	}
}
