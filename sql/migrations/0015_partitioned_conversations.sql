-- Partitioned history (issue 16, item 2): steward.conversations becomes range-partitioned by
-- month of started_at (native declarative partitioning), so a month of history is one table that
-- retention can drop whole (service/partitions.py, STEWARD_RETENTION_MONTHS), and a month's reads
-- and writes touch that month's indexes only.
--
-- Idempotent ingest needs `(org_id, external_id)` unique across all months: a re-sent
-- conversation is the same row even when its started_at was corrected (and so moves to another
-- partition). A unique index on a partitioned table must include the partition key, so that
-- uniqueness lives in steward.conversation_keys, a plain (non-partitioned) table with one row per
-- conversation: (org_id, external_id) -> (id, started_at). Statement triggers on conversations
-- keep it exact for every writer (ingest, demo, tests, hand-written SQL: sql/views/011), so a
-- second conversation with the same external id fails on its primary key, as the old unique
-- constraint did, however the rows are written. It is also how a merge finds a stored
-- conversation by external id without probing every partition: (id, started_at) is the
-- partitioned primary key's lookup, pruned to one partition.
--
-- Partitions: one per UTC month, named conversations_YYYY_MM, and a DEFAULT partition for rows
-- of months without one (a conversation dated years ago, or far in the future), so no write
-- ever fails with "no partition of relation found". `steward migrate` and the periodic task
-- create the months ahead, and move rows of a month out of DEFAULT when they create its
-- partition (internals.ensure_conversation_partitions, sql/views/012).
--
-- Existing data: the table is renamed aside, the partitioned table created with the same
-- columns and constraints, a partition created for every month present, the rows copied with
-- their ids, and the old table dropped. The copy fires no rollup trigger (the triggers are
-- created by the views rebuild that follows every migration), so conversation_daily and
-- conversation_topic_daily stay as they are: the same rows, nothing recomputed.

alter table steward.conversations rename to conversations_unpartitioned;
alter index steward.conversations_pkey rename to conversations_unpartitioned_pkey;
alter index steward.conversations_org_id_external_id_key rename to conversations_unpartitioned_external_id_key;
alter index steward.conversations_deployment_time rename to conversations_unpartitioned_deployment_time;
alter sequence steward.conversations_id_seq rename to conversations_unpartitioned_id_seq;

create table steward.conversations (
    org_id         bigint not null,
    id             bigint generated always as identity,
    external_id    text collate "C" not null
                   constraint conversations_external_id_check check (length(external_id) between 1 and 200),
    deployment_id  bigint not null,
    topic_id       bigint not null,
    channel        text not null
                   constraint conversations_channel_check check (channel in ('CHAT', 'EMAIL', 'SMS', 'VOICE', 'SOCIAL')),
    started_at     timestamptz not null,
    ai_engaged     boolean not null,
    outcome        text not null constraint conversations_outcome_check
                   check (outcome in ('AI_RESOLVED', 'ESCALATED', 'ABANDONED', 'OPEN')),
    resolved_at    timestamptz constraint conversations_check check (resolved_at >= started_at),
    reopened_at    timestamptz constraint conversations_check1 check (reopened_at >= started_at),
    ingested_at    timestamptz not null default now(),
    -- started_at is in the key because a partitioned table's unique keys must hold the partition
    -- key; (org_id, id) alone stays unique by generation (`generated always`)
    primary key (org_id, id, started_at),
    constraint conversations_org_id_deployment_id_fkey
        foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    constraint conversations_org_id_topic_id_fkey
        foreign key (org_id, topic_id) references steward.topics (org_id, id) on delete cascade
) partition by range (started_at);
create index conversations_deployment_time on steward.conversations (org_id, deployment_id, started_at);

create table steward.conversations_default partition of steward.conversations default;

alter table steward.conversations enable row level security;
alter table steward.conversations force row level security;
create policy tenant_isolation on steward.conversations using (org_id = steward.current_org_id());
-- Privileges are checked on the parent only; partitions get none (nobody reads one directly).
grant select, insert, update on steward.conversations to steward_app;
grant select on steward.conversations to bi_reader;

