package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// TestOpenDataExport: only active, public submissions; anonymous ones
// without names; never contact data; CSV and NDJSON that parse back.
func TestOpenDataExport(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(true, domain.Question{ID: "documento", Kind: domain.KindFile, MaxBytes: 1 << 20})
	const blobKey = "sha256-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	if err := e.store.AddDocument(ctx, store.Document{Key: blobKey, ConsultationID: c.ID, MediaType: "application/pdf",
		SHA256: strings.TrimPrefix(blobKey, "sha256-"), Size: 1000}); err != nil {
		t.Fatal(err)
	}
	const namedText = "Sí, \"datos\" abiertos, para todos\nsegunda línea"
	named := e.submit(c, testRespondent{stakeholder: "civil_society", org: "Fundación Datos", register: "123456789012-34",
		person: "Pedro Nombrado", email: "pedro@example.org", publication: domain.PublicNamed},
		ansText("vision", namedText), ansChoice("temas", "datos", "talento"), ansScale("acuerdo", 4), ansRanking("orden", "b", "a"),
		domain.Answer{QuestionID: "documento", Kind: domain.AnswerFile, BlobID: blobKey})
	anonymous := e.submit(c, testRespondent{stakeholder: "academia", org: "Hidden University", register: "999999999999-99",
		person: "Anon Person", email: "anon@example.org", publication: domain.PublicAnonymous},
		ansText("vision", "anonymous view"))
	confidential := e.submit(c, testRespondent{stakeholder: "academia", org: "Secret Lab", person: "Conf Person",
		email: "conf@example.org", publication: domain.Confidential}, ansText("vision", "confidential view"))
	withdrawn := e.submit(c, testRespondent{stakeholder: "academia", org: "Gone Org", email: "gone@example.org",
		publication: domain.PublicNamed}, ansText("vision", "withdrawn view"))
	e.submit(c, testRespondent{stakeholder: "academia", org: "Pending Org", email: "pending@example.org",
		publication: domain.PublicNamed}, ansText("vision", "pending view"))
	for _, s := range []Submitted{named, anonymous, confidential, withdrawn} {
		e.confirm(s.Submission)
	}
	if _, err := e.app.Withdraw(ctx, anyone, withdrawn.Submission.ID, withdrawn.EditSecret); err != nil {
		t.Fatal(err)
	}
	// Translations follow their texts: the named one's is published,
	// labelled; the confidential one's is not.
	for _, s := range []Submitted{named, confidential} {
		if _, err := e.app.RecordTranslations(ctx, service, s.Submission.ID, 1, []store.NewTranslation{
			{Translation: domain.Translation{QuestionID: "vision", Language: "en", Text: "EN: translated " + s.Submission.Respondent.OrganisationName,
				Provider: "test-engine", Model: "m1"}}}); err != nil {
			t.Fatal(err)
		}
	}
	never := []string{"@example.org", "Pedro Nombrado", "Anon Person", "Hidden University", "999999999999-99",
		"Secret Lab", "confidential view", "Gone Org", "withdrawn view", "Pending Org", "pending view"}

	var out bytes.Buffer
	if err := e.app.ExportOpenData(ctx, c.ID, OpenDataCSV, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range never {
		if strings.Contains(out.String(), s) {
			t.Errorf("CSV contains %q:\n%s", s, out.String())
		}
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	wantHeader := []string{"submission_id", "created_at", "stakeholder_type", "country", "region", "language",
		"organisation_name", "transparency_register_id", "vision", "temas", "acuerdo", "orden", "documento",
		"vision.translation.es", "vision.translation.es.label", "vision.translation.en", "vision.translation.en.label"}
	if len(records) != 3 || !slices.Equal(records[0], wantHeader) {
		t.Fatalf("CSV records = %q", records)
	}
	wantNamed := []string{named.Submission.ID, "", "civil_society", "MX", "LAC", "es", "Fundación Datos", "123456789012-34",
		namedText, "datos|talento", "4", "b>a", blobKey, "", "", "EN: translated Fundación Datos", ""}
	got := records[1]
	if label := got[len(got)-1]; !strings.HasPrefix(label, "machine translation by test-engine m1 at ") {
		t.Errorf("translation label = %q", label)
	}
	got[len(got)-1] = ""
	createdAt := got[1]
	if at, err := time.Parse(time.RFC3339Nano, createdAt); err != nil || !at.Equal(named.Submission.CreatedAt.Truncate(time.Microsecond)) {
		t.Errorf("created_at = %q (%v), want %s", createdAt, err, named.Submission.CreatedAt)
	}
	got[1] = ""
	if !slices.Equal(got, wantNamed) {
		t.Errorf("named row = %q\nwant        %q", got, wantNamed)
	}
	if r := records[2]; r[0] != anonymous.Submission.ID || r[6] != "" || r[7] != "" || r[8] != "anonymous view" || r[9] != "" {
		t.Errorf("anonymous row = %q", r)
	}

	out.Reset()
	if err := e.app.ExportOpenData(ctx, c.ID, OpenDataNDJSON, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range never {
		if strings.Contains(out.String(), s) {
			t.Errorf("NDJSON contains %q:\n%s", s, out.String())
		}
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d NDJSON lines, want 2:\n%s", len(lines), out.String())
	}
	first, _ := json.Marshal(lines[0])
	var row struct {
		SubmissionID     string `json:"submission_id"`
		CreatedAt        string `json:"created_at"`
		OrganisationName string `json:"organisation_name"`
		Register         string `json:"transparency_register_id"`
		Answers          struct {
			Vision    string   `json:"vision"`
			Temas     []string `json:"temas"`
			Acuerdo   int      `json:"acuerdo"`
			Orden     []string `json:"orden"`
			Documento string   `json:"documento"`
		} `json:"answers"`
	}
	if err := json.Unmarshal(first, &row); err != nil {
		t.Fatal(err)
	}
	a := row.Answers
	if row.SubmissionID != named.Submission.ID || row.OrganisationName != "Fundación Datos" || row.Register != "123456789012-34" ||
		a.Vision != namedText || !slices.Equal(a.Temas, []string{"datos", "talento"}) || a.Acuerdo != 4 ||
		!slices.Equal(a.Orden, []string{"b", "a"}) || a.Documento != blobKey || row.CreatedAt != createdAt {
		t.Errorf("named NDJSON = %s", first)
	}
	ts, _ := lines[0]["translations"].([]any)
	if len(ts) != 1 {
		t.Fatalf("named NDJSON translations = %v", lines[0]["translations"])
	}
	if tr := ts[0].(map[string]any); tr["question_id"] != "vision" || tr["language"] != "en" || tr["kind"] != "machine" ||
		tr["text"] != "EN: translated Fundación Datos" || tr["provider"] != "test-engine" || tr["model"] != "m1" || tr["translated_at"] == "" {
		t.Errorf("named NDJSON translation = %v", tr)
	}
	if lines[1]["organisation_name"] != "" || lines[1]["submission_id"] != anonymous.Submission.ID {
		t.Errorf("anonymous NDJSON = %v", lines[1])
	}
	if len(lines[1]["answers"].(map[string]any)) != 1 {
		t.Errorf("anonymous answers = %v: unanswered questions are left out", lines[1]["answers"])
	}
}

// TestOpenDataRefuses: drafts are not public, and formats are csv or ndjson.
func TestOpenDataRefuses(t *testing.T) {
	ctx := context.Background()
	e := newRightsEnv(t)
	c := e.consultation(false)
	err := e.app.ExportOpenData(ctx, c.ID, "xlsx", io.Discard)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalid || ae.Field != "format" {
		t.Errorf("unknown format: %v", err)
	}
	c.Version, c.Status = 2, domain.StatusDraft
	e.apply(c)
	if err := e.app.ExportOpenData(ctx, c.ID, OpenDataCSV, io.Discard); !apperr.IsNotFound(err) {
		t.Errorf("draft: %v, want NotFound", err)
	}
	if err := e.app.ExportOpenData(ctx, "0190b6c4-0000-7000-8000-00000000ffff", OpenDataCSV, io.Discard); !apperr.IsNotFound(err) {
		t.Errorf("unknown consultation: %v, want NotFound", err)
	}
}

// TestSafeCSVCell: a cell a spreadsheet would read as a formula gets a
// single quote in front; any other is unchanged.
func TestSafeCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"=1+1":          "'=1+1",
		"+1":            "'+1",
		"-1":            "'-1",
		"@SUM(A1)":      "'@SUM(A1)",
		"\tx":           "'\tx",
		"\rx":           "'\rx",
		"  =1":          "'  =1",
		"\"=1":          "'\"=1",
		"'@x":           "''@x",
		"\u3000+1":      "'\u3000+1",
		"1+1":           "1+1",
		"a=b":           "a=b",
		"  texto":       "  texto",
		"\"citado\"":    "\"citado\"",
		"option_a|opt2": "option_a|opt2",
	} {
		if got := safeCSVCell(in); got != want {
			t.Errorf("safeCSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}
