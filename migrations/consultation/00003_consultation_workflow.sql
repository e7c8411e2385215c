-- +goose Up
-- Columns that listings filter and sort on, copied from the document.
ALTER TABLE consultation.consultations
    ADD COLUMN thematic_area    text   NOT NULL DEFAULT '',
    ADD COLUMN languages        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN colead_countries text[] NOT NULL DEFAULT '{}';

UPDATE consultation.consultations
SET thematic_area    = document->>'thematic_area',
    languages        = ARRAY(SELECT jsonb_array_elements_text(document->'languages')),
    colead_countries = ARRAY(SELECT jsonb_array_elements_text(document->'colead_countries'));

-- Listings: nearest deadline first, keyset-paginated on (closes_at, id).
CREATE INDEX consultations_deadline ON consultation.consultations (closes_at, id);
-- The scheduler: what opens or closes next.
CREATE INDEX consultations_opens ON consultation.consultations (opens_at) WHERE status = 'scheduled';
CREATE INDEX consultations_closes ON consultation.consultations (closes_at) WHERE status = 'open';

CREATE INDEX dialogues_starts ON consultation.dialogues (starts_at, id);

-- Inbox of the consumer that freezes questions at the first submission.
CREATE TABLE consultation.inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE consultation.inbox;
DROP INDEX consultation.dialogues_starts;
DROP INDEX consultation.consultations_closes;
DROP INDEX consultation.consultations_opens;
DROP INDEX consultation.consultations_deadline;
ALTER TABLE consultation.consultations
    DROP COLUMN colead_countries,
    DROP COLUMN languages,
    DROP COLUMN thematic_area;
