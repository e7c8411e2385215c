-- +goose Up
-- A row the relay cannot publish (too large for NATS, or refused again and
-- again for a reason that retrying cannot fix) is set aside as a dead letter
-- so that the rows after it are still published. attempts and last_error
-- say what happened; the payload stays for an operator to inspect and replay
-- (consulta outbox dead-letters / replay).
ALTER TABLE submission.outbox
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error       text,
    ADD COLUMN dead_lettered_at timestamptz;

-- What the relay looks for: published or dead-lettered rows drop out.
DROP INDEX submission.outbox_unpublished;
CREATE INDEX outbox_unpublished ON submission.outbox (seq) WHERE published_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX outbox_dead_letters ON submission.outbox (seq) WHERE dead_lettered_at IS NOT NULL;
-- Pruning: published rows by age.
CREATE INDEX outbox_published ON submission.outbox (published_at) WHERE published_at IS NOT NULL;
-- Pruning: inbox rows by age.
CREATE INDEX inbox_processed ON submission.inbox (processed_at);

-- +goose Down
DROP INDEX submission.inbox_processed;
DROP INDEX submission.outbox_published;
DROP INDEX submission.outbox_dead_letters;
DROP INDEX submission.outbox_unpublished;
CREATE INDEX outbox_unpublished ON submission.outbox (seq) WHERE published_at IS NULL;
ALTER TABLE submission.outbox
    DROP COLUMN dead_lettered_at,
    DROP COLUMN last_error,
    DROP COLUMN attempts;
