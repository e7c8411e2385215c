package platform_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/consulta-platform/consulta/pkg/auth"
)

// TestCoLeadWorkflowOverREST walks a consultation through its whole life
// over the REST/JSON API: draft, review a translation, schedule, open and
// close on time, reopen with a new deadline, close, archive.
func TestCoLeadWorkflowOverREST(t *testing.T) {
	t.Parallel()
	h := startPlatform(t)
	h.assignCoLeads("ai_hpc", "AR", "FR")
	colead := h.token(auth.RoleColead, "AR", "colead-ar")
	at := func(d time.Duration) string {
		return time.Now().Add(d).UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	es := func(s string) map[string]any {
		return map[string]any{"sourceLanguage": "es", "texts": map[string]string{"es": s}}
	}

	var d dialogueJSON
	if code, body := h.rest("POST", "/v1/dialogues", colead, map[string]any{
		"thematicArea": "ai_hpc", "title": "IA", "startsAt": at(30 * 24 * time.Hour)}, &d); code != http.StatusOK {
		t.Fatalf("dialogue: %d %s", code, body)
	}
	opensAt, closesAt := time.Now().Add(2*time.Second).UTC().Truncate(time.Second), time.Time{}
	closesAt = opensAt.Add(2 * time.Second)
	var c consultationJSON
	if code, body := h.rest("POST", "/v1/consultations", colead, map[string]any{
		"dialogueId": d.Dialogue.ID, "title": es("Computación de alto rendimiento"), "languages": []string{"es", "fr"},
		"questions": []map[string]any{{"id": "q1", "text": es("¿Prioridades?"), "scaleQuestion": map[string]any{}}},
		"opensAt":   opensAt.Format(time.RFC3339), "closesAt": closesAt.Format(time.RFC3339),
	}, &c); code != http.StatusOK {
		t.Fatalf("draft: %d %s", code, body)
	}
	id := c.Consultation.ID
	step := func(path string, body map[string]any, wantStatus string) {
		t.Helper()
		var got consultationJSON
		code, raw := h.rest("POST", "/v1/consultations/"+id+path, colead, body, &got)
		if code != http.StatusOK || (wantStatus != "" && got.Consultation.Status != wantStatus) {
			t.Fatalf("%s: %d %s", path, code, raw)
		}
	}
	step(":reviewTranslation", map[string]any{"textPath": "title", "language": "fr", "text": "Calcul haute performance"}, "CONSULTATION_STATUS_DRAFT")
	step(":schedule", map[string]any{}, "CONSULTATION_STATUS_SCHEDULED")
	waitStatus := func(want string, notBefore time.Time) {
		t.Helper()
		eventually(t, 6*time.Second, want, func() error {
			var got consultationJSON
			h.rest("GET", "/v1/consultations/"+id, colead, nil, &got)
			if got.Consultation.Status != want {
				return fmt.Errorf("status %s", got.Consultation.Status)
			}
			if time.Now().Before(notBefore) {
				t.Fatalf("%s before %s", want, notBefore)
			}
			return nil
		})
	}
	waitStatus("CONSULTATION_STATUS_OPEN", opensAt)
	waitStatus("CONSULTATION_STATUS_CLOSED", closesAt)
	step(":extend", map[string]any{"closesAt": at(5 * 24 * time.Hour)}, "CONSULTATION_STATUS_OPEN")
	step(":close", map[string]any{}, "CONSULTATION_STATUS_CLOSED")
	step(":archive", map[string]any{}, "CONSULTATION_STATUS_ARCHIVED")

	var dl struct {
		Dialogues []struct {
			ID              string   `json:"id"`
			ConsultationIDs []string `json:"consultationIds"`
		} `json:"dialogues"`
	}
	if code, body := h.rest("GET", "/v1/dialogues?thematicArea=ai_hpc", "", nil, &dl); code != http.StatusOK ||
		len(dl.Dialogues) != 1 || len(dl.Dialogues[0].ConsultationIDs) != 1 || dl.Dialogues[0].ConsultationIDs[0] != id {
		t.Errorf("dialogue listing: %d %s", code, body)
	}
}
