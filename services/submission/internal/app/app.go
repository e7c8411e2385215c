// Package app is the submission service's use cases: accepting, editing,
// withdrawing and confirming submissions against the read model of their
// consultation, with a receipt for every version; reading them as each
// caller may; data-protection requests; and keeping the read models current
// from consultation and reference events.
package app

import (
	"context"
	"time"

	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// LanguageDetector finds the language of a text among candidates.
type LanguageDetector interface {
	Detect(text string, candidates []string) (tag string, ok bool)
}

// RateLimiter takes one token for key under the named limit, or returns an
// error that says which limit was hit.
type RateLimiter interface {
	Allow(ctx context.Context, limit Limit, key string) error
}

// Limit is a rate limit: Rate events per Per, with bursts of Burst.
type Limit struct {
	Name  string
	Rate  int
	Per   time.Duration
	Burst int
}

// Default limits on creating submissions.
var (
	LimitPerIP    = Limit{Name: "submissions per IP address", Rate: 30, Per: time.Hour, Burst: 10}
	LimitPerEmail = Limit{Name: "submissions per email address", Rate: 10, Per: time.Hour, Burst: 5}
	// LimitUploadsPerIP bounds anonymous uploads from one address: a
	// respondent attaches a paper or two, and re-uploads after a mistake.
	LimitUploadsPerIP = Limit{Name: "uploads per IP address", Rate: 20, Per: time.Hour, Burst: 5}
)

// Limits are the rate limits on creating submissions.
type Limits struct {
	PerIP    Limit
	PerEmail Limit
}

// Config is what the use cases need besides the store.
type Config struct {
	// Signer makes edit secrets and confirmation tokens (required).
	Signer *Signer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ConfirmationTTL is how long a pending submission waits for its
	// confirmation (default 72h).
	ConfirmationTTL time.Duration
	// PublicURL is the base of the links in mails, e.g. https://consulta.example.org.
	PublicURL string
	// Detector detects the language of a submission that does not declare
	// one; nil means the consultation's first language.
	Detector LanguageDetector
	// Limiter enforces Limits and LimitUploadsPerIP; nil means no limits.
	Limiter RateLimiter
	// Limits are the limits Limiter enforces; a zero Limit means its
	// default (LimitPerIP, LimitPerEmail).
	Limits Limits
	// Blobs stores uploaded documents; nil refuses uploads.
	Blobs BlobStore
	// MaxDocumentBytes caps an upload (default 25 MiB).
	MaxDocumentBytes int64
	// DocumentGrace is how long an uploaded document waits for a
	// submission to name it before the sweeper deletes it (default
	// DefaultDocumentGrace).
	DocumentGrace time.Duration
	// Source reads from the consultation service when the read models lag
	// behind it; nil means the read models answer alone.
	Source ConsultationSource
	// MemoryMetrics counts translation memory hits and misses; nil counts
	// nothing.
	MemoryMetrics *MemoryMetrics
}

// App runs the use cases.
type App struct {
	store *store.Store
	cfg   Config
}

// New returns the use cases on st.
func New(st *store.Store, cfg Config) *App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConfirmationTTL <= 0 {
		cfg.ConfirmationTTL = 72 * time.Hour
	}
	if cfg.Limits.PerIP.Rate <= 0 {
		cfg.Limits.PerIP = LimitPerIP
	}
	if cfg.Limits.PerEmail.Rate <= 0 {
		cfg.Limits.PerEmail = LimitPerEmail
	}
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = 25 << 20
	}
	if cfg.DocumentGrace <= 0 {
		cfg.DocumentGrace = DefaultDocumentGrace
	}
	return &App{store: st, cfg: cfg}
}

func (a *App) clock() time.Time { return a.cfg.Now().UTC() }
