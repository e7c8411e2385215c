-- +goose Up
-- Countries and stakeholder types become a read model of the consultation
-- service's reference data, kept current from consulta.reference.* events.
-- version is the version of the row in the consultation service; an event is
-- applied only when it carries a newer one, so redelivered and reordered
-- events converge. The seeded rows are version 1, as in the consultation
-- schema.
ALTER TABLE submission.countries
    ADD COLUMN version bigint NOT NULL DEFAULT 1;

ALTER TABLE submission.stakeholder_types
    ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE submission.stakeholder_types DROP COLUMN version;
ALTER TABLE submission.countries DROP COLUMN version;
