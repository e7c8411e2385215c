package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Receipt proves that a version of a submission was accepted, and where it
// stands in its consultation's chain.
type Receipt struct {
	ID             string
	ConsultationID string
	SubmissionID   string
	Version        int64
	Sequence       int64
	ContentDigest  []byte
	PreviousDigest []byte
	ChainDigest    []byte
	IssuedAt       time.Time
}

// GenesisDigest is the previous digest of a consultation's first receipt.
var GenesisDigest = make([]byte, sha256.Size)

// canonicalContent is what a receipt's content digest covers: everything the
// respondent submitted in that version, in a fixed order. Maps are not used,
// so the JSON encoding is deterministic.
type canonicalContent struct {
	Format         string     `json:"format"`
	ConsultationID string     `json:"consultation_id"`
	SubmissionID   string     `json:"submission_id"`
	Version        int64      `json:"version"`
	Respondent     Respondent `json:"respondent"`
	Language       string     `json:"language"`
	Answers        []Answer   `json:"answers"`
	Publication    string     `json:"publication"`
	Withdrawn      bool       `json:"withdrawn"`
	CreatedAt      string     `json:"created_at"`
}

// VersionContent is one version of a submission as it was accepted.
type VersionContent struct {
	ConsultationID string
	SubmissionID   string
	Version        int64
	Respondent     Respondent
	Language       string
	Answers        []Answer
	Publication    Publication
	Withdrawn      bool
	CreatedAt      time.Time
}

// ContentDigest is the SHA-256 of the canonical content of v.
func ContentDigest(v VersionContent) []byte {
	answers := v.Answers
	if answers == nil {
		answers = []Answer{}
	}
	b, err := json.Marshal(canonicalContent{
		Format: "consulta-receipt-v1", ConsultationID: v.ConsultationID, SubmissionID: v.SubmissionID,
		Version: v.Version, Respondent: v.Respondent, Language: v.Language, Answers: answers,
		Publication: string(v.Publication), Withdrawn: v.Withdrawn,
		// Microseconds: what Postgres keeps, so that a digest recomputed from
		// the stored version matches.
		CreatedAt: v.CreatedAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano),
	})
	if err != nil {
		// Only plain strings, numbers and slices: cannot fail.
		panic(fmt.Sprintf("receipt: canonical content: %v", err))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// ChainDigest links a receipt to the one before it: SHA-256 over the
// consultation, the position, the previous chain digest and the content
// digest.
func ChainDigest(consultationID string, seq int64, previous, content []byte) []byte {
	h := sha256.New()
	h.Write([]byte("consulta-chain-v1\x00"))
	h.Write([]byte(consultationID))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	h.Write(previous)
	h.Write(content)
	return h.Sum(nil)
}

// Link checks that r follows prev in its chain (prev nil: r is the first)
// and that its chain digest is what its fields give.
func (r Receipt) Link(prev *Receipt) error {
	wantSeq, wantPrev := int64(1), GenesisDigest
	if prev != nil {
		wantSeq, wantPrev = prev.Sequence+1, prev.ChainDigest
	}
	switch {
	case r.Sequence != wantSeq:
		return fmt.Errorf("receipt %d follows receipt %d: %d receipt(s) missing", r.Sequence, wantSeq-1, r.Sequence-wantSeq)
	case !bytes.Equal(r.PreviousDigest, wantPrev):
		return fmt.Errorf("receipt %d does not name the digest of receipt %d", r.Sequence, wantSeq-1)
	case !bytes.Equal(r.ChainDigest, ChainDigest(r.ConsultationID, r.Sequence, r.PreviousDigest, r.ContentDigest)):
		return fmt.Errorf("receipt %d: chain digest does not match its fields", r.Sequence)
	}
	return nil
}

// Hex is the lower-case hex form of a digest.
func Hex(d []byte) string { return hex.EncodeToString(d) }
