-- Batches: one request for many people (a list or an Okta group), approved once. The people
-- are kept with the request so a replica that takes over knows whom to finish, and every
-- person's outcome per system is kept apart from the single-person outcomes table.

-- +goose Up
ALTER TABLE requests ADD COLUMN targets text NOT NULL DEFAULT '[]';

CREATE TABLE person_outcomes (
    request_id  text NOT NULL REFERENCES requests (id),
    -- the person's Okta id: stable, unlike an email that may be renamed mid-incident
    person      text NOT NULL,
    provider    text NOT NULL,
    status      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    retryable   boolean NOT NULL DEFAULT false,
    attempts    integer NOT NULL DEFAULT 0,
    duration_ns bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, person, provider)
);

-- +goose Down
DROP TABLE person_outcomes;
ALTER TABLE requests DROP COLUMN targets;
