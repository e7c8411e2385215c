-- +goose Up
-- Answers name their kind since scale, ranking and file questions exist:
-- {"question_id", "is_choice", "choice"} becomes {"question_id", "kind", "options"}
-- and a text answer gains "kind": "text".
UPDATE submission.submissions s
SET answers = (
    SELECT coalesce(jsonb_agg(
        CASE WHEN coalesce((a->>'is_choice')::boolean, false)
             THEN jsonb_build_object('question_id', a->'question_id', 'kind', 'choice',
                                     'options', coalesce(a->'choice', '[]'::jsonb))
             ELSE jsonb_build_object('question_id', a->'question_id', 'kind', 'text',
                                     'text', coalesce(a->'text', to_jsonb(''::text)))
        END ORDER BY t.ord), '[]'::jsonb)
    FROM jsonb_array_elements(s.answers) WITH ORDINALITY AS t(a, ord))
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(s.answers) a WHERE NOT a ? 'kind');

-- +goose Down
UPDATE submission.submissions s
SET answers = (
    SELECT coalesce(jsonb_agg(
        CASE WHEN a->>'kind' = 'choice'
             THEN jsonb_build_object('question_id', a->'question_id', 'is_choice', true,
                                     'choice', coalesce(a->'options', '[]'::jsonb))
             ELSE jsonb_build_object('question_id', a->'question_id', 'text', a->'text')
        END ORDER BY t.ord), '[]'::jsonb)
    FROM jsonb_array_elements(s.answers) WITH ORDINALITY AS t(a, ord));
