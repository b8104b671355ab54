-- Monthly partitions of steward.conversations (service/db/partitions.py): run as the tables' owner,
-- the functions are in sql/views/012_conversation_partitions.sql.

-- name: try_lead
-- One maintainer per database at a time, for this transaction: $1 is partitions.LEADER_KEY.
select pg_try_advisory_xact_lock($1);

-- name: lock_timeout
-- Wait at most $1 for a table lock: DDL queued behind a long reader makes every later reader wait too.
select set_config('lock_timeout', $1, true);

-- name: ensure
-- Create the partitions of the next $1 months (and of the months DEFAULT holds rows of).
select internals.ensure_conversation_partitions($1) as name;

-- name: drop_old
-- Retention: drop the partitions older than $1 whole months whose rollups are kept.
select internals.drop_conversation_partitions($1) as name;
