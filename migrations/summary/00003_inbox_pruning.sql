-- +goose Up
-- Pruning: inbox rows by age (pkg/inbox Pruner).
CREATE INDEX inbox_processed ON summary.inbox (processed_at);

-- +goose Down
DROP INDEX summary.inbox_processed;
