-- The Okta event inbox: a delivery is written here before Okta is answered 200, and worked on
-- after, under a lease, by whichever replica is alive; a failure is tried again until the
-- event is done, ignored, or has failed for good. The uuid is the event's own id, so a
-- redelivery finds its row: it starts nothing twice, and re-queues an event that failed.

-- +goose Up
CREATE TABLE inbox (
    uuid        TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    -- what to do, as the hook decided it (JSON); the store never reads it
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    next_at     TEXT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until TEXT,
    -- the last failure, or why the event ended as it did
    reason      TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX inbox_due ON inbox (next_at) WHERE state = 'pending';

-- +goose Down
DROP TABLE inbox;
