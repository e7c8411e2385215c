-- +goose Up
-- The sweeper of unreferenced documents: candidates by age, and whether any
-- submission version names a document (answers @> [{"kind":"file","blob_id":...}]).
CREATE INDEX documents_created_at_idx ON submission.documents (created_at);
CREATE INDEX submission_versions_answers_idx ON submission.submission_versions USING gin (answers jsonb_path_ops);

-- +goose Down
DROP INDEX submission.submission_versions_answers_idx;
DROP INDEX submission.documents_created_at_idx;
