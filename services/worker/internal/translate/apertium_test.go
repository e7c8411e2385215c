package translate_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/services/worker/internal/translate"
)

// requireApertium skips the test when Apertium (or the named extra command)
// is missing, saying what to install, unless CONSULTA_REQUIRE_APERTIUM=1
// (set by .ci/run), where a missing engine fails the test.
func requireApertium(t *testing.T, commands ...string) {
	t.Helper()
	for _, c := range append([]string{"apertium"}, commands...) {
		if _, err := exec.LookPath(c); err != nil {
			msg := fmt.Sprintf("%s not installed; install Apertium with `%s` (Debian/Ubuntu)", c, translate.ApertiumInstall)
			if os.Getenv("CONSULTA_REQUIRE_APERTIUM") == "1" {
				t.Fatal(msg + " (CONSULTA_REQUIRE_APERTIUM=1)")
			}
			t.Skip(msg)
		}
	}
}

// realCases are simple sentences and a word the real engine's translation
// must contain: a direct pair and two through the Spanish pivot, and text
// with markup and special characters that must come through.
var realCases = []struct {
	from, to, text, want string
	model                string
}{
	{"es", "pt", "Los datos abiertos son importantes.", "dados", "es-pt"},
	{"pt-BR", "en", "A casa é grande.", "house", "pt-es+spa-eng"},
	{"fr", "en", "La maison est grande.", "house", "fr-es+spa-eng"},
	{"en", "fr", "The house is big.", "maison", "eng-spa+es-fr"},
	{"es", "en", "Los datos <b>abiertos</b> & el 50% de la gobernanza [1].", "<b>", "spa-eng"},
}

func checkReal(t *testing.T, a *translate.Apertium) {
	t.Helper()
	ctx := context.Background()
	for _, c := range realCases {
		got, err := a.Translate(ctx, []string{c.text, "", " "}, c.from, c.to)
		if err != nil {
			t.Fatalf("%s→%s: %v", c.from, c.to, err)
		}
		if len(got) != 3 || got[1] != "" || got[2] != " " {
			t.Fatalf("%s→%s: got %q, want three texts, the blank ones unchanged", c.from, c.to, got)
		}
		out := got[0]
		if strings.TrimSpace(out) == "" || out == c.text || !strings.Contains(out, c.want) || strings.Contains(out, "*") {
			t.Errorf("%s→%s %q = %q, want a translation containing %q without unknown-word marks", c.from, c.to, c.text, out, c.want)
		}
		if p := translate.ProvenanceOf(a, c.from, c.to); p.Provider != "apertium" || p.Model != c.model {
			t.Errorf("%s→%s provenance %+v, want apertium %s", c.from, c.to, p, c.model)
		}
	}
	// Markup and special characters survive the engine.
	got, _ := a.Translate(ctx, []string{realCases[4].text}, "es", "en")
	for _, keep := range []string{"<b>", "</b>", "&", "50%", "[1]"} {
		if len(got) == 1 && !strings.Contains(got[0], keep) {
			t.Errorf("%q lost %q", got[0], keep)
		}
	}
}

func TestApertiumCommand(t *testing.T) {
	requireApertium(t)
	a, err := translate.NewApertium("")
	if err != nil {
		t.Fatal(err)
	}
	checkReal(t, a)
}

// TestApertiumAPY starts apertium-apy on the installed pairs and translates
// through its HTTP API.
func TestApertiumAPY(t *testing.T) {
	requireApertium(t, "apertium-apy")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "apertium-apy", translate.ApertiumModesDir, "-p", fmt.Sprint(port))
	cmd.Dir = t.TempDir() // it writes its language-name database there
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	a, err := translate.NewApertium(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		if pairs, err = a.ListPairs(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("apertium-apy not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"spa|por", "por|spa", "eng|spa", "spa|eng", "fra|spa", "spa|fra"} {
		if !strings.Contains(strings.Join(pairs, " "), want) {
			t.Errorf("pairs %q lack %s", pairs, want)
		}
	}
	checkReal(t, a)
}

// A pair Apertium has no route for is refused before any work, for good.
func TestApertiumUnsupportedPairIsPermanent(t *testing.T) {
	// Neither the command nor a server is needed: nothing is called.
	a := &translate.Apertium{Binary: "/nonexistent/apertium", URL: ""}
	_, err := a.Translate(context.Background(), []string{"Hola"}, "es", "nl")
	var e *translate.Error
	if !errors.As(err, &e) || !e.Permanent || !strings.Contains(err.Error(), "es→nl") {
		t.Errorf("es→nl: %v, want a permanent error naming the pair", err)
	}
	// A missing command is for an operator to fix: transient.
	_, err = a.Translate(context.Background(), []string{"Hola"}, "es", "pt")
	if err == nil || translate.IsPermanent(err) || !strings.Contains(err.Error(), "es-pt") {
		t.Errorf("missing command: %v, want a transient error naming the mode", err)
	}
	// An apertium-apy that does not answer: transient.
	a = &translate.Apertium{URL: "http://127.0.0.1:1", Client: &http.Client{Timeout: time.Second}}
	_, err = a.Translate(context.Background(), []string{"Hola"}, "es", "pt")
	if !errors.As(err, &e) || e.Permanent {
		t.Errorf("unreachable apertium-apy: %v, want a transient *Error", err)
	}
}
