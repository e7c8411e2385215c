package domain

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
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

// Receipt formats: how a version's content digest was made.
const (
	// FormatLegacy is the unsalted SHA-256 of the canonical JSON of the
	// content, issued before salted commitments existed. Anyone holding a
	// guess of the content can confirm it; it is only recomputed to verify
	// those old receipts.
	FormatLegacy = 1
	// FormatSalted is the salted, keyed commitment of docs/receipts.md.
	FormatSalted = 2
)

// ReceiptKeySize is the size of a receipt key: 256 random bits.
const ReceiptKeySize = 32

// Labels that separate the uses of SHA-256 and HMAC in the salted format,
// so that no value computed for one purpose can stand for another.
const (
	labelContentSalt  = "consulta-receipt-v2 content salt"
	labelPersonalSalt = "consulta-receipt-v2 personal salt"
	labelPersonal     = "consulta-receipt-v2 personal"
	labelContent      = "consulta-receipt-v2 content"
)

// Commitment is what the service keeps beside a version to recheck its
// content digest. Key is the secret handed to the submitter; an erasure
// deletes it, and deletes ContentSalt too when the content itself was the
// erased person's (an individual's texts). PersonalDigest is a salted
// commitment to the personal fields, useless without the key.
type Commitment struct {
	Format         int
	Key            []byte
	ContentSalt    []byte
	PersonalDigest []byte
}

// NewReceiptKey draws a fresh receipt key from crypto/rand.
func NewReceiptKey() ([]byte, error) {
	k := make([]byte, ReceiptKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("receipt key: %w", err)
	}
	return k, nil
}

// ParseReceiptKey reads a receipt key in its hex form.
func ParseReceiptKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != ReceiptKeySize {
		return nil, fmt.Errorf("receipt key: want %d hex digits", 2*ReceiptKeySize)
	}
	return k, nil
}

// Commit makes the commitment of v under key and the content digest its
// receipt shows. Two commitments of the same content under different keys
// have unrelated digests.
func Commit(key []byte, v VersionContent) (Commitment, []byte) {
	c := Commitment{
		Format:         FormatSalted,
		Key:            key,
		ContentSalt:    derive(key, labelContentSalt),
		PersonalDigest: PersonalDigest(derive(key, labelPersonalSalt), v.Respondent),
	}
	return c, SaltedContentDigest(c.ContentSalt, c.PersonalDigest, v)
}

// derive is HMAC-SHA256(key, label): a salt for one use of the key.
// Knowing one derived salt tells nothing of the key or of another salt.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// PersonalDigest commits to the personal fields of r (the person's name
// and contact address) under personalSalt.
func PersonalDigest(personalSalt []byte, r Respondent) []byte {
	e := newEncoder(labelPersonal)
	e.bytes(personalSalt)
	e.string(r.PersonName)
	e.string(r.ContactEmail)
	return e.sum()
}

// SaltedContentDigest commits to everything of v but its personal fields,
// which enter through personalDigest, under contentSalt. Every field is
// length-prefixed and every list counted, in a fixed order, so no two
// different contents share an encoding.
func SaltedContentDigest(contentSalt, personalDigest []byte, v VersionContent) []byte {
	e := newEncoder(labelContent)
	e.bytes(contentSalt)
	e.bytes(personalDigest)
	e.string(v.ConsultationID)
	e.string(v.SubmissionID)
	e.uint(uint64(v.Version))
	r := v.Respondent
	e.string(r.StakeholderType)
	e.string(r.Country)
	e.string(r.Region)
	e.string(r.OrganisationName)
	e.string(r.TransparencyRegisterID)
	e.string(v.Language)
	e.string(string(v.Publication))
	e.bool(v.Withdrawn)
	e.string(canonicalTime(v.CreatedAt))
	e.uint(uint64(len(v.Answers)))
	for _, a := range v.Answers {
		e.string(a.QuestionID)
		e.string(string(a.Kind))
		e.string(a.Text)
		e.uint(uint64(len(a.Options)))
		for _, o := range a.Options {
			e.string(o)
		}
		e.uint(uint64(int64(a.Scale)))
		// A document is named by the SHA-256 of its bytes, so this
		// commits to the document itself.
		e.string(a.BlobID)
	}
	return e.sum()
}

