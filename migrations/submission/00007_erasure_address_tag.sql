-- +goose Up
-- The audit record of an erasure kept the unkeyed SHA-256 of the erased
-- address, which anyone reading the table could use to confirm a guessed
-- address. It now keeps a keyed tag (HMAC-SHA256 under the service's signing
-- key, app.Signer.AddressTag). The unkeyed hashes of earlier records cannot be
-- turned into tags without the addresses, so they are removed: those records
-- keep who asked, why, when and which submissions, and are no longer found
-- by address.
ALTER TABLE submission.erasures RENAME COLUMN email_sha256 TO address_tag;
ALTER TABLE submission.erasures ALTER COLUMN address_tag DROP NOT NULL;
UPDATE submission.erasures SET address_tag = NULL;
CREATE INDEX erasures_address_tag ON submission.erasures (address_tag) WHERE address_tag IS NOT NULL;

-- +goose Down
DROP INDEX submission.erasures_address_tag;
UPDATE submission.erasures SET address_tag = '' WHERE address_tag IS NULL;
ALTER TABLE submission.erasures ALTER COLUMN address_tag SET NOT NULL;
ALTER TABLE submission.erasures RENAME COLUMN address_tag TO email_sha256;
