-- +goose Up
-- Thematic areas are data the secretariat edits, not code.
CREATE TABLE consultation.thematic_areas (
    id         text PRIMARY KEY,
    name_en    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO consultation.thematic_areas (id, name_en) VALUES
    ('ai_hpc', 'Artificial intelligence and high-performance computing'),
    ('data_governance', 'Data governance'),
    ('cybersecurity', 'Cybersecurity'),
    ('connectivity', 'Meaningful connectivity'),
    ('e_governance', 'E-governance');

CREATE TABLE consultation.dialogues (
    id               uuid PRIMARY KEY,
    thematic_area    text NOT NULL REFERENCES consultation.thematic_areas (id),
    title            text NOT NULL,
    colead_countries text[] NOT NULL,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz,
    venue_city       text NOT NULL DEFAULT '',
    venue_country    text NOT NULL DEFAULT '',
    status           text NOT NULL,
    version          bigint NOT NULL,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- A consultation is stored as its protobuf document (questionnaire, texts)
-- next to the columns that queries filter on.
CREATE TABLE consultation.consultations (
    id          uuid PRIMARY KEY,
    dialogue_id uuid NOT NULL REFERENCES consultation.dialogues (id),
    status      text NOT NULL,
    opens_at    timestamptz,
    closes_at   timestamptz NOT NULL,
    version     bigint NOT NULL,
    document    jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX consultations_dialogue ON consultation.consultations (dialogue_id);
CREATE INDEX consultations_status_closes ON consultation.consultations (status, closes_at);

-- Transactional outbox: written in the same transaction as the change,
-- published to JetStream by pkg/outbox's relay.
CREATE TABLE consultation.outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    subject      text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON consultation.outbox (seq) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE consultation.outbox;
DROP TABLE consultation.consultations;
DROP TABLE consultation.dialogues;
DROP TABLE consultation.thematic_areas;
