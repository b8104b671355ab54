-- Statements of the bulk ingest (service/ingest/merge.py) and of `steward import` (service/ingest/cli.py).
-- The merge runs as steward_app inside a transaction scoped to one organization ($1 where used);
-- steward_ingest_rows is the request's temporary staging table (merge.STAGING, filled by COPY).

-- name: deployments
-- What a row's deploymentKey or deploymentId may name.
select id, key from steward.deployments where org_id = $1;

-- name: topics
-- The topics that exist; a valid row naming another one creates it.
select key from steward.topics where org_id = $1;

-- name: create_staging
-- The staging table: valid rows only, each with the body line it came from; dropped at commit at the latest.
create temp table steward_ingest_rows (
    line           bigint not null,
    external_id    text not null,
    deployment_id  bigint not null,
    topic_key      text not null,
    channel        text not null,
    started_at     timestamptz not null,
    ai_engaged     boolean not null,
    outcome        text not null,
    resolved_at    timestamptz,
    reopened_at    timestamptz
) on commit drop;

-- name: analyze_staging
-- Row counts and distinct keys let the planner pick index probes or a hash anti-join for the merge.
analyze steward_ingest_rows;

-- name: create_topics
-- Topics first seen in this request ($2 keys, $3 readable names); one another request created meanwhile stays.
insert into steward.topics (org_id, key, name)
select $1, t.key, t.name from unnest($2::text[], $3::text[]) as t(key, name)
on conflict (org_id, key) do nothing;

-- name: merge
-- One statement (the rollup triggers fire once per kind of change) over steward_ingest_rows: stored
-- conversations that changed are updated, found through steward.conversation_keys in their month's
-- partition (migration 0015), new ones inserted, equal ones untouched. merge.py says why and retries.
with staged as materialized (
    select s.external_id, s.deployment_id, t.id as topic_id, s.channel, s.started_at, s.ai_engaged, s.outcome,
           s.resolved_at, s.reopened_at, k.id, k.started_at as stored_started_at
    from steward_ingest_rows s
    join steward.topics t on t.org_id = $1 and t.key = s.topic_key
    left join steward.conversation_keys k on k.org_id = $1 and k.external_id = s.external_id
), changed as materialized (
    select s.*
    from staged s
    join steward.conversations o on o.org_id = $1 and o.id = s.id and o.started_at = s.stored_started_at
    where (o.deployment_id, o.topic_id, o.channel, o.started_at, o.ai_engaged, o.outcome, o.resolved_at,
           o.reopened_at)
          is distinct from
          (s.deployment_id, s.topic_id, s.channel, s.started_at, s.ai_engaged, s.outcome, s.resolved_at,
           s.reopened_at)
), updated as (
    update steward.conversations c set
        deployment_id = s.deployment_id, topic_id = s.topic_id, channel = s.channel, started_at = s.started_at,
        ai_engaged = s.ai_engaged, outcome = s.outcome, resolved_at = s.resolved_at, reopened_at = s.reopened_at,
        ingested_at = now()
    from changed s
    where c.org_id = $1 and c.id = s.id and c.started_at = s.stored_started_at
      -- a concurrent request may have stored the same values since this statement's snapshot
      and (c.deployment_id, c.topic_id, c.channel, c.started_at, c.ai_engaged, c.outcome, c.resolved_at,
           c.reopened_at)
          is distinct from
          (s.deployment_id, s.topic_id, s.channel, s.started_at, s.ai_engaged, s.outcome, s.resolved_at,
           s.reopened_at)
    returning 1
), inserted as (
    insert into steward.conversations
        (org_id, external_id, deployment_id, topic_id, channel, started_at, ai_engaged, outcome,
         resolved_at, reopened_at)
    select $1, s.external_id, s.deployment_id, s.topic_id, s.channel, s.started_at, s.ai_engaged, s.outcome,
           s.resolved_at, s.reopened_at
    from staged s
    where s.id is null
    returning 1
)
select (select count(*) from inserted) as inserted, (select count(*) from updated) as updated,
       (select count(*) > count(distinct id) from changed) as duplicated;

-- name: drop_superseded
-- Only run when the merge hit the same externalId twice: every occurrence but
-- the last is removed from staging and reported (the first $1 of them).
with last as (
    select external_id, max(line) as line from steward_ingest_rows group by external_id having count(*) > 1
), dropped as (
    delete from steward_ingest_rows s using last
    where s.external_id = last.external_id and s.line < last.line
    returning s.line, last.line as superseded_by
)
-- (at least one row, so the caller learns the total even when it lists no errors)
select count(*) over () as total, line, superseded_by from dropped order by line limit greatest($1, 1);

-- name: staged_deployments
-- The deployments a request wrote to, whose health the new outcomes may change.
select distinct deployment_id from steward_ingest_rows order by deployment_id;

-- name: drop_staging
drop table steward_ingest_rows;

-- name: first_orgs
-- `steward import` without --org: the only organization, or a few names to choose from.
select id, slug from steward.organizations order by slug limit 6;
