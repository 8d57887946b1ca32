-- Batches: one request for many people (a list or an Okta group), approved once. The people
-- are kept with the request so a replica that takes over knows whom to finish, and every
-- person's outcome per system is kept apart from the single-person outcomes table.

-- +goose Up
ALTER TABLE requests ADD COLUMN targets TEXT NOT NULL DEFAULT '[]';

CREATE TABLE person_outcomes (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    -- the person's Okta id: stable, unlike an email that may be renamed mid-incident
    person      TEXT NOT NULL,
    provider    TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    retryable   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    duration_ns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, person, provider)
);

-- +goose Down
DROP TABLE person_outcomes;
ALTER TABLE requests DROP COLUMN targets;
