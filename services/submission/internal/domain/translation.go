package domain

import (
	"crypto/sha256"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// TranslationKind says who translated a text.
type TranslationKind string

// Translation kinds.
const (
	TranslationMachine TranslationKind = "machine"
	TranslationHuman   TranslationKind = "human"
)

// Translation is one text answer of one submission version in another
// language. It is personal data whenever the text is.
type Translation struct {
	QuestionID   string
	Language     string
	Text         string
	Kind         TranslationKind
	Provider     string
	Model        string
	TranslatedAt time.Time
}

// MemoryEntry is what the translation memory holds for one normalised text
// and language pair.
type MemoryEntry struct {
	Text     string
	Provider string
	Model    string
}

// NormaliseText is the form in which two texts count as the same for the
// translation memory: Unicode NFC, without leading and trailing white
// space, every run of white space inside one space.
func NormaliseText(s string) string {
	return strings.Join(strings.Fields(norm.NFC.String(s)), " ")
}

// TextHash is the translation memory's key of a text: the SHA-256 of its
// normalised form.
func TextHash(s string) []byte {
	h := sha256.Sum256([]byte(NormaliseText(s)))
	return h[:]
}
