// Package langdetect tells which of a consultation's languages a text is
// written in, for submitters who do not declare their language.
//
// The answer is always one of the candidates the caller gives (the
// consultation's languages, as BCP 47 tags), or nothing: Detect says ok=false
// when the text is too short, when the candidates are too close to call, or
// when the text is plainly in a language that is not a candidate (a German
// answer to a consultation in Spanish, English and Dutch is not Dutch). The
// caller then asks the submitter or falls back to the consultation's first
// language.
//
// # Why whatlanggo and not lingua-go
//
// The detector underneath is github.com/abadojack/whatlanggo (MIT), a
// trigram-profile detector of 84 languages. github.com/pemistahl/lingua-go
// v1.4.0 is more accurate on very short texts, but it embeds the n-gram
// models of all its 75 languages whichever ones a program uses. Measured on
// this project's machines (Go 1.26, linux/amd64, 2026-11-22) with five
// candidates (es, pt, en, fr, nl) and lingua-go's models preloaded, against
// a program that detects nothing, on the 116 answers (10 to 151
// characters) in this package's tests:
//
//	                          binary     peak RSS  per answer  right  wrong  unsure
//	lingua-go, high accuracy  +132.5 MB  +189 MB   0.3 ms      116    0      -
//	lingua-go, low accuracy   +132.5 MB  +15 MB    0.3 ms      114    2      -
//	whatlanggo                +0.5 MB    +1.5 MB   0.09 ms     110    6      -
//	this package (whatlanggo) +0.5 MB    +1.5 MB   0.43 ms     98     0      18
//
// lingua-go's 132 MB would make the one consulta binary (71 MB on that
// day), and every image built from it, nearly three times as large, which
// language detection does not justify: the submitter can always declare the language. whatlanggo's
// mistakes all come with a low confidence (at most 0.39 on that corpus:
// answers of two or three words, and Spanish against Portuguese in under
// six words), so Detect refuses below MinConfidence, and those answers
// become unsure rather than wrong. Of the 97 answers of 40 characters or
// more, 92 are detected and 5 unsure (acronyms such as "UE-ALC" weigh on
// short sentences); none is wrong. Detect runs whatlanggo twice, among the
// candidates and among all languages (see ForeignConfidence), hence its
// 0.43 ms. Should the binary budget change, lingua-go in low accuracy mode,
// preloading only the candidates, is the replacement; the API of this
// package does not depend on the choice.
//
// whatlanggo lacks Irish, Maltese, Slovak, Luxembourgish, Catalan, Basque
// and Galician, among the languages that may reach a consultation; such
// candidates are ignored (see Detect).
package langdetect

import (
	"strings"
	"sync"
	"unicode"

	"github.com/abadojack/whatlanggo"
	"golang.org/x/text/language"
)

const (
	// MinWords is the fewest words in which Detect tries to tell one
	// language from another.
	MinWords = 3

	// MinConfidence is the confidence (whatlanggo's, from 0 to 1: how far
	// the best language is ahead of the second best, for the length of the
	// text) below which Detect says it cannot tell. On the corpus in the
	// tests, every wrong answer scored below 0.4.
	MinConfidence = 0.5

	// ForeignConfidence is the confidence above which a text detected, among
	// all languages, as one that is not a candidate is taken to be in that
	// language, so Detect says ok=false rather than name the nearest
	// candidate. It is whatlanggo's own threshold of a reliable answer; it
	// is high because related languages (Afrikaans for Dutch) come second
	// with some confidence on genuine answers.
	ForeignConfidence = whatlanggo.ReliableConfidenceThreshold

	// maxRunes bounds the text Detect reads: a position paper's first
	// paragraphs say as much about its language as the whole of it.
	maxRunes = 2000

	// maxCached bounds the number of candidate sets the Detector keeps, in
	// case candidates come from callers rather than from consultations.
	maxCached = 256
)

// Detector detects languages among candidate sets. It is safe for
// concurrent use. It keeps what it works out about each set of candidates
// (the languages, the tag to answer for each), so repeated calls with one
// consultation's languages cost only the detection.
type Detector struct {
	mu   sync.RWMutex
	sets map[string]*candidateSet
}

// New returns a Detector.
func New() *Detector {
	return &Detector{sets: make(map[string]*candidateSet)}
}

// candidateSet is what Detect needs about one list of candidates.
type candidateSet struct {
	// only is the first candidate when all valid candidates have one base
	// language: then there is nothing to choose.
	only string
	// tags maps each supported language to the first candidate tag with
	// that base language, as given.
	tags map[whatlanggo.Lang]string
	// restricted limits detection to the supported candidates.
	restricted whatlanggo.Options
}

