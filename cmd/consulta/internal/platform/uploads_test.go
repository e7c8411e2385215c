package platform_test

import (
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consulta-platform/consulta/pkg/doctype/doctypetest"
	consultationv1 "github.com/consulta-platform/consulta/pkg/gen/consulta/consultation/v1"
)

// countFiles counts the regular files under dir (the blob store's).
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUploadsAreLimitedPerAddress: anonymous uploads over REST from one
// address are refused with 429 naming their own limit after a burst (40
// of 40 were accepted before), a refused upload stores nothing, and the
// submissions' budget is separate.
func TestUploadsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := startPlatformWith(t, func(c *platformConfig) { c.DisableRateLimits = false })
	id := openConsultationWith(t, h, func(r *consultationv1.CreateConsultationRequest) {
		r.Questions = append(r.Questions, &consultationv1.Question{Id: "paper", Text: es("Documento"),
			Kind: &consultationv1.Question_FileQuestion{FileQuestion: &consultationv1.FileQuestion{MaxBytes: 1 << 20}}})
	})
	path := "/v1/consultations/" + id + "/documents"
	upload := func(i int) (int, string) {
		return h.rest(http.MethodPost, path, "", map[string]any{"content": doctypetest.TextPDF(fmt.Sprintf("Documento %d", i), 0)}, nil)
	}
	accepted := 0
	var code int
	var body string
	for i := range 40 {
		if code, body = upload(i); code != http.StatusOK {
			break
		}
		accepted++
	}
	if code != http.StatusTooManyRequests || !strings.Contains(body, "uploads per IP address") {
		t.Fatalf("after %d uploads: %d %s; want 429 naming the upload limit", accepted, code, body)
	}
	if accepted == 0 || accepted >= 40 {
		t.Fatalf("%d uploads accepted before the limit", accepted)
	}
	docs, files := countRows(t, h.pool, "submission.documents"), countFiles(t, h.blobDir)
	if docs != accepted {
		t.Errorf("%d documents recorded, %d accepted", docs, accepted)
	}
	for i := range 3 {
		if code, body := upload(100 + i); code != http.StatusTooManyRequests {
			t.Fatalf("another upload: %d %s; want 429", code, body)
		}
	}
	if d, f := countRows(t, h.pool, "submission.documents"), countFiles(t, h.blobDir); d != docs || f != files {
		t.Errorf("refused uploads stored something: %d documents (was %d), %d files (was %d)", d, docs, f, files)
	}
	// Submissions have their own budget.
	code, body = h.rest(http.MethodPost, "/v1/consultations/"+id+"/submissions", "", map[string]any{
		"respondent": map[string]any{"stakeholderType": "academia", "country": "PY"}, "language": "es",
		"answers": []map[string]any{{"questionId": "q1", "text": "Propuesta."}}}, nil)
	if code != http.StatusOK {
		t.Errorf("a submission after the uploads ran out: %d %s", code, body)
	}
}
