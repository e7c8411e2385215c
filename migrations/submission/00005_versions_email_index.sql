-- +goose Up
-- Data-protection requests find an address in every version, not only the
-- latest: an author may have changed it in an edit.
CREATE INDEX submission_versions_email ON submission.submission_versions (lower(contact_email))
    WHERE contact_email <> '';

-- +goose Down
DROP INDEX submission.submission_versions_email;
