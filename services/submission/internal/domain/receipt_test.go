package domain

import (
	"bytes"
	"testing"
	"time"
)

// sampleVersion is a version with every field set.
func sampleVersion() VersionContent {
	return VersionContent{
		ConsultationID: "0190a5c4-0000-7000-8000-000000000001",
		SubmissionID:   "0190a5c4-0000-7000-8000-000000000002",
		Version:        2,
		Respondent: Respondent{
			StakeholderType: "civil_society", Country: "BR", Region: "LAC", OrganisationName: "Instituto de Dados",
			PersonName: "Ana Souza", ContactEmail: "ana@example.org", TransparencyRegisterID: "123456789-01",
		},
		Language: "pt",
		Answers: []Answer{
			{QuestionID: "vision", Kind: AnswerText, Text: "Interoperabilidade."},
			{QuestionID: "temas", Kind: AnswerChoice, Options: []string{"datos", "talento"}},
			{QuestionID: "acuerdo", Kind: AnswerScale, Scale: 4},
			{QuestionID: "orden", Kind: AnswerRanking, Options: []string{"b", "a"}},
			{QuestionID: "paper", Kind: AnswerFile, BlobID: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		},
		Publication: PublicAnonymous,
		CreatedAt:   time.Now().UTC(),
	}
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k, err := NewReceiptKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIdenticalContentGetsDifferentDigests: the same content committed
// twice gets two unrelated digests, so a digest cannot be reproduced from
// the content alone (the unsalted digest of the legacy format was the same
// both times). Each verifies under its own key only.
func TestIdenticalContentGetsDifferentDigests(t *testing.T) {
	v := sampleVersion()
	k1, k2 := newKey(t), newKey(t)
	c1, d1 := Commit(k1, v)
	c2, d2 := Commit(k2, v)
	if bytes.Equal(d1, d2) || bytes.Equal(c1.ContentSalt, c2.ContentSalt) || bytes.Equal(c1.PersonalDigest, c2.PersonalDigest) {
		t.Fatalf("the same content under two keys gave the same commitment: %x", d1)
	}
	if bytes.Equal(d1, LegacyContentDigest(v)) || bytes.Equal(d2, LegacyContentDigest(v)) {
		t.Fatal("a salted digest equals the unsalted one")
	}
	if err := VerifyContent(k1, v, d1); err != nil {
		t.Errorf("own key: %v", err)
	}
	if err := VerifyContent(k2, v, d1); err == nil {
		t.Error("the other submission's key verifies this digest")
	}
}

// TestVerifyContentCoversEveryField: the submitter's check fails when any
// single field of the content differs from what was committed, personal
// fields included, and holds across what storage changes (nanoseconds).
func TestVerifyContentCoversEveryField(t *testing.T) {
	v := sampleVersion()
	key := newKey(t)
	_, digest := Commit(key, v)
	same := v
	same.CreatedAt = v.CreatedAt.Truncate(time.Microsecond).In(time.FixedZone("BRT", -3*3600))
	if err := VerifyContent(key, same, digest); err != nil {
		t.Fatalf("the stored form of the same content: %v", err)
	}
	for name, change := range map[string]func(*VersionContent){
		"contact email":    func(v *VersionContent) { v.Respondent.ContactEmail = "ana@example.com" },
		"person name":      func(v *VersionContent) { v.Respondent.PersonName = "" },
		"organisation":     func(v *VersionContent) { v.Respondent.OrganisationName = "Instituto de Datos" },
		"register":         func(v *VersionContent) { v.Respondent.TransparencyRegisterID = "" },
		"stakeholder type": func(v *VersionContent) { v.Respondent.StakeholderType = "academia" },
		"country":          func(v *VersionContent) { v.Respondent.Country = "PT" },
		"region":           func(v *VersionContent) { v.Respondent.Region = "EU" },
		"language":         func(v *VersionContent) { v.Language = "es" },
		"publication":      func(v *VersionContent) { v.Publication = PublicNamed },
		"withdrawn":        func(v *VersionContent) { v.Withdrawn = true },
		"time":             func(v *VersionContent) { v.CreatedAt = v.CreatedAt.Add(time.Microsecond) },
		"version":          func(v *VersionContent) { v.Version = 3 },
		"submission":       func(v *VersionContent) { v.SubmissionID = "0190a5c4-0000-7000-8000-000000000003" },
		"consultation":     func(v *VersionContent) { v.ConsultationID = "0190a5c4-0000-7000-8000-000000000004" },
		"text":             func(v *VersionContent) { v.Answers[0].Text = "Interoperabilidade!" },
		"question":         func(v *VersionContent) { v.Answers[0].QuestionID = "mission" },
		"choice":           func(v *VersionContent) { v.Answers[1].Options = []string{"datos"} },
		"scale":            func(v *VersionContent) { v.Answers[2].Scale = 5 },
		"ranking order":    func(v *VersionContent) { v.Answers[3].Options = []string{"a", "b"} },
		"document":         func(v *VersionContent) { v.Answers[4].BlobID = v.Answers[4].BlobID[1:] + "0" },
		"answer dropped":   func(v *VersionContent) { v.Answers = v.Answers[:4] },
		"kind":             func(v *VersionContent) { v.Answers[2].Kind = AnswerText },
		"text between fields": func(v *VersionContent) {
			v.Respondent.OrganisationName += "1"
			v.Respondent.TransparencyRegisterID = "23456789-01"
		},
		"options regrouped": func(v *VersionContent) { v.Answers[1].Options = []string{"datostalento"} },
	} {
		w := sampleVersion()
		w.CreatedAt = v.CreatedAt
		change(&w)
		if err := VerifyContent(key, w, digest); err == nil {
			t.Errorf("%s changed, and the receipt still verifies", name)
		}
	}
	if err := VerifyContent(key[:16], v, digest); err == nil {
		t.Error("a short key verifies")
	}
}

// TestRecheckAfterErasure: the service rechecks a version from what it
// kept: the key before an erasure; the content salt and personal digest
// after it (an organisation), where the erased personal fields no longer
// matter but the rest does; nothing for an individual, whose stored digest
// stands.
func TestRecheckAfterErasure(t *testing.T) {
	v := sampleVersion()
	c, digest := Commit(newKey(t), v)
	if checked, err := c.Recheck(v, false, digest); !checked || err != nil {
		t.Fatalf("intact: %v, %v", checked, err)
	}
	erased := v
	erased.Respondent.PersonName, erased.Respondent.ContactEmail = "", ""
	org := c
	org.Key = nil
	if checked, err := org.Recheck(erased, true, digest); !checked || err != nil {
		t.Errorf("erased organisation: %v, %v", checked, err)
	}
	altered := erased
	altered.Answers = altered.Answers[1:]
	if _, err := org.Recheck(altered, true, digest); err == nil {
		t.Error("an erased organisation's answers changed, and the recheck passed")
	}
	indiv := org
	indiv.ContentSalt = nil
	if checked, err := indiv.Recheck(altered, true, digest); checked || err != nil {
		t.Errorf("erased individual: %v, %v; want the stored digest to stand", checked, err)
	}
	if _, err := indiv.Recheck(v, false, digest); err == nil {
		t.Error("a version that was not erased lost its key, and the recheck passed")
	}
	kept := c
	if _, err := kept.Recheck(erased, true, digest); err == nil {
		t.Error("an erased version still has its key, and the recheck passed")
	}
	legacy := Commitment{Format: FormatLegacy}
	if checked, err := legacy.Recheck(v, false, LegacyContentDigest(v)); !checked || err != nil {
		t.Errorf("legacy: %v, %v", checked, err)
	}
	if _, err := legacy.Recheck(altered, false, LegacyContentDigest(v)); err == nil {
		t.Error("legacy: altered content passed")
	}
}
