-- Approvals and notes: a request about a protected person waits for two approvers, and the
-- first approval is kept with the request until the second; a card can carry a note saying
-- why it waits (an Okta event that did not reset at once). The canceller, stored since the
-- start, is now read back so a cancelled card names them.

-- +goose Up
ALTER TABLE requests ADD COLUMN approvals TEXT NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE requests DROP COLUMN note;
ALTER TABLE requests DROP COLUMN approvals;
