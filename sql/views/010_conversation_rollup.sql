-- Per-conversation classification and the daily rollup that the metric
-- functions read. This file is the single definition of "addressable",
-- "AI resolved" and "reopened"; everything else aggregates these flags.

-- UTC midnight of a date, whatever the session time zone.
create function internals.utc(d date) returns timestamptz
language sql immutable parallel safe
as $$ select d::timestamp at time zone 'UTC' $$;

create function internals.ratio(num numeric, den numeric) returns double precision
language sql immutable parallel safe
as $$ select (num / nullif(den, 0))::double precision $$;

-- Whole days from p_from to p_to; null when either is ±infinity. Only a row from
-- before the range constraints (sql/migrations/0007) can hold one; subtracting
-- it would fail the whole statement, and with it every deployment it covers.
create function internals.whole_days(p_from timestamptz, p_to timestamptz) returns integer
language sql stable parallel safe
as $$ select case when isfinite(p_from) and isfinite(p_to)
                  then floor((extract(epoch from p_to) - extract(epoch from p_from)) / 86400)::integer end $$;

create view internals.conversation_facts with (security_invoker = true) as
select
    c.org_id,
    c.deployment_id,
    c.id as conversation_id,
    c.topic_id,
    c.channel,
    c.started_at,
    (c.started_at at time zone 'UTC')::date as day,
    c.ai_engaged,
    c.outcome,
    -- the AI was set up to answer: a workflow for this topic covered the
    -- channel at the instant the conversation started
    cov.covered is not null as addressable,
    c.outcome = 'AI_RESOLVED' as ai_outcome,
    -- reopened within the org's reopen window after resolution (half-open).
    -- Compared in seconds: timestamptz + interval '3 days' would follow the
    -- session time zone's DST changes and classify differently per session.
    -- An infinite instant (only in rows older than migration 0007) is not a
    -- reopen, and must not reach the subtraction, which would fail.
    coalesce(c.outcome = 'AI_RESOLVED'
             and case when isfinite(c.reopened_at) and isfinite(coalesce(c.resolved_at, c.started_at))
                      then extract(epoch from c.reopened_at - coalesce(c.resolved_at, c.started_at))
                           < extract(epoch from pol.reopen_window) end,
             false) as reopened
from steward.conversations c
join steward.health_policies pol on pol.org_id = c.org_id
-- a lateral join, not exists() in the select list: the flag is used several
-- times per row by the aggregates, and a subplan there would run each time
left join lateral (
    select true as covered
    from steward.workflows w
    join steward.workflow_periods p on p.org_id = w.org_id and p.workflow_id = w.id
    where w.org_id = c.org_id and w.deployment_id = c.deployment_id and w.topic_id = c.topic_id
      and c.channel = any (w.channels) and p.active @> c.started_at
    limit 1
) cov on true;

-- The first day whose conversations are still held: retention (STEWARD_RETENTION_MONTHS,
-- internals.drop_conversation_partitions) dropped the months before it and kept their rollup rows,
-- which no refresh may recompute from conversations that are gone. -infinity: nothing dropped.
create function internals.conversations_kept_from() returns date
language sql stable
as $$ select coalesce((select kept_from from steward.conversation_retention), '-infinity'::date) $$;

-- The (deployment, day range) keys a refresh covers: per deployment, the span
-- from its first to its last given day (p_days[i] pairs with
-- p_deployment_ids[i]), or every day when p_days is null. One range per
-- deployment keeps a bulk load to a few index range scans, and a small change
-- to the days around it. Never before conversations_kept_from() (retention).
create function internals.rollup_keys(p_deployment_ids bigint[], p_days date[])
returns table (deployment_id bigint, lo date, hi date)
language sql stable
as $$
    select k.dep, greatest(min(k.day), internals.conversations_kept_from()), max(k.day) + 1
    from unnest(p_deployment_ids, p_days) k(dep, day)
    where p_days is not null
    group by k.dep
    union all
    select distinct dep, internals.conversations_kept_from(), 'infinity'::date
    from unnest(p_deployment_ids) dep where p_days is null
