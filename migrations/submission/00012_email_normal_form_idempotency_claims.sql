-- +goose Up
-- The normal form of an email address, the one rate limits, data-protection
-- requests and erasure audit tags use (domain.NormaliseEmail in Go, which
-- this function mirrors; a test checks that both agree): surrounding white
-- space trimmed, a quoted local part unquoted, letters in lower case, a
-- "+tag" dropped from the local part, the domain's trailing dots dropped,
-- and for Gmail (gmail.com, googlemail.com) the dots of the local part
-- dropped and the domain written gmail.com. Addresses that differ only in
-- these ways reach one mailbox, so they are one respondent: an erasure of
-- "Ana+x@Example.org." reaches what was given as "ana@example.org".
-- +goose StatementBegin
CREATE FUNCTION submission.normalise_email(address text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    -- Go's strings.TrimSpace: the white space of unicode.IsSpace.
    a text := btrim(address, E'\t\n\u000b\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000');
    at int := strpos(reverse(a), '@');
    local text;
    dom text;
    plus int;
BEGIN
    IF at = 0 THEN
        RETURN lower(a);
    END IF;
    local := left(a, length(a) - at);
    dom := lower(rtrim(right(a, at - 1), '.'));
    IF length(local) >= 2 AND left(local, 1) = '"' AND right(local, 1) = '"' THEN
        local := regexp_replace(substr(local, 2, length(local) - 2), '\\(.)', '\1', 'g');
    END IF;
    local := lower(local);
    plus := strpos(local, '+');
    IF plus > 1 THEN
        local := left(local, plus - 1);
    END IF;
    IF dom IN ('gmail.com', 'googlemail.com') THEN
        local := replace(local, '.', '');
        dom := 'gmail.com';
    END IF;
    RETURN local || '@' || dom;
END
$$;
-- +goose StatementEnd

-- Data-protection requests find addresses by their normal form, in the
-- latest row and in every version.
CREATE INDEX submissions_email_normal ON submission.submissions (submission.normalise_email(contact_email))
    WHERE contact_email <> '';
CREATE INDEX submission_versions_email_normal ON submission.submission_versions (submission.normalise_email(contact_email))
    WHERE contact_email <> '';
DROP INDEX submission.submissions_email;
DROP INDEX submission.submission_versions_email;

-- A create with an idempotency key claims the key before it takes anything
-- from the rate limits, so that concurrent retries of one request take one
-- budget: the others wait for its answer (replay) or are told it is in
-- progress. The claim goes in the transaction that creates the submission,
-- or when the attempt fails; a claim older than the claim TTL (a process
-- that died) may be taken over.
CREATE TABLE submission.idempotency_claims (
    consultation_id uuid        NOT NULL,
    idempotency_key text        NOT NULL,
    claim_id        uuid        NOT NULL,
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consultation_id, idempotency_key)
);
CREATE INDEX idempotency_claims_claimed_at ON submission.idempotency_claims (claimed_at);

-- +goose Down
DROP TABLE submission.idempotency_claims;
CREATE INDEX submissions_email ON submission.submissions (lower(contact_email)) WHERE contact_email <> '';
CREATE INDEX submission_versions_email ON submission.submission_versions (lower(contact_email))
    WHERE contact_email <> '';
DROP INDEX submission.submission_versions_email_normal;
DROP INDEX submission.submissions_email_normal;
DROP FUNCTION submission.normalise_email(text);
