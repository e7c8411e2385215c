-- +goose Up
-- Respondents, publication, lifecycle and idempotency.
ALTER TABLE submission.submissions
    -- Personal data, like contact_email: never leaves this schema.
    ADD COLUMN person_name              text NOT NULL DEFAULT '',
    ADD COLUMN transparency_register_id text NOT NULL DEFAULT '',
    -- public_named | public_anonymous | confidential
    ADD COLUMN publication              text NOT NULL DEFAULT 'public_named',
    -- pending_confirmation | active | withdrawn | expired
    ADD COLUMN status                   text NOT NULL DEFAULT 'active',
    -- declared | detected | default
    ADD COLUMN language_source          text NOT NULL DEFAULT 'declared',
    ADD COLUMN idempotency_key          text,
    -- SHA-256 of the request that first used the key: a reuse with another
    -- request is refused instead of answered with the first submission.
    ADD COLUMN request_hash             bytea,
    -- SHA-256 of the per-submission secret that lets its author edit or
    -- withdraw it; the secret itself is only ever shown once.
    ADD COLUMN secret_hash              bytea,
    ADD COLUMN confirmation_expires_at  timestamptz,
    ADD COLUMN confirmed_at             timestamptz,
    ADD COLUMN withdrawn_at             timestamptz,
    ADD COLUMN erased_at                timestamptz,
    ADD COLUMN updated_at               timestamptz NOT NULL DEFAULT now();

CREATE UNIQUE INDEX submissions_idempotency ON submission.submissions (consultation_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX submissions_email ON submission.submissions (lower(contact_email)) WHERE contact_email <> '';
CREATE INDEX submissions_expiring ON submission.submissions (confirmation_expires_at)
    WHERE status = 'pending_confirmation';

-- Every version of every submission, as it was accepted.
CREATE TABLE submission.submission_versions (
    submission_id            uuid NOT NULL REFERENCES submission.submissions (id),
    version                  bigint NOT NULL,
    stakeholder_type         text NOT NULL,
    country                  text NOT NULL,
    region                   text NOT NULL,
    organisation_name        text NOT NULL,
    person_name              text NOT NULL,
    transparency_register_id text NOT NULL,
    contact_email            text NOT NULL,
    language                 text NOT NULL,
    answers                  jsonb NOT NULL,
    publication              text NOT NULL,
    -- true for the version that withdrew the submission
    withdrawn                boolean NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL,
    erased_at                timestamptz,
    PRIMARY KEY (submission_id, version)
);

INSERT INTO submission.submission_versions
    (submission_id, version, stakeholder_type, country, region, organisation_name, person_name,
     transparency_register_id, contact_email, language, answers, publication, created_at)
SELECT id, version, stakeholder_type, country, region, organisation_name, person_name,
       transparency_register_id, contact_email, language, answers, publication, created_at
FROM submission.submissions;

-- Receipts, chained per consultation: each names the digest of its
-- submission version's canonical content and the chain digest before it, so
-- that deleting or altering an accepted submission breaks the chain.
CREATE TABLE submission.receipts (
    consultation_id uuid NOT NULL,
    seq             bigint NOT NULL,
    receipt_id      uuid NOT NULL UNIQUE,
    submission_id   uuid NOT NULL,
    version         bigint NOT NULL,
    content_digest  bytea NOT NULL,
    previous_digest bytea NOT NULL,
    chain_digest    bytea NOT NULL,
    issued_at       timestamptz NOT NULL,
    PRIMARY KEY (consultation_id, seq),
    UNIQUE (submission_id, version)
);

-- The end of each consultation's chain; locking its row serialises the
-- receipts of one consultation while others proceed in parallel.
CREATE TABLE submission.chain_heads (
    consultation_id uuid PRIMARY KEY,
    seq             bigint NOT NULL,
    chain_digest    bytea NOT NULL
);

-- Uploaded position papers; the bytes are in the blob store.
CREATE TABLE submission.documents (
    blob_key        text PRIMARY KEY,
    consultation_id uuid NOT NULL,
    media_type      text NOT NULL,
    size_bytes      bigint NOT NULL,
    sha256          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Mail waiting to go out (confirmation links). Personal data: a row is
-- deleted once the message is sent.
CREATE TABLE submission.mail_outbox (
    id          uuid PRIMARY KEY,
    to_address  text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempts    int NOT NULL DEFAULT 0,
    next_try_at timestamptz NOT NULL DEFAULT now(),
    last_error  text NOT NULL DEFAULT ''
);

-- What data-protection requests did. The address is kept only as its
-- SHA-256, enough to answer "was this address erased, when, by whom".
CREATE TABLE submission.erasures (
    id             uuid PRIMARY KEY,
    email_sha256   text NOT NULL,
    requested_by   text NOT NULL,
    reason         text NOT NULL,
    submission_ids uuid[] NOT NULL,
    erased_at      timestamptz NOT NULL
);

-- +goose Down
DROP TABLE submission.erasures;
DROP TABLE submission.mail_outbox;
DROP TABLE submission.documents;
DROP TABLE submission.chain_heads;
DROP TABLE submission.receipts;
DROP TABLE submission.submission_versions;
DROP INDEX submission.submissions_expiring;
DROP INDEX submission.submissions_email;
DROP INDEX submission.submissions_idempotency;
ALTER TABLE submission.submissions
    DROP COLUMN updated_at, DROP COLUMN erased_at, DROP COLUMN withdrawn_at, DROP COLUMN confirmed_at,
    DROP COLUMN confirmation_expires_at, DROP COLUMN secret_hash, DROP COLUMN request_hash,
    DROP COLUMN idempotency_key, DROP COLUMN language_source, DROP COLUMN status, DROP COLUMN publication,
    DROP COLUMN transparency_register_id, DROP COLUMN person_name;