-- One row per conversation: the global uniqueness of its external id, and where it lives.
create table steward.conversation_keys (
    org_id       bigint not null,
    external_id  text collate "C" not null,
    id           bigint not null,
    started_at   timestamptz not null,
    primary key (org_id, external_id),
    foreign key (org_id) references steward.organizations on delete cascade
);
alter table steward.conversation_keys enable row level security;
alter table steward.conversation_keys force row level security;
create policy tenant_isolation on steward.conversation_keys using (org_id = steward.current_org_id());
-- steward_app writes it only through the triggers of sql/views/011 (as the writer of conversations).
grant select, insert, update, delete on steward.conversation_keys to steward_app;

-- Retention's horizon: the first day whose conversations are still held (no row: all are). Rollup
-- refreshes never reach before it (internals.rollup_keys), so the rollup rows of dropped months stay.
-- Global, one row: a reference table for Citus (docs/scale-out.md).
create table steward.conversation_retention (
    singleton   boolean primary key default true check (singleton),
    kept_from   date not null constraint conversation_retention_kept_from_in_range
                check (steward.day_in_range(kept_from)),
    updated_at  timestamptz not null default now() constraint conversation_retention_updated_at_in_range
                check (steward.instant_in_range(updated_at))
);
grant select on steward.conversation_retention to steward_app, bi_reader;

-- The months present (UTC), then ahead: the current month and the next three (the periodic task
-- and `steward migrate` keep STEWARD_PARTITION_MONTHS_AHEAD of them from then on).
do $$
declare
    m date;
begin
    for m in
        select distinct date_trunc('month', started_at at time zone 'UTC')::date
          from steward.conversations_unpartitioned
         where steward.instant_in_range(started_at)
        union
        select (date_trunc('month', now() at time zone 'UTC') + make_interval(months => i))::date
          from generate_series(0, 3) i
        order by 1
    loop
        execute format('create table steward.%I partition of steward.conversations for values from (%L) to (%L)',
                       'conversations_' || to_char(m, 'YYYY_MM'),
                       m::timestamp at time zone 'UTC', (m + interval '1 month')::timestamp at time zone 'UTC');
    end loop;
end $$;

insert into steward.conversations
    (org_id, id, external_id, deployment_id, topic_id, channel, started_at, ai_engaged, outcome,
     resolved_at, reopened_at, ingested_at)
overriding system value
select org_id, id, external_id, deployment_id, topic_id, channel, started_at, ai_engaged, outcome,
       resolved_at, reopened_at, ingested_at
from steward.conversations_unpartitioned;

insert into steward.conversation_keys (org_id, external_id, id, started_at)
select org_id, external_id, id, started_at from steward.conversations_unpartitioned;

-- The range checks of migration 0007, added as it did: checked from now on, validated where the
-- rows allow it (a database with rows from before 0007 keeps them NOT VALID, with a WARNING).
alter table steward.conversations
    add constraint conversations_instants_in_range check (
        steward.instant_in_range(started_at) and steward.instant_in_range(resolved_at)
        and steward.instant_in_range(reopened_at) and steward.instant_in_range(ingested_at)) not valid;
alter table steward.conversation_keys
    add constraint conversation_keys_started_at_in_range check (steward.instant_in_range(started_at)) not valid;
do $$
declare
    c record;
begin
    for c in select * from (values ('steward.conversations', 'conversations_instants_in_range'),
                                   ('steward.conversation_keys', 'conversation_keys_started_at_in_range')) v(tab, conname)
    loop
        begin
            execute format('alter table %s validate constraint %I', c.tab, c.conname);
        exception when check_violation then
            raise warning 'constraint % on % left NOT VALID: the table holds values outside the supported '
                          'range (see sql/migrations/0007_finite_instants.sql)', c.conname, c.tab;
        end;
    end loop;
end $$;

-- New ids continue after the copied ones.
select setval(pg_get_serial_sequence('steward.conversations', 'id'),
              greatest(coalesce((select max(id) from steward.conversations_unpartitioned), 0),
                       (select last_value from steward.conversations_unpartitioned_id_seq)),
              true);

-- The old table's dependants (the views and the rollup triggers) are rebuilt from sql/views
-- against the new table right after this migration.
drop table steward.conversations_unpartitioned cascade;
