-- +goose Up
-- Salted receipts (docs/receipts.md). A version's content digest is public;
-- from this migration on it is a commitment under a random key given to the
-- submitter, so that nobody else can confirm a guess of the content.
ALTER TABLE submission.submission_versions
    -- 1: unsalted SHA-256 of the canonical JSON (versions accepted before
    -- this migration); 2: salted commitment. New rows must say which.
    ADD COLUMN receipt_format  smallint NOT NULL DEFAULT 1 CHECK (receipt_format IN (1, 2)),
    -- The submitter's 256-bit receipt key. Personal data: with it the
    -- personal fields can be checked against the receipt. An erasure deletes it.
    ADD COLUMN receipt_key     bytea CHECK (receipt_key IS NULL OR length(receipt_key) = 32),
    -- HMAC-SHA256(receipt_key, "consulta-receipt-v2 content salt"): lets the
    -- non-personal content be rechecked after an erasure. Deleted by the
    -- erasure of an individual, whose texts are personal.
    ADD COLUMN content_salt    bytea CHECK (content_salt IS NULL OR length(content_salt) = 32),
    -- Commitment to the personal fields under a salt derived from the key.
    ADD COLUMN personal_digest bytea CHECK (personal_digest IS NULL OR length(personal_digest) = 32),
    ADD CONSTRAINT submission_versions_salted_commitment
        CHECK (receipt_format = 1 OR personal_digest IS NOT NULL);
ALTER TABLE submission.submission_versions ALTER COLUMN receipt_format DROP DEFAULT;

-- +goose Down
ALTER TABLE submission.submission_versions
    DROP CONSTRAINT submission_versions_salted_commitment,
    DROP COLUMN personal_digest, DROP COLUMN content_salt, DROP COLUMN receipt_key, DROP COLUMN receipt_format;