// Detect returns the candidate that text is written in, as given (for
// example "pt-BR"), and ok=true; or "" and ok=false when it cannot tell:
// the text has fewer than MinWords words, the best candidate's confidence is
// below MinConfidence, or the text is, with ForeignConfidence, in a
// language that is not a candidate.
//
// Candidates are BCP 47 tags, matched by base language: "pt-BR" and "pt-PT"
// are both Portuguese, and when both are candidates the first one listed is
// the answer (no detector here can tell them apart). Tags that do not parse
// are ignored, and so are languages the detector does not know (they can
// never be the answer). With one valid candidate (or several with one base
// language) there is nothing to choose: Detect returns the first with
// ok=true whatever the text.
func (d *Detector) Detect(text string, candidates []string) (tag string, ok bool) {
	set := d.candidateSet(candidates)
	if set.only != "" {
		return set.only, true
	}
	if len(set.tags) == 0 {
		return "", false
	}
	text = head(text, maxRunes)
	if words(text) < MinWords {
		return "", false
	}

	var best whatlanggo.Info
	if len(set.tags) > 1 {
		best = whatlanggo.DetectWithOptions(text, set.restricted)
		if best.Confidence < MinConfidence {
			return "", false
		}
	}
	// Among all languages: a text plainly in a language that is not a
	// candidate is not in the nearest candidate.
	all := whatlanggo.Detect(text)
	if _, isCandidate := set.tags[all.Lang]; !isCandidate && all.Confidence >= ForeignConfidence {
		return "", false
	}
	if len(set.tags) == 1 {
		// Nothing to choose between among the supported candidates; the
		// unsupported ones are still possible, so the text must stand out
		// as this language among all.
		best = all
	}
	tag, isCandidate := set.tags[best.Lang]
	if !isCandidate || best.Confidence < MinConfidence {
		return "", false
	}
	return tag, true
}

// candidateSet returns the set for candidates, from the cache when it can.
func (d *Detector) candidateSet(candidates []string) *candidateSet {
	key := strings.Join(candidates, "\x00")
	d.mu.RLock()
	set, ok := d.sets[key]
	d.mu.RUnlock()
	if ok {
		return set
	}
	set = newCandidateSet(candidates)
	d.mu.Lock()
	if len(d.sets) < maxCached {
		d.sets[key] = set
	}
	d.mu.Unlock()
	return set
}

func newCandidateSet(candidates []string) *candidateSet {
	set := &candidateSet{
		tags:       make(map[whatlanggo.Lang]string),
		restricted: whatlanggo.Options{Whitelist: make(map[whatlanggo.Lang]bool)},
	}
	var first string
	bases := make(map[language.Base]bool)
	for _, c := range candidates {
		t, err := language.Parse(c)
		if err != nil || t == language.Und {
			continue
		}
		base, _ := t.Base()
		bases[base] = true
		if first == "" {
			first = c
		}
		l, ok := langOf(t)
		if !ok {
			continue
		}
		if _, seen := set.tags[l]; !seen {
			set.tags[l] = c
			set.restricted.Whitelist[l] = true
		}
	}
	if len(bases) == 1 {
		set.only = first
	}
	return set
}

// byCode maps ISO 639-1 and ISO 639-3 codes to whatlanggo's languages.
var byCode = func() map[string]whatlanggo.Lang {
	m := make(map[string]whatlanggo.Lang)
	for l := whatlanggo.Lang(0); l.Iso6393() != ""; l++ {
		m[l.Iso6393()] = l
		if c := l.Iso6391(); c != "" {
			m[c] = l
		}
	}
	// Macrolanguages whose individual language whatlanggo models.
	for macro, individual := range map[string]string{"no": "nob", "fa": "pes", "fas": "pes", "yi": "ydd", "yid": "ydd", "zho": "cmn", "ara": "arb", "aze": "azj"} {
		if l, ok := m[individual]; ok {
			m[macro] = l
		}
	}
	return m
}()

// langOf returns whatlanggo's language for t's base language.
func langOf(t language.Tag) (whatlanggo.Lang, bool) {
	base, conf := t.Base()
	if conf == language.No {
		return 0, false
	}
	if l, ok := byCode[base.String()]; ok {
		return l, true
	}
	l, ok := byCode[base.ISO3()]
	return l, ok
}

// words counts the runs of letters in text.
func words(text string) int {
	n := 0
	inWord := false
	for _, r := range text {
		letter := unicode.IsLetter(r)
		if letter && !inWord {
			n++
		}
		inWord = letter
	}
	return n
}

// head returns text cut after max runes, back to the last space when the
// cut falls inside a word.
func head(text string, max int) string {
	n := 0
	for i, r := range text {
		if n == max {
			if unicode.IsSpace(r) {
				return text[:i]
			}
			if j := strings.LastIndexFunc(text[:i], unicode.IsSpace); j > 0 {
				return text[:j]
			}
			return text[:i]
		}
		n++
	}
	return text
}
