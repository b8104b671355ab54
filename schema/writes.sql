-- Statements of schema/writes.py: the settings and the instant of a mutation, in the request transaction.

-- name: lock_timeout
-- Waiting for another writer's lock ends well before the statement timeout.
select set_config('lock_timeout', $1, true);

-- name: pinned_clock
-- The instant of a write: clock_timestamp(), unless a test pinned steward.now for the transaction.
select coalesce(nullif(current_setting('steward.now', true), '')::timestamptz, clock_timestamp());

-- name: clock
select clock_timestamp();

-- name: pin_clock
-- Health and metrics read steward.clock(): as of the write's instant.
select set_config('steward.now', $1, true);
