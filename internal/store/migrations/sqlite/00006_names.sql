-- Which name a system found a person under, when not their Okta login or email, and which
-- names were tried when none found them: "no account" is safe only when it says where resetbot
-- looked. A request keeps the names its person goes by (secondEmail and the mapped attributes)
-- as the plan read them, so the sign-out asks under the same names.

-- +goose Up
ALTER TABLE requests ADD COLUMN target_second_email TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN target_names TEXT NOT NULL DEFAULT 'null';
ALTER TABLE outcomes ADD COLUMN found_as TEXT NOT NULL DEFAULT '';
ALTER TABLE outcomes ADD COLUMN tried TEXT NOT NULL DEFAULT '[]';
ALTER TABLE person_outcomes ADD COLUMN found_as TEXT NOT NULL DEFAULT '';
ALTER TABLE person_outcomes ADD COLUMN tried TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE person_outcomes DROP COLUMN tried;
ALTER TABLE person_outcomes DROP COLUMN found_as;
ALTER TABLE outcomes DROP COLUMN tried;
ALTER TABLE outcomes DROP COLUMN found_as;
ALTER TABLE requests DROP COLUMN target_names;
ALTER TABLE requests DROP COLUMN target_second_email;
