package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/consulta-platform/consulta/pkg/apperr"
	"github.com/consulta-platform/consulta/pkg/postgres"
	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// VersionTexts is what the translation of one submission version starts
// from: the submission as it is now, and the language, text answers and
// existing translations of the version asked for.
type VersionTexts struct {
	// Current is the submission at its latest version.
	Current domain.Submission
	// Language is the language of the version asked for.
	Language string
	// Answers are the version's answers.
	Answers []domain.Answer
	// Erased is set when the version's texts were erased.
	Erased bool
	// Done holds, per question id, the languages already translated.
	Done map[string]map[string]bool
}

// VersionTexts reads version of submission id for its translation.
func (s *Store) VersionTexts(ctx context.Context, id string, version int64) (VersionTexts, error) {
	var out VersionTexts
	var err error
	if out.Current, err = s.Submission(ctx, id); err != nil {
		return out, err
	}
	var answers []byte
	var erased *time.Time
	err = s.pool.QueryRow(ctx, `SELECT language, answers, erased_at FROM submission.submission_versions
		WHERE submission_id = $1 AND version = $2`, id, version).Scan(&out.Language, &answers, &erased)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, apperr.NotFound("version", "submission %s has no version %d", id, version)
	}
	if err != nil {
		return out, fmt.Errorf("texts of %s v%d: %w", id, version, err)
	}
	out.Erased = erased != nil
	if err := json.Unmarshal(answers, &out.Answers); err != nil {
		return out, fmt.Errorf("decode answers of %s v%d: %w", id, version, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT question_id, language FROM submission.translations
		WHERE submission_id = $1 AND version = $2`, id, version)
	if err != nil {
		return out, fmt.Errorf("translations of %s v%d: %w", id, version, err)
	}
	out.Done = map[string]map[string]bool{}
	var q, lang string
	_, err = pgx.ForEachRow(rows, []any{&q, &lang}, func() error {
		if out.Done[q] == nil {
			out.Done[q] = map[string]bool{}
		}
		out.Done[q][lang] = true
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("translations of %s v%d: %w", id, version, err)
	}
	return out, nil
}

// MemoryKey names a translation memory entry.
type MemoryKey struct {
	Hash     []byte
	From, To string
}

// Memory returns the entries of the translation memory for keys, by
// string(hash)+"\x00"+from+"\x00"+to (see MemoryKey.String).
func (s *Store) Memory(ctx context.Context, keys []MemoryKey) (map[string]domain.MemoryEntry, error) {
	out := map[string]domain.MemoryEntry{}
	if len(keys) == 0 {
		return out, nil
	}
	hashes := make([][]byte, len(keys))
	froms := make([]string, len(keys))
	tos := make([]string, len(keys))
	for i, k := range keys {
		hashes[i], froms[i], tos[i] = k.Hash, k.From, k.To
	}
	rows, err := s.pool.Query(ctx, `SELECT m.source_hash, m.source_language, m.target_language, m.text, m.provider, m.model
		FROM submission.translation_memory m
		JOIN unnest($1::bytea[], $2::text[], $3::text[]) AS k(h, f, t)
		  ON m.source_hash = k.h AND m.source_language = k.f AND m.target_language = k.t`, hashes, froms, tos)
	if err != nil {
		return nil, fmt.Errorf("translation memory: %w", err)
	}
	var k MemoryKey
	var e domain.MemoryEntry
	_, err = pgx.ForEachRow(rows, []any{&k.Hash, &k.From, &k.To, &e.Text, &e.Provider, &e.Model}, func() error {
		out[k.String()] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("translation memory: %w", err)
	}
	return out, nil
}

// String is the key's index in the map Memory returns.
func (k MemoryKey) String() string { return string(k.Hash) + "\x00" + k.From + "\x00" + k.To }

// NewTranslation is a translation to record.
type NewTranslation struct {
	domain.Translation
	// FromMemory is set when the text came from the memory, which then
	// is not written.
	FromMemory bool
}

// CheckFunc validates the translations against the version they translate
// (its language and answers) before anything is written; it does no I/O.
type CheckFunc func(language string, answers []domain.Answer) error

// RecordTranslations stores translations of version of submission id, each
// once: a translation already stored for its question and language is left
// as it is. Machine translations not taken from the memory fill it. It
// refuses (FailedPrecondition) for an erased submission or version, and
// returns how many rows were new.
func (s *Store) RecordTranslations(ctx context.Context, id string, version int64, ts []NewTranslation, check CheckFunc) (int, error) {
	recorded := 0
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		recorded = 0
		// FOR SHARE waits for an erasure in progress (FOR UPDATE) and holds
		// the next one off until this commits, so no translation outlives
		// an erasure.
		var subErased *time.Time
		err := tx.QueryRow(ctx, `SELECT erased_at FROM submission.submissions WHERE id = $1 FOR SHARE`, id).Scan(&subErased)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("submission_id", "submission %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("record translations of %s: %w", id, err)
		}
		var language string
		var answers []byte
		var erased *time.Time
		err = tx.QueryRow(ctx, `SELECT language, answers, erased_at FROM submission.submission_versions
			WHERE submission_id = $1 AND version = $2`, id, version).Scan(&language, &answers, &erased)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("version", "submission %s has no version %d", id, version)
		}
		if err != nil {
			return fmt.Errorf("record translations of %s v%d: %w", id, version, err)
		}
		if subErased != nil || erased != nil {
			return apperr.FailedPrecondition("submission_id", "submission %s was erased: its texts are not translated", id)
		}
		var as []domain.Answer
		if err := json.Unmarshal(answers, &as); err != nil {
			return fmt.Errorf("decode answers of %s v%d: %w", id, version, err)
		}
		if err := check(language, as); err != nil {
			return err
		}
		source := map[string]string{}
		for _, a := range as {
			if a.Kind == domain.AnswerText {
				source[a.QuestionID] = a.Text
			}
		}
		for _, t := range ts {
			hash := domain.TextHash(source[t.QuestionID])
			tag, err := tx.Exec(ctx, `INSERT INTO submission.translations
				(submission_id, version, question_id, language, text, kind, provider, model, source_hash, translated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (submission_id, version, question_id, language) DO NOTHING`,
				id, version, t.QuestionID, t.Language, t.Text, string(t.Kind), t.Provider, t.Model, hash, t.TranslatedAt)
			if err != nil {
				return fmt.Errorf("record translation of %s v%d %s into %s: %w", id, version, t.QuestionID, t.Language, err)
			}
			recorded += int(tag.RowsAffected())
			if t.FromMemory || t.Kind != domain.TranslationMachine {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO submission.translation_memory
				(source_hash, source_language, target_language, text, provider, model, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
				hash, language, t.Language, t.Text, t.Provider, t.Model, t.TranslatedAt); err != nil {
				return fmt.Errorf("translation memory: %w", err)
			}
		}
		return nil
	})
	return recorded, err
}

// translationsOf returns the translations of the current versions of the
// submissions ids, by submission id, in question and language order.
func (s *Store) translationsOf(ctx context.Context, ids []string) (map[string][]domain.Translation, error) {
	out := map[string][]domain.Translation{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT t.submission_id::text, t.question_id, t.language, t.text, t.kind, t.provider,
			t.model, t.translated_at
		FROM submission.translations t
		JOIN submission.submissions s ON s.id = t.submission_id AND s.version = t.version
		WHERE s.id = ANY($1::uuid[])
		ORDER BY t.submission_id, t.question_id, t.language`, ids)
	if err != nil {
		return nil, fmt.Errorf("translations: %w", err)
	}
	var id, kind string
	var t domain.Translation
	_, err = pgx.ForEachRow(rows, []any{&id, &t.QuestionID, &t.Language, &t.Text, &kind, &t.Provider, &t.Model, &t.TranslatedAt},
		func() error {
			t.Kind = domain.TranslationKind(kind)
			out[id] = append(out[id], t)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("translations: %w", err)
	}
	return out, nil
}
