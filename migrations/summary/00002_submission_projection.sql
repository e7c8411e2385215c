-- +goose Up
-- What the summary knows of each submission: enough to move it between
-- counts when it is confirmed, edited, withdrawn or expires, and to apply
-- its events in version order. No personal data.
CREATE TABLE summary.submissions (
    id               uuid PRIMARY KEY,
    consultation_id  uuid NOT NULL,
    stakeholder_type text NOT NULL,
    region           text NOT NULL,
    counted          boolean NOT NULL,
    version          bigint NOT NULL
);

-- Submissions counted before this projection existed were all counted.
-- (Their ids are unknown here; later events for them find no row and are
-- applied as new.)

-- +goose Down
DROP TABLE summary.submissions;
