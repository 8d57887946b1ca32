-- The first schema of resetbot on SQLite: requests, their per-system outcomes and the
-- append-only audit log. Times are TEXT in one fixed-width UTC layout
-- (2006-01-02T15:04:05.000000Z), so comparing them as strings compares them as times.

-- +goose Up
CREATE TABLE requests (
    id             TEXT PRIMARY KEY,
    -- "slack", "cli" or "okta-event:<uuid>"; an event's source is stored once (see index below).
    source         TEXT NOT NULL,
    target_okta_id TEXT NOT NULL DEFAULT '',
    target_login   TEXT NOT NULL DEFAULT '',
    target_email   TEXT NOT NULL DEFAULT '',
    target_name    TEXT NOT NULL DEFAULT '',
    target_status  TEXT NOT NULL DEFAULT '',
    reason         TEXT NOT NULL DEFAULT '',
    -- Actors, plan and provider selection are JSON: they are read whole, never queried.
    requester      TEXT NOT NULL DEFAULT '{}',
    approver       TEXT NOT NULL DEFAULT '{}',
    cancelled_by   TEXT NOT NULL DEFAULT '{}',
    channel        TEXT NOT NULL DEFAULT '',
    message_ts     TEXT NOT NULL DEFAULT '',
    plan           TEXT NOT NULL DEFAULT 'null',
    providers      TEXT NOT NULL DEFAULT 'null',
    state          TEXT NOT NULL CHECK (state IN ('pending', 'running', 'cancelled', 'expired', 'done', 'partial', 'failed')),
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    updated_at     TEXT NOT NULL,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_until    TEXT
);

-- A re-delivered event must not start a second reset.
CREATE UNIQUE INDEX requests_source_once ON requests (source) WHERE source NOT IN ('', 'slack', 'cli');
CREATE INDEX requests_pending_expiry ON requests (expires_at) WHERE state = 'pending';
CREATE INDEX requests_running_lease ON requests (lease_until) WHERE state = 'running';
CREATE INDEX requests_created ON requests (created_at);
CREATE INDEX requests_target_email ON requests (lower(target_email));
CREATE INDEX requests_target_login ON requests (lower(target_login));
CREATE INDEX requests_target_okta_id ON requests (lower(target_okta_id));

CREATE TABLE outcomes (
    request_id  TEXT NOT NULL REFERENCES requests (id),
    provider    TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    retryable   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    duration_ns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, provider)
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    -- Empty for events that never became a request (a refused ask).
    request_id TEXT NOT NULL DEFAULT '',
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL DEFAULT '{}',
    target     TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_request ON audit (request_id, id);
CREATE INDEX audit_target ON audit (lower(target));

-- The audit log is evidence: once written, no statement may change or remove a row.
-- +goose StatementBegin
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit;
DROP TABLE outcomes;
DROP TABLE requests;
