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

-- Where each (deployment, topic, channel) was covered: the union of the active periods of the
-- workflows for that topic on that channel. A conversation is addressable when it started inside.
-- One row per key, so a join classifies without multiplying conversations, and a hash join
-- classifies a million rows at once (the facts view and the rollup deltas both read it).
create view internals.coverage with (security_invoker = true) as
select w.org_id, w.deployment_id, w.topic_id, ch.channel, range_agg(p.active) as active
from steward.workflows w
cross join lateral unnest(w.channels) as ch(channel)
join steward.workflow_periods p on p.org_id = w.org_id and p.workflow_id = w.id
group by w.org_id, w.deployment_id, w.topic_id, ch.channel;

-- Reopened within the org's reopen window after resolution (half-open).
-- Compared in seconds: timestamptz + interval '3 days' would follow the
-- session time zone's DST changes and classify differently per session.
-- An infinite instant (only in rows older than migration 0007) is not a
-- reopen, and must not reach the subtraction, which would fail.
create function internals.reopened(outcome text, started_at timestamptz, resolved_at timestamptz,
                                   reopened_at timestamptz, reopen_window interval) returns boolean
language sql stable parallel safe
as $$
    select coalesce(outcome = 'AI_RESOLVED'
                    and case when isfinite(reopened_at) and isfinite(coalesce(resolved_at, started_at))
                             then extract(epoch from reopened_at - coalesce(resolved_at, started_at))
                                  < extract(epoch from reopen_window) end,
                    false)
$$;

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
    coalesce(cov.active @> c.started_at, false) as addressable,
    c.outcome = 'AI_RESOLVED' as ai_outcome,
    internals.reopened(c.outcome, c.started_at, c.resolved_at, c.reopened_at, pol.reopen_window) as reopened
from steward.conversations c
join steward.health_policies pol on pol.org_id = c.org_id
left join internals.coverage cov
       on (cov.org_id, cov.deployment_id, cov.topic_id, cov.channel) = (c.org_id, c.deployment_id, c.topic_id, c.channel);

-- The first day whose conversations are still held: retention (STEWARD_RETENTION_MONTHS,
-- internals.drop_conversation_partitions) dropped the months before it and kept their rollup rows,
-- which no refresh may recompute from conversations that are gone. -infinity: nothing dropped.
create function internals.conversations_kept_from() returns date
language sql stable
as $$ select coalesce((select kept_from from steward.conversation_retention), '-infinity'::date) $$;

-- The (deployment, day range) keys a refresh covers: per deployment, the span
-- from its first to its last given day (p_days[i] pairs with
-- p_deployment_ids[i]), or every day when p_days is null. One range per
-- deployment keeps a bulk load to a few index range scans. Never before
-- conversations_kept_from() (retention).
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

-- Every writer of a deployment's rollup rows (deltas and refreshes) holds this lock
-- until commit, so concurrent writers cannot interleave; taken in id order (no deadlock).
create function internals.lock_rollups(p_deployment_ids bigint[]) returns void
language plpgsql
as $$
declare
    dep bigint;
begin
    for dep in select distinct d from unnest(p_deployment_ids) d where d is not null order by d loop
        perform pg_advisory_xact_lock(hashtextextended('steward.conversation_daily', dep));
    end loop;
end $$;