// VerifyContent is the submitter's check: with the key their receipt came
// with and the content they sent, digest (the receipt's content digest)
// must be exactly the commitment of that content. It needs nothing from
// the service.
func VerifyContent(key []byte, v VersionContent, digest []byte) error {
	if len(key) != ReceiptKeySize {
		return fmt.Errorf("a receipt key has %d bytes, not %d", ReceiptKeySize, len(key))
	}
	if _, d := Commit(key, v); !hmac.Equal(d, digest) {
		return errors.New("the receipt's content digest does not commit to this content under this key")
	}
	return nil
}

// Recheck recomputes a stored version's content digest from what the
// service kept and compares it with digest. checked is false when nothing
// is left to recompute it from (an erased individual's version, or an
// erased version of the legacy format): its stored digest then stands.
func (c Commitment) Recheck(v VersionContent, erased bool, digest []byte) (checked bool, err error) {
	var got []byte
	switch {
	case c.Format == FormatLegacy && erased:
		return false, nil
	case c.Format == FormatLegacy:
		got = LegacyContentDigest(v)
	case c.Format != FormatSalted:
		return false, fmt.Errorf("unknown receipt format %d", c.Format)
	case len(c.Key) > 0 && !erased:
		var again Commitment
		again, got = Commit(c.Key, v)
		// What stays after an erasure must be what the key gives, or the
		// erasure would leave a digest nobody can recompute.
		if !bytes.Equal(again.ContentSalt, c.ContentSalt) || !bytes.Equal(again.PersonalDigest, c.PersonalDigest) {
			return true, errors.New("its stored salt or personal digest is not the one its key gives")
		}
	case len(c.Key) > 0:
		// An erasure deletes the key with the personal data.
		return false, errors.New("the receipt key of an erased version is still stored")
	case erased && len(c.ContentSalt) > 0 && len(c.PersonalDigest) > 0:
		got = SaltedContentDigest(c.ContentSalt, c.PersonalDigest, v)
	case erased:
		return false, nil
	default:
		return false, errors.New("the receipt key is missing")
	}
	if !bytes.Equal(got, digest) {
		return true, errors.New("altered after its receipt")
	}
	return true, nil
}

// canonicalTime is the time of a version as Postgres keeps it
// (microseconds, UTC), so that a digest recomputed from the stored version
// matches.
func canonicalTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// encoder feeds SHA-256 with length-prefixed fields after a label.
type encoder struct{ h hash.Hash }

func newEncoder(label string) *encoder {
	e := &encoder{h: sha256.New()}
	e.string(label)
	return e
}

func (e *encoder) uint(n uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	e.h.Write(b[:])
}

func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.h.Write(b)
}

func (e *encoder) string(s string) { e.bytes([]byte(s)) }

func (e *encoder) bool(b bool) {
	if b {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

func (e *encoder) sum() []byte { return e.h.Sum(nil) }

// legacyContent is what a legacy receipt's content digest covers, as JSON
// in a fixed order.
type legacyContent struct {
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

// LegacyContentDigest is the content digest of FormatLegacy: the unsalted
// SHA-256 of the canonical JSON of v. Only the verification of receipts
// issued before the salted format uses it.
func LegacyContentDigest(v VersionContent) []byte {
	answers := v.Answers
	if answers == nil {
		answers = []Answer{}
	}
	b, err := json.Marshal(legacyContent{
		Format: "consulta-receipt-v1", ConsultationID: v.ConsultationID, SubmissionID: v.SubmissionID,
		Version: v.Version, Respondent: v.Respondent, Language: v.Language, Answers: answers,
		Publication: string(v.Publication), Withdrawn: v.Withdrawn, CreatedAt: canonicalTime(v.CreatedAt),
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
