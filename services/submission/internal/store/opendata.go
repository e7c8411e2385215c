package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/consulta-platform/consulta/services/submission/internal/domain"
)

// OpenDataRow is a public submission as open data publishes it: never the
// contact address or a person's name; the organisation and its register
// number only when the respondent chose to be published by name.
type OpenDataRow struct {
	ID                     string
	CreatedAt              time.Time
	StakeholderType        string
	Country                string
	Region                 string
	Language               string
	OrganisationName       string
	TransparencyRegisterID string
	Answers                []domain.Answer
	// Translations are those of the current version's text answers.
	Translations []domain.Translation
}

// WalkOpenData calls fn for every active, non-confidential submission of a
// consultation, oldest first, as the rows arrive from the database: the
// result set is never held in memory, so an export of any size runs in
// constant memory. fn gets the same row each time, refilled; it must not
// keep it. The query holds one connection until the walk ends.
func (s *Store) WalkOpenData(ctx context.Context, consultationID string, fn func(*OpenDataRow) error) error {
	// Names are dropped here, in the query, so that they never reach the
	// exporting process for an anonymous submission.
	rows, err := s.pool.Query(ctx, `SELECT id::text, created_at, stakeholder_type, country, region, language,
			CASE WHEN publication = 'public_named' THEN organisation_name ELSE '' END,
			CASE WHEN publication = 'public_named' THEN transparency_register_id ELSE '' END,
			answers,
			(SELECT coalesce(jsonb_agg(jsonb_build_object('question_id', t.question_id, 'language', t.language,
					'text', t.text, 'kind', t.kind, 'provider', t.provider, 'model', t.model,
					'translated_at', t.translated_at) ORDER BY t.question_id, t.language), '[]'::jsonb)
				FROM submission.translations t WHERE t.submission_id = s.id AND t.version = s.version)
		FROM submission.submissions s
		WHERE consultation_id = $1 AND status = 'active' AND publication IN ('public_named', 'public_anonymous')
		ORDER BY created_at, id`, consultationID)
	if err != nil {
		return fmt.Errorf("open data of %s: %w", consultationID, err)
	}
	defer rows.Close()
	var row OpenDataRow
	var answers, translations []byte
	for rows.Next() {
		if err := rows.Scan(&row.ID, &row.CreatedAt, &row.StakeholderType, &row.Country, &row.Region, &row.Language,
			&row.OrganisationName, &row.TransparencyRegisterID, &answers, &translations); err != nil {
			return fmt.Errorf("open data of %s: %w", consultationID, err)
		}
		// A fresh slice: decoding into a used one would keep fields that
		// the new answers omit.
		row.Answers = nil
		if err := json.Unmarshal(answers, &row.Answers); err != nil {
			return fmt.Errorf("open data of %s: answers of %s: %w", consultationID, row.ID, err)
		}
		row.Translations = row.Translations[:0]
		var ts []translationJSON
		if err := json.Unmarshal(translations, &ts); err != nil {
			return fmt.Errorf("open data of %s: translations of %s: %w", consultationID, row.ID, err)
		}
		for _, t := range ts {
			row.Translations = append(row.Translations, domain.Translation{QuestionID: t.QuestionID, Language: t.Language,
				Text: t.Text, Kind: domain.TranslationKind(t.Kind), Provider: t.Provider, Model: t.Model, TranslatedAt: t.TranslatedAt})
		}
		if err := fn(&row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("open data of %s: %w", consultationID, err)
	}
	return nil
}

// translationJSON is a translation as the open-data query aggregates it.
type translationJSON struct {
	QuestionID   string    `json:"question_id"`
	Language     string    `json:"language"`
	Text         string    `json:"text"`
	Kind         string    `json:"kind"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model"`
	TranslatedAt time.Time `json:"translated_at"`
}
