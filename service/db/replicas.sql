-- Read replicas (service/db/replicas.py): where the primary's WAL is, and how far each standby has replayed it.

-- name: primary_position
-- How far the primary has flushed its WAL: what it can stream to the standbys. (Its insert position runs
-- ahead with records no commit has flushed yet, which no standby can have: that would be lag of nothing.)
select pg_current_wal_flush_lsn();

-- name: wal_geometry
-- The WAL's page and segment sizes in bytes (to tell a page header from a record).
select current_setting('wal_block_size')::int as block_size,
       (select setting::bigint from pg_settings where name = 'wal_segment_size') as segment_size;

-- name: standby_position
-- A standby's replay position, and how long ago the last transaction it replayed committed (its own clock;
-- null when it replayed none since it started). `replayed` is null on a server that is not a standby.
select pg_is_in_recovery() as in_recovery,
       pg_last_wal_replay_lsn() as replayed,
       extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000 as replay_age_ms;

-- name: replayed
-- Has this standby replayed the WAL up to $1 (a consistency token, as text: asyncpg binds pg_lsn as a signed
-- 64-bit number, and a token may be any unsigned one)?
select coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false);

-- name: commit_position
-- Right after a commit, on the committing connection: a WAL position at or past its commit record. Every
-- synchronous_commit but off flushed the record before the commit returned; with off, it may only be inserted.
select case when current_setting('synchronous_commit') = 'off' then pg_current_wal_insert_lsn()
            else pg_current_wal_flush_lsn() end;
