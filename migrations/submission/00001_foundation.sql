-- +goose Up
-- Region of each Alliance member; any other valid country is region OTHER.
-- Data, not code: later issues let the secretariat edit it.
CREATE TABLE submission.countries (
    code   text PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    region text NOT NULL CHECK (region IN ('EU', 'LAC', 'OTHER'))
);

INSERT INTO submission.countries (code, region)
SELECT unnest(ARRAY['AT','BE','BG','HR','CY','CZ','DK','EE','FI','FR','DE','GR','HU','IE',
                    'IT','LV','LT','LU','MT','NL','PL','PT','RO','SK','SI','ES','SE']), 'EU';
INSERT INTO submission.countries (code, region)
SELECT unnest(ARRAY['AG','AR','BS','BB','BZ','BO','BR','CL','CO','CR','CU','DM','DO','EC',
                    'SV','GD','GT','GY','HT','HN','JM','MX','NI','PA','PY','PE','KN','LC',
                    'VC','SR','TT','UY','VE']), 'LAC';

CREATE TABLE submission.stakeholder_types (
    id      text PRIMARY KEY,
    name_en text NOT NULL
);

INSERT INTO submission.stakeholder_types (id, name_en) VALUES
    ('government', 'Government'),
    ('civil_society', 'Civil society'),
    ('private_sector', 'Private sector'),
    ('academia', 'Academia'),
    ('tech_community', 'Technical community'),
    ('regional_organisation', 'Regional organisation'),
    ('international_organisation', 'International organisation'),
    ('individual', 'Individual');

-- Read model of consultations, built from consultation events: accepting a
-- submission needs no call to the consultation service.
CREATE TABLE submission.consultations (
    id         uuid PRIMARY KEY,
    version    bigint NOT NULL,
    status     text NOT NULL,
    closes_at  timestamptz NOT NULL,
    document   jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE submission.submissions (
    id                uuid PRIMARY KEY,
    consultation_id   uuid NOT NULL REFERENCES submission.consultations (id),
    stakeholder_type  text NOT NULL REFERENCES submission.stakeholder_types (id),
    country           text NOT NULL,
    region            text NOT NULL,
    organisation_name text NOT NULL DEFAULT '',
    -- Personal data: never leaves this schema.
    contact_email     text NOT NULL DEFAULT '',
    language          text NOT NULL,
    answers           jsonb NOT NULL,
    version           bigint NOT NULL,
    created_by        text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL
);
CREATE INDEX submissions_consultation ON submission.submissions (consultation_id, created_at);

CREATE TABLE submission.outbox (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    subject      text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON submission.outbox (seq) WHERE published_at IS NULL;

-- Inbox: ids of events already applied, written in the same transaction as
-- their effect so that a redelivery changes nothing.
CREATE TABLE submission.inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE submission.inbox;
DROP TABLE submission.outbox;
DROP TABLE submission.submissions;
DROP TABLE submission.consultations;
DROP TABLE submission.stakeholder_types;
DROP TABLE submission.countries;
