package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/auth"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
	"github.com/consulta-platform/consulta/services/submission/internal/store"
)

// SkipReason says why a translation job has nothing to do.
type SkipReason string

// Reasons to skip a translation.
const (
	SkipErased     SkipReason = "erased"
	SkipInactive   SkipReason = "inactive"
	SkipSuperseded SkipReason = "superseded"
)

// TranslationWork is what the translation job of one submission version
// has to do.
type TranslationWork struct {
	// Skip is set when there is nothing to do.
	Skip           SkipReason
	SourceLanguage string
	// Targets are the consultation's languages but the source language.
	Targets []string
	Texts   []TextWork
}

// TextWork is one text answer to translate.
type TextWork struct {
	QuestionID string
	Text       string
	// Done are the targets already recorded for this version.
	Done []string
	// Memory holds the memory's translations of the text, by target.
	Memory map[string]domain.MemoryEntry
}

// MemoryMetrics counts translation memory lookups by language pair.
type MemoryMetrics struct {
	Hits, Misses *prometheus.CounterVec
}

// NewMemoryMetrics makes the counters and registers them with reg (when
// not nil).
func NewMemoryMetrics(reg prometheus.Registerer) (*MemoryMetrics, error) {
	m := &MemoryMetrics{
		Hits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consulta_translation_memory_hits_total",
			Help: "Texts to translate that the translation memory already held, by language pair."},
			[]string{"source_language", "target_language"}),
		Misses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consulta_translation_memory_misses_total",
			Help: "Texts to translate that the translation memory did not hold, by language pair."},
			[]string{"source_language", "target_language"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.Hits, &m.Misses} {
		if err := reg.Register(*c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("translation memory metrics: %w", err)
			}
			*c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return m, nil
}

// requireService refuses every caller but another process of the platform.
// The policy already does; this keeps the texts closed should a policy
// ever list the method wrongly.
func requireService(p auth.Principal) error {
	if p.Role != auth.RoleService {
		return apperr.Denied("only the platform's own processes may read texts for translation")
	}
	return nil
}

// sameLanguage reports whether two BCP 47 tags name the same base language
// ("pt" and "pt-BR" do): a text is not translated into its own language.
func sameLanguage(a, b string) bool {
	base := func(s string) string { s, _, _ = strings.Cut(s, "-"); return strings.ToLower(s) }
	return base(a) == base(b)
}

// TextsForTranslation returns the text answers of version of submission
// id, the languages to translate them into, what is already recorded and
// what the translation memory holds. A version that was erased, withdrawn,
// expired or replaced by a newer one has nothing to do.
func (a *App) TextsForTranslation(ctx context.Context, p auth.Principal, id string, version int64) (TranslationWork, error) {
	if err := requireService(p); err != nil {
		return TranslationWork{}, err
	}
	vt, err := a.store.VersionTexts(ctx, id, version)
	if err != nil {
		return TranslationWork{}, err
	}
	cur := vt.Current
	switch {
	case !cur.ErasedAt.IsZero() || vt.Erased:
		return TranslationWork{Skip: SkipErased}, nil
	case cur.Status == domain.StatusWithdrawn || cur.Status == domain.StatusExpired:
		return TranslationWork{Skip: SkipInactive}, nil
	case cur.Version > version:
		return TranslationWork{Skip: SkipSuperseded}, nil
	}
	c, err := a.store.Consultation(ctx, cur.ConsultationID)
	if err != nil {
		return TranslationWork{}, err
	}
	w := TranslationWork{SourceLanguage: vt.Language}
	for _, l := range c.Languages {
		if !sameLanguage(l, vt.Language) {
			w.Targets = append(w.Targets, l)
		}
	}
	var keys []store.MemoryKey
	for _, ans := range vt.Answers {
		if ans.Kind != domain.AnswerText || strings.TrimSpace(ans.Text) == "" {
			continue
		}
		tw := TextWork{QuestionID: ans.QuestionID, Text: ans.Text, Memory: map[string]domain.MemoryEntry{}}
		hash := domain.TextHash(ans.Text)
		for _, l := range w.Targets {
			if vt.Done[ans.QuestionID][l] {
				tw.Done = append(tw.Done, l)
				continue
			}
			keys = append(keys, store.MemoryKey{Hash: hash, From: vt.Language, To: l})
		}
		w.Texts = append(w.Texts, tw)
	}
	mem, err := a.store.Memory(ctx, keys)
	if err != nil {
		return TranslationWork{}, err
	}
	for i := range w.Texts {
		tw := &w.Texts[i]
		hash := domain.TextHash(tw.Text)
		for _, l := range w.Targets {
			if slices.Contains(tw.Done, l) {
				continue
			}
			e, hit := mem[store.MemoryKey{Hash: hash, From: vt.Language, To: l}.String()]
			if hit {
				tw.Memory[l] = e
			}
			a.countMemory(vt.Language, l, hit)
		}
	}
	return w, nil
}

func (a *App) countMemory(from, to string, hit bool) {
	m := a.cfg.MemoryMetrics
	if m == nil {
		return
	}
	if hit {
		m.Hits.WithLabelValues(from, to).Inc()
	} else {
		m.Misses.WithLabelValues(from, to).Inc()
	}
}

// RecordTranslations stores machine translations of version of submission
// id, once each (a repeated call writes nothing new), and fills the
// translation memory with those not taken from it. Every translation must
// be of a text answer of that version into another language of the
// consultation; else nothing is written. An erased submission is refused.
func (a *App) RecordTranslations(ctx context.Context, p auth.Principal, id string, version int64, ts []store.NewTranslation) (int, error) {
	if err := requireService(p); err != nil {
		return 0, err
	}
	sub, err := a.store.Submission(ctx, id)
	if err != nil {
		return 0, err
	}
	c, err := a.store.Consultation(ctx, sub.ConsultationID)
	if err != nil {
		return 0, err
	}
	now := a.clock()
	for i := range ts {
		ts[i].Kind = domain.TranslationMachine
		ts[i].TranslatedAt = now
	}
	return a.store.RecordTranslations(ctx, id, version, ts, func(language string, answers []domain.Answer) error {
		texts := map[string]bool{}
		for _, ans := range answers {
			if ans.Kind == domain.AnswerText && strings.TrimSpace(ans.Text) != "" {
				texts[ans.QuestionID] = true
			}
		}
		var errs apperr.List
		for i, t := range ts {
			if !texts[t.QuestionID] {
				errs.Add(fmt.Sprintf("translations[%d].question_id", i), "%q is no text answer of version %d", t.QuestionID, version)
			}
			if !slices.Contains(c.Languages, t.Language) || sameLanguage(t.Language, language) {
				errs.Add(fmt.Sprintf("translations[%d].language", i), "%q is not a language of the consultation other than the submission's %q",
					t.Language, language)
			}
		}
		return errs.Err()
	})
}