-- The one statement that adds conversations to both rollups, as text to EXECUTE.
-- `source` is a query yielding the columns of steward.conversations plus `sign`:
-- +1 counts a row in, -1 takes it out (the transition tables of a statement on
-- steward.conversations, or the conversations a refresh recomputes). Rows are
-- classified as internals.conversation_facts does (internals.coverage and
-- internals.reopened), aggregated once per (deployment, day, topic), and added
-- to the stored rows; a row brought to zero conversations is deleted, and a
-- missing one is inserted only when conversations are added to it (a missing
-- row with a negative delta went with its deployment or topic, by cascade).
-- The caller holds internals.lock_rollups on the deployments.
create function internals.rollup_delta_sql(source text) returns text
language sql immutable
as $f$ select format($q$
with changed as (
    select r.org_id, r.deployment_id, (r.started_at at time zone 'UTC')::date as day, r.topic_id, r.sign,
           coalesce(cov.active @> r.started_at, false) as addressable, r.ai_engaged,
           r.outcome = 'AI_RESOLVED' as ai_outcome, r.outcome,
           internals.reopened(r.outcome, r.started_at, r.resolved_at, r.reopened_at, pol.reopen_window) as reopened
    from (%s) r
    join steward.health_policies pol on pol.org_id = r.org_id
    left join internals.coverage cov
           on (cov.org_id, cov.deployment_id, cov.topic_id, cov.channel)
              = (r.org_id, r.deployment_id, r.topic_id, r.channel)
    -- rows older than migration 0007 may lie outside the supported range: no
    -- window reads their days, and rollup days must lie inside it too
    where steward.instant_in_range(r.started_at)
      -- nor the days retention dropped: their rollup rows are kept as they were (a late
      -- conversation of such a day is stored, in the DEFAULT partition, but not counted)
      and r.started_at >= internals.utc(internals.conversations_kept_from())
), per_topic as materialized (
    select org_id, deployment_id, day, topic_id,
           coalesce(sum(sign), 0)::integer as conversations,
           coalesce(sum(sign) filter (where addressable), 0)::integer as addressable,
           coalesce(sum(sign) filter (where ai_engaged), 0)::integer as ai_engaged,
           coalesce(sum(sign) filter (where ai_outcome), 0)::integer as ai_outcomes,
           coalesce(sum(sign) filter (where addressable and ai_outcome and not reopened), 0)::integer as ai_resolved,
           coalesce(sum(sign) filter (where ai_outcome and reopened), 0)::integer as reopened,
           coalesce(sum(sign) filter (where addressable and outcome = 'ESCALATED'), 0)::integer as escalated,
           coalesce(sum(sign) filter (where not addressable and outcome = 'ESCALATED'), 0)::integer
               as unaddressable_escalated
    from changed
    group by org_id, deployment_id, day, topic_id
), topic_delta as materialized (
    select * from per_topic
    where (conversations, addressable, ai_engaged, ai_outcomes, ai_resolved, reopened, escalated,
           unaddressable_escalated) <> (0, 0, 0, 0, 0, 0, 0, 0)
), day_delta as materialized (
    select org_id, deployment_id, day, sum(conversations)::integer as conversations,
           sum(addressable)::integer as addressable, sum(ai_engaged)::integer as ai_engaged,
           sum(ai_outcomes)::integer as ai_outcomes, sum(ai_resolved)::integer as ai_resolved,
           sum(reopened)::integer as reopened, sum(escalated)::integer as escalated
    from topic_delta
    group by org_id, deployment_id, day
    having (sum(conversations), sum(addressable), sum(ai_engaged), sum(ai_outcomes), sum(ai_resolved),
            sum(reopened), sum(escalated)) <> (0, 0, 0, 0, 0, 0, 0)
), topic_emptied as (
    delete from steward.conversation_topic_daily t using topic_delta d
    where (t.org_id, t.deployment_id, t.day, t.topic_id) = (d.org_id, d.deployment_id, d.day, d.topic_id)
      and t.conversations + d.conversations = 0
), topic_updated as (
    update steward.conversation_topic_daily t set
        conversations = t.conversations + d.conversations, addressable = t.addressable + d.addressable,
        ai_engaged = t.ai_engaged + d.ai_engaged, ai_outcomes = t.ai_outcomes + d.ai_outcomes,
        ai_resolved = t.ai_resolved + d.ai_resolved, reopened = t.reopened + d.reopened,
        escalated = t.escalated + d.escalated,
        unaddressable_escalated = t.unaddressable_escalated + d.unaddressable_escalated
    from topic_delta d
    where (t.org_id, t.deployment_id, t.day, t.topic_id) = (d.org_id, d.deployment_id, d.day, d.topic_id)
      and t.conversations + d.conversations <> 0
), topic_inserted as (
    insert into steward.conversation_topic_daily
        (org_id, deployment_id, day, topic_id, conversations, addressable, ai_engaged, ai_outcomes, ai_resolved,
         reopened, escalated, unaddressable_escalated)
    select org_id, deployment_id, day, topic_id, conversations, addressable, ai_engaged, ai_outcomes,
           ai_resolved, reopened, escalated, unaddressable_escalated
    from topic_delta d
    where d.conversations > 0
      and not exists (select 1 from steward.conversation_topic_daily t
                      where (t.org_id, t.deployment_id, t.day, t.topic_id) = (d.org_id, d.deployment_id, d.day, d.topic_id))
), day_emptied as (
    delete from steward.conversation_daily t using day_delta d
    where (t.org_id, t.deployment_id, t.day) = (d.org_id, d.deployment_id, d.day)
      and t.conversations + d.conversations = 0
), day_updated as (
    update steward.conversation_daily t set
        conversations = t.conversations + d.conversations, addressable = t.addressable + d.addressable,
        ai_engaged = t.ai_engaged + d.ai_engaged, ai_outcomes = t.ai_outcomes + d.ai_outcomes,
        ai_resolved = t.ai_resolved + d.ai_resolved, reopened = t.reopened + d.reopened,
        escalated = t.escalated + d.escalated
    from day_delta d
    where (t.org_id, t.deployment_id, t.day) = (d.org_id, d.deployment_id, d.day)
      and t.conversations + d.conversations <> 0
)
insert into steward.conversation_daily
    (org_id, deployment_id, day, conversations, addressable, ai_engaged, ai_outcomes, ai_resolved, reopened, escalated)
select org_id, deployment_id, day, conversations, addressable, ai_engaged, ai_outcomes, ai_resolved, reopened, escalated
from day_delta d
where d.conversations > 0
  and not exists (select 1 from steward.conversation_daily t
                  where (t.org_id, t.deployment_id, t.day) = (d.org_id, d.deployment_id, d.day))
$q$, source) $f$;

