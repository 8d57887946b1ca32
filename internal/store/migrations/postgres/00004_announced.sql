-- Stored before announced: a request's end is written first, then told (the summary in the
-- thread), then marked announced. A finished request nobody announced (its replica died in
-- between) is found by announced_at being empty and announced by whoever is alive.

-- +goose Up
ALTER TABLE requests ADD COLUMN announced_at timestamptz;
UPDATE requests SET announced_at = updated_at WHERE state IN ('done', 'partial', 'failed', 'cancelled', 'expired');

-- +goose Down
ALTER TABLE requests DROP COLUMN announced_at;
