-- +goose Up
-- Submission counts per consultation, stakeholder type and region.
CREATE TABLE summary.counts (
    consultation_id  uuid NOT NULL,
    stakeholder_type text NOT NULL,
    region           text NOT NULL,
    submissions      bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consultation_id, stakeholder_type, region)
);

CREATE TABLE summary.inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE summary.inbox;
DROP TABLE summary.counts;
