package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestPkgKnowsNoService keeps dependencies pointing one way: the libraries
// under pkg/ never import a service; only the composition root under
// cmd/consulta does.
func TestPkgKnowsNoService(t *testing.T) {
	const module = "github.com/consulta-platform/consulta"
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../../pkg/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	checked := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], module+"/pkg/") {
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, module+"/services/") || strings.HasPrefix(imp, module+"/cmd/") {
				t.Errorf("%s imports %s: pkg/ must not know a service", fields[0], imp)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package under pkg/ was listed")
	}
}
