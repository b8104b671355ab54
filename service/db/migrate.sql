-- The migrator's bookkeeping (service/db/migrate.py), in schema steward_meta, run as the database owner.

-- name: lock
-- One migrator at a time per database: $1 is migrate.LOCK_KEY (the evaluator leads with another key).
select pg_advisory_lock($1);

-- name: unlock
select pg_advisory_unlock($1);

-- name: bookkeeping
-- The tables that record what was applied; created on first use, so every database gets them.
create schema if not exists steward_meta;
create table if not exists steward_meta.schema_migrations (
    version     text primary key,
    name        text not null,
    checksum    text not null,
    applied_at  timestamptz not null default now()
);
create table if not exists steward_meta.views_state (
    singleton   boolean primary key default true check (singleton),
    checksum    text not null,
    rebuilt_at  timestamptz not null default now()
);
alter table steward_meta.views_state add column if not exists rollup_checksum text;

-- name: migrations_recorded
-- Whether the database was ever migrated (a fresh one has no steward_meta yet).
select to_regclass('steward_meta.schema_migrations') is not null;

-- name: applied_migrations
select version, checksum from steward_meta.schema_migrations;

-- name: record_migration
insert into steward_meta.schema_migrations (version, name, checksum) values ($1, $2, $3);

-- name: views_recorded
select to_regclass('steward_meta.views_state') is not null;

-- name: views_checksum
-- The checksum of the view files the repeatable schemas were last built from (no row: never built).
select checksum from steward_meta.views_state;

-- name: rollup_checksum
-- The checksum of the classification rules the rollups were last computed with.
select rollup_checksum from steward_meta.views_state;

-- name: reset_repeatable_schemas
-- The repeatable schemas, emptied: sql/views rebuilds everything in them, so nothing else may live there.
drop schema if exists metrics cascade;
create schema metrics;
drop schema if exists internals cascade;
create schema internals;

-- name: refresh_rollups
-- The classification rules changed: recompute every deployment's rollup (minutes at tens of millions of rows).
select internals.refresh_conversation_daily(array(select id from steward.deployments));

-- name: record_views
insert into steward_meta.views_state (checksum, rollup_checksum) values ($1, $2)
on conflict (singleton) do update set checksum = excluded.checksum,
                                      rollup_checksum = excluded.rollup_checksum, rebuilt_at = now();

-- name: ensure_partitions
-- The monthly partitions of steward.conversations for the next $1 months (sql/views/012).
select internals.ensure_conversation_partitions($1) as name;