$$;

-- Recompute the rollup rows of the given deployments: all days, or, with
-- p_days, the span of days paired with each deployment (p_deployment_ids[i]
-- on p_days[i]), so a change recomputes around what it changed.
-- Serialised per deployment so concurrent writers cannot interleave.
create function internals.refresh_conversation_daily(p_deployment_ids bigint[], p_days date[] default null)
returns void
language plpgsql
as $$
declare
    dep bigint;
    orgs bigint[];
begin
    if coalesce(cardinality(p_deployment_ids), 0) = 0 then
        return;
    end if;
    -- A deployment being deleted in this statement (cascade) has no rollup to
    -- rebuild; inserting one would violate the foreign key.
    for dep in
        select distinct d.id from steward.deployments d where d.id = any (p_deployment_ids) order by d.id
    loop
        perform pg_advisory_xact_lock(hashtextextended('steward.conversation_daily', dep));
    end loop;

    -- the organizations lead every index: name them even where row-level
    -- security would (the owner role, used by bulk loads, bypasses it)
    orgs := array(select distinct d.org_id from steward.deployments d where d.id = any (p_deployment_ids));

    delete from steward.conversation_daily cd
    using internals.rollup_keys(p_deployment_ids, p_days) k
    where cd.org_id = any (orgs) and cd.deployment_id = k.deployment_id and cd.day >= k.lo and cd.day < k.hi;
    delete from steward.conversation_topic_daily td
    using internals.rollup_keys(p_deployment_ids, p_days) k
    where td.org_id = any (orgs) and td.deployment_id = k.deployment_id and td.day >= k.lo and td.day < k.hi;

    -- one pass over the conversations: per topic, then summed per day
    with per_topic as materialized (
        select f.org_id, f.deployment_id, f.day, f.topic_id,
               count(*) as conversations,
               count(*) filter (where f.addressable) as addressable,
               count(*) filter (where f.ai_engaged) as ai_engaged,
               count(*) filter (where f.ai_outcome) as ai_outcomes,
               count(*) filter (where f.addressable and f.ai_outcome and not f.reopened) as ai_resolved,
               count(*) filter (where f.ai_outcome and f.reopened) as reopened,
               count(*) filter (where f.addressable and f.outcome = 'ESCALATED') as escalated,
               count(*) filter (where not f.addressable and f.outcome = 'ESCALATED') as unaddressable_escalated
        from internals.rollup_keys(p_deployment_ids, p_days) k
        -- one index range scan per key: `offset 0` keeps the subquery from being
        -- flattened into a join that would classify all of an org's conversations
        cross join lateral (
            select * from internals.conversation_facts c
            where c.org_id = any (orgs) and c.deployment_id = k.deployment_id
              -- date + 1, not timestamptz + interval '1 day': the latter is 23 or 25 hours
              -- across a DST change of the session time zone and would cut a UTC day short
              and c.started_at >= internals.utc(k.lo) and c.started_at < internals.utc(k.hi)
              -- rows older than migration 0007 may lie outside the supported range: no
              -- window reads their days, and rollup days must lie inside it too
              and steward.instant_in_range(c.started_at)
            offset 0
        ) f
        group by f.org_id, f.deployment_id, f.day, f.topic_id
    ),
    topics as (
        insert into steward.conversation_topic_daily
        select org_id, deployment_id, day, topic_id, conversations, addressable, ai_engaged, ai_outcomes,
               ai_resolved, reopened, escalated, unaddressable_escalated
        from per_topic
    )
    insert into steward.conversation_daily
        (org_id, deployment_id, day, conversations, addressable, ai_engaged, ai_outcomes, ai_resolved, reopened, escalated)
    select org_id, deployment_id, day, sum(conversations), sum(addressable), sum(ai_engaged), sum(ai_outcomes),
           sum(ai_resolved), sum(reopened), sum(escalated)
    from per_topic
    group by org_id, deployment_id, day;
end $$;

