-- +goose Up
-- Translations of submissions' text answers, per version, and the
-- translation memory. Both are personal data when the text is an
-- individual's: ErasePersonalData deletes them with the texts.
CREATE TABLE submission.translations (
    submission_id uuid NOT NULL,
    version       bigint NOT NULL,
    question_id   text NOT NULL,
    language      text NOT NULL,
    text          text NOT NULL,
    -- machine | human
    kind          text NOT NULL CHECK (kind IN ('machine', 'human')),
    provider      text NOT NULL,
    model         text NOT NULL DEFAULT '',
    -- SHA-256 of the normalised source text: finds the memory entries an
    -- erasure deletes.
    source_hash   bytea NOT NULL,
    translated_at timestamptz NOT NULL,
    PRIMARY KEY (submission_id, version, question_id, language),
    FOREIGN KEY (submission_id, version) REFERENCES submission.submission_versions (submission_id, version)
);

-- One translation per normalised text and language pair.
CREATE TABLE submission.translation_memory (
    source_hash     bytea NOT NULL,
    source_language text NOT NULL,
    target_language text NOT NULL,
    text            text NOT NULL,
    provider        text NOT NULL,
    model           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (source_hash, source_language, target_language)
);

-- +goose Down
DROP TABLE submission.translation_memory;
DROP TABLE submission.translations;
