package devenv

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A throwaway apertium-apy serves the installed pairs and is gone after stop.
func TestStartApertiumAPY(t *testing.T) {
	if _, err := exec.LookPath("apertium-apy"); err != nil {
		msg := "apertium-apy not installed; install it with `apt-get install -y --no-install-recommends apertium apertium-apy apertium-eng-spa apertium-es-pt apertium-fr-es`"
		if os.Getenv("CONSULTA_REQUIRE_APERTIUM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	url, stop, err := StartApertiumAPY(context.Background(), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get(url + "/listPairs")
	if err != nil {
		t.Fatal(err)
	}
	var pairs struct {
		ResponseData []struct{ SourceLanguage, TargetLanguage string }
	}
	err = json.NewDecoder(resp.Body).Decode(&pairs)
	resp.Body.Close()
	var got []string
	for _, p := range pairs.ResponseData {
		got = append(got, p.SourceLanguage+"|"+p.TargetLanguage)
	}
	if err != nil || !strings.Contains(strings.Join(got, " "), "spa|por") {
		t.Fatalf("pairs %v, %v", got, err)
	}
	stop()
	stop() // idempotent
	if _, err := http.Get(url + "/listPairs"); err == nil {
		t.Error("apertium-apy still answers after stop")
	}
	_, _, err = StartApertiumAPY(context.Background(), nil, t.TempDir()+"/nothing")
	var m *MissingError
	if !errors.As(err, &m) || !strings.Contains(err.Error(), "apertium-es-pt") {
		t.Errorf("missing pairs: %v", err)
	}
}
