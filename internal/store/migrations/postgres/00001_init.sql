-- The first schema of resetbot on PostgreSQL: requests, their per-system outcomes and the
-- append-only audit log. Every object is created unqualified, in the first schema of the
-- connection's search_path.

-- +goose Up
CREATE TABLE requests (
    id             text PRIMARY KEY,
    -- "slack", "cli" or "okta-event:<uuid>"; an event's source is stored once (see index below).
    source         text NOT NULL,
    target_okta_id text NOT NULL DEFAULT '',
    target_login   text NOT NULL DEFAULT '',
    target_email   text NOT NULL DEFAULT '',
    target_name    text NOT NULL DEFAULT '',
    target_status  text NOT NULL DEFAULT '',
    reason         text NOT NULL DEFAULT '',
    -- Actors, plan and provider selection are JSON text: they are read whole, never queried.
    requester      text NOT NULL DEFAULT '{}',
    approver       text NOT NULL DEFAULT '{}',
    cancelled_by   text NOT NULL DEFAULT '{}',
    channel        text NOT NULL DEFAULT '',
    message_ts     text NOT NULL DEFAULT '',
    plan           text NOT NULL DEFAULT 'null',
    providers      text NOT NULL DEFAULT 'null',
    state          text NOT NULL CHECK (state IN ('pending', 'running', 'cancelled', 'expired', 'done', 'partial', 'failed')),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,
    updated_at     timestamptz NOT NULL,
    lease_owner    text NOT NULL DEFAULT '',
    lease_until    timestamptz
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
    request_id  text NOT NULL REFERENCES requests (id),
    provider    text NOT NULL,
    status      text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    retryable   boolean NOT NULL DEFAULT false,
    attempts    integer NOT NULL DEFAULT 0,
    duration_ns bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, provider)
);

CREATE TABLE audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    -- Empty for events that never became a request (a refused ask).
    request_id text NOT NULL DEFAULT '',
    kind       text NOT NULL,
    actor      text NOT NULL DEFAULT '{}',
    target     text NOT NULL DEFAULT '',
    reason     text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT ''
);

CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_request ON audit (request_id, id);
CREATE INDEX audit_target ON audit (lower(target));

-- The audit log is evidence: once written, no statement may change or remove a row, whoever
-- holds the connection. TRUNCATE bypasses row triggers, so it is refused separately.
-- +goose StatementBegin
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- +goose Down
DROP TABLE audit;
DROP FUNCTION audit_refuse_change();
DROP TABLE outcomes;
DROP TABLE requests;