-- Recompute the rollup rows of the given deployments: all days, or, with
-- p_days, the span of days paired with each deployment (p_deployment_ids[i]
-- on p_days[i]). Used when coverage or the reopen window changes, and by
-- `steward migrate` when the rules of this file change.
create function internals.refresh_conversation_daily(p_deployment_ids bigint[], p_days date[] default null)
returns void
language plpgsql
as $$
declare
    deps bigint[];
    orgs bigint[];
    nestloop text := current_setting('enable_nestloop');
    mergejoin text := current_setting('enable_mergejoin');
begin
    if coalesce(cardinality(p_deployment_ids), 0) = 0 then
        return;
    end if;
    -- A deployment being deleted in this statement (cascade) has no rollup to
    -- rebuild; inserting one would violate the foreign key.
    deps := array(select d.id from steward.deployments d where d.id = any (p_deployment_ids));
    perform internals.lock_rollups(deps);

    -- the organizations lead every index: name them even where row-level
    -- security would (the owner role, used by bulk loads, bypasses it)
    orgs := array(select distinct d.org_id from steward.deployments d where d.id = any (deps));

    delete from steward.conversation_daily cd
    using internals.rollup_keys(p_deployment_ids, p_days) k
    where cd.org_id = any (orgs) and cd.deployment_id = k.deployment_id and cd.day >= k.lo and cd.day < k.hi;
    delete from steward.conversation_topic_daily td
    using internals.rollup_keys(p_deployment_ids, p_days) k
    where td.org_id = any (orgs) and td.deployment_id = k.deployment_id and td.day >= k.lo and td.day < k.hi;

    -- the emptied ranges filled again: one index range scan per key (`offset 0`
    -- keeps the subquery from being flattened into a join over all of an org's conversations).
    -- The planner cannot size what the keys yield (it guesses a few rows per deployment, a
    -- whole history is thousands): it would then merge the coverage join on org_id alone and
    -- check each new rollup row against the table with a sequential scan, which re-reads the
    -- rows this very statement inserts (quadratic: a refresh of 1 M conversations did not end
    -- in minutes). Hash joins are right at any size here; the lateral scans stay nested loops.
    perform set_config('enable_nestloop', 'off', true), set_config('enable_mergejoin', 'off', true);
    execute internals.rollup_delta_sql($q$
        select 1 as sign, c.*
        from internals.rollup_keys($1, $2) k
        cross join lateral (
            select * from steward.conversations c
            where c.org_id = any ($3) and c.deployment_id = k.deployment_id
              -- date + 1, not timestamptz + interval '1 day': the latter is 23 or 25 hours
              -- across a DST change of the session time zone and would cut a UTC day short
              and c.started_at >= internals.utc(k.lo) and c.started_at < internals.utc(k.hi)
            offset 0
        ) c
        where k.deployment_id = any ($4)
    $q$) using p_deployment_ids, p_days, orgs, deps;
    perform set_config('enable_nestloop', nestloop, true), set_config('enable_mergejoin', mergejoin, true);
end $$;

-- A statement on steward.conversations adds its rows' delta to the rollups, read
-- once from its transition tables: inserted rows in, deleted rows out, an update
-- takes the old versions out and puts the new ones in. The conversations already
-- stored are not read again.
create function internals.conversations_changed() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'INSERT' then
        perform internals.lock_rollups(array(select distinct deployment_id from new_rows));
        execute internals.rollup_delta_sql('select 1 as sign, * from new_rows');
    elsif tg_op = 'DELETE' then
        perform internals.lock_rollups(array(select distinct deployment_id from old_rows));
        execute internals.rollup_delta_sql('select -1 as sign, * from old_rows');
    else
        perform internals.lock_rollups(array(select deployment_id from new_rows
                                             union select deployment_id from old_rows));
        execute internals.rollup_delta_sql('select 1 as sign, * from new_rows union all select -1, * from old_rows');
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