create function internals.conversations_changed() returns trigger
language plpgsql
as $$
declare
    deps bigint[];
    days date[];
begin
    -- the distinct (deployment, UTC day) pairs the statement touched
    if tg_op = 'INSERT' then
        select array_agg(deployment_id), array_agg(day) into deps, days
          from (select distinct deployment_id, (started_at at time zone 'UTC')::date as day from new_rows) k;
    elsif tg_op = 'DELETE' then
        select array_agg(deployment_id), array_agg(day) into deps, days
          from (select distinct deployment_id, (started_at at time zone 'UTC')::date as day from old_rows) k;
    else
        select array_agg(deployment_id), array_agg(day) into deps, days
          from (select deployment_id, (started_at at time zone 'UTC')::date as day from new_rows
                union
                select deployment_id, (started_at at time zone 'UTC')::date from old_rows) k;
    end if;
    if deps is not null then
        perform internals.refresh_conversation_daily(deps, days);
    end if;
    return null;
end $$;

create trigger conversations_rollup_insert after insert on steward.conversations
    referencing new table as new_rows for each statement execute function internals.conversations_changed();
create trigger conversations_rollup_update after update on steward.conversations
    referencing old table as old_rows new table as new_rows
    for each statement execute function internals.conversations_changed();
create trigger conversations_rollup_delete after delete on steward.conversations
    referencing old table as old_rows for each statement execute function internals.conversations_changed();

-- Coverage changed: every day of the affected deployments may change.
create function internals.coverage_changed() returns trigger
language plpgsql
as $$
declare
    deps bigint[];
begin
    if tg_table_name = 'workflow_periods' then
        if tg_op in ('INSERT', 'UPDATE') then
            deps := (select array_agg(distinct w.deployment_id) from steward.workflows w
                     where w.id in (select workflow_id from new_rows));
        end if;
        if tg_op in ('DELETE', 'UPDATE') then
            deps := deps || (select array_agg(distinct w.deployment_id) from steward.workflows w
                             where w.id in (select workflow_id from old_rows));
        end if;
    else
        if tg_op in ('INSERT', 'UPDATE') then
            deps := (select array_agg(distinct deployment_id) from new_rows);
        end if;
        if tg_op in ('DELETE', 'UPDATE') then
            deps := deps || (select array_agg(distinct deployment_id) from old_rows);
        end if;
    end if;
    if deps is not null and cardinality(deps) > 0 then
        perform internals.refresh_conversation_daily(deps);
    end if;
    return null;
end $$;

create trigger workflow_periods_rollup_insert after insert on steward.workflow_periods
    referencing new table as new_rows for each statement execute function internals.coverage_changed();
create trigger workflow_periods_rollup_update after update on steward.workflow_periods
    referencing old table as old_rows new table as new_rows
    for each statement execute function internals.coverage_changed();
create trigger workflow_periods_rollup_delete after delete on steward.workflow_periods
    referencing old table as old_rows for each statement execute function internals.coverage_changed();
create trigger workflows_rollup_update after update on steward.workflows
    referencing old table as old_rows new table as new_rows
    for each statement execute function internals.coverage_changed();
-- Deleting a workflow cascades to its periods, but by the time their trigger
-- runs the workflow row (and with it the deployment id) is gone: refresh here.
create trigger workflows_rollup_delete after delete on steward.workflows
    referencing old table as old_rows for each statement execute function internals.coverage_changed();

-- A new reopen window reclassifies every conversation of the organization.
create function internals.policy_changed() returns trigger
language plpgsql
as $$
declare
    deps bigint[];
begin
    select array_agg(d.id) into deps
    from steward.deployments d
    join new_rows n on n.org_id = d.org_id
    join old_rows o on o.org_id = n.org_id
    where n.reopen_window <> o.reopen_window;
    if deps is not null then
        perform internals.refresh_conversation_daily(deps);
    end if;
    return null;
end $$;

create trigger health_policies_rollup after update on steward.health_policies
    referencing old table as old_rows new table as new_rows
    for each statement execute function internals.policy_changed();
