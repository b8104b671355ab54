-- Ownership gaps: each span of a deployment's life without an accountable owner,
-- with its results before and during the span and what it cost.
--
-- Spans. An owner is accountable over their ownership period, cut short where the
-- person was deactivated (a period left open by a departure ends there). The gaps
-- are [launched_at, ∞) minus those periods: one from launch when nobody owned the
-- deployment at first, one from the end of each period that no other period
-- continues. A gap that starts after now is not listed; a gap not closed by now
-- (or closed only by a period that starts later) is open: ended_at is null.
--
-- Days. The rollups count UTC days, periods run between instants. A UTC day
-- belongs to whoever was accountable at its 00:00 UTC, and the launch day (live
-- only after its midnight) to whoever was accountable at launch: the gap's days
-- are those whose midnight lies in [started_at, ended_at), plus the launch day
-- for a gap from launch. The day an owner leaves at 16:30 is theirs; the day a
-- new owner starts at 09:30 is still the gap's. Every day belongs to one side
-- only, and a gap that spans no midnight (and not the launch) has no days.
--   baseline: the 28 days before the gap's first day;
--   during:   the gap's days up to today (today included, as in every "so far");
--   latest:   the last 28 days of `during` (fewer when the gap is shorter).
-- Resolutions lost: (baseline ARR - during ARR) × during addressable, that is the
-- AI resolutions the baseline rate would have given on the gap's addressable
-- conversations minus those it got, floored at 0; null without a baseline ARR.
-- Estimated cost: each lost resolution is priced as one conversation handed to a
-- person, at the escalation cost of the gap's addressable conversations' topics,
-- weighted by their volume: sum(addressable × topic cost) / sum(addressable) over
-- the gap's days (the topics' current escalation cost).

-- The first UTC day of a span of accountability (or of none) that starts at
-- p_start: the first day whose 00:00 is at or after p_start, or the launch day
-- when the span starts at or before launch. Null for an infinite instant (only
-- rows older than migration 0007 hold one): date arithmetic on it would fail.
create function internals.first_day_from(p_start timestamptz, p_launched_at timestamptz) returns date
language sql immutable parallel safe
as $$
    select case when not isfinite(p_start) then null
                when p_start <= p_launched_at then
                    case when isfinite(p_launched_at) then (p_launched_at at time zone 'UTC')::date end
                else (p_start at time zone 'UTC')::date
                     + case when (p_start at time zone 'UTC')::time = '00:00' then 0 else 1 end end
$$;

create function metrics.ownership_gaps(p_deployment_ids bigint[])
returns table (
    org_id                      bigint,
    deployment_id               bigint,
    started_at                  timestamptz,
    ended_at                    timestamptz,
    is_open                     boolean,
    duration_days               numeric,
    previous_assignment_id      bigint,
    previous_person_id          bigint,
    previous_person_name        text,
    baseline_from               date,
    baseline_to                 date,
    baseline_conversations      bigint,
    baseline_addressable        bigint,
    baseline_ai_resolved        bigint,
    baseline_ai_outcomes        bigint,
    baseline_reopened           bigint,
    baseline_arr                double precision,
    baseline_reopen_rate        double precision,
    baseline_topic_coverage     double precision,
    during_from                 date,
    during_to                   date,
    during_conversations        bigint,
    during_addressable          bigint,
    during_ai_resolved          bigint,
    during_ai_outcomes          bigint,
    during_reopened             bigint,
    during_arr                  double precision,
    during_reopen_rate          double precision,
    during_topic_coverage       double precision,
    latest_from                 date,
    latest_to                   date,
    latest_conversations        bigint,
    latest_addressable          bigint,
    latest_ai_resolved          bigint,
    latest_ai_outcomes          bigint,
    latest_reopened             bigint,
    latest_arr                  double precision,
    latest_reopen_rate          double precision,
    latest_topic_coverage       double precision,
    arr_change_points           double precision,
    resolutions_lost            double precision,
    escalation_cost_per_resolution numeric,
    estimated_cost              numeric
)
language sql stable
begin atomic
    with spans as (
        select d.org_id, d.id as deployment_id, d.launched_at, g.span
        from steward.deployments d
        cross join lateral unnest(
            tstzmultirange(tstzrange(d.launched_at, null))
            - coalesce((select range_agg(oa.valid * tstzrange(null, p.deactivated_at))
                        from steward.ownership_assignments oa
                        join steward.persons p on p.org_id = oa.org_id and p.id = oa.person_id
                        where oa.org_id = d.org_id and oa.deployment_id = d.id),
                       '{}'::tstzmultirange)
        ) g(span)
        -- a gap from a launch at -infinity (a row older than migration 0007) has no
        -- days to measure: left out rather than failing every deployment asked for
        where d.id = any (p_deployment_ids) and lower(g.span) <= (select steward.clock()) and isfinite(lower(g.span))
    ),
    windows as (
        select s.org_id, s.deployment_id, b.now, b.started_at, b.ended_at, b.first_day,
               b.first_day - 28 as baseline_from, b.during_to,
               greatest(b.first_day, b.during_to - 28) as latest_from
        from spans s
        -- bounds computed once per gap (`offset 0` keeps them from being inlined into
        -- every row the aggregates below filter)
        cross join lateral (
            select c.now, lower(s.span) as started_at,
                   case when c.open then null else upper(s.span) end as ended_at,
                   internals.first_day_from(lower(s.span), s.launched_at) as first_day,
                   -- the day after the gap so far: the day after today while it is open
                   greatest(internals.first_day_from(lower(s.span), s.launched_at),
                            case when c.open then c.today + 1
                                 else least(internals.first_day_from(upper(s.span), s.launched_at), c.today + 1)
                            end) as during_to
            from (select (select steward.clock()) as now,
                         (select (steward.clock() at time zone 'UTC')::date) as today,
                         upper_inf(s.span) or upper(s.span) > (select steward.clock()) as open) c
            offset 0
        ) b
    )
    select
        w.org_id,
        w.deployment_id,
        w.started_at,
        w.ended_at,
        w.ended_at is null,
        round(extract(epoch from (coalesce(w.ended_at, w.now) - w.started_at)) / 86400, 2),
        prev.id,
        prev.person_id,
        prev.name,
        w.baseline_from, w.first_day,
        f.b_conversations, f.b_addressable, f.b_ai_resolved, f.b_ai_outcomes, f.b_reopened,
        internals.ratio(f.b_ai_resolved, f.b_addressable),
        internals.ratio(f.b_reopened, f.b_ai_outcomes),
        internals.ratio(f.b_addressable, f.b_conversations),
        w.first_day, w.during_to,
        f.d_conversations, f.d_addressable, f.d_ai_resolved, f.d_ai_outcomes, f.d_reopened,
        internals.ratio(f.d_ai_resolved, f.d_addressable),
        internals.ratio(f.d_reopened, f.d_ai_outcomes),
        internals.ratio(f.d_addressable, f.d_conversations),
        w.latest_from, w.during_to,
        f.l_conversations, f.l_addressable, f.l_ai_resolved, f.l_ai_outcomes, f.l_reopened,
        internals.ratio(f.l_ai_resolved, f.l_addressable),
        internals.ratio(f.l_reopened, f.l_ai_outcomes),
        internals.ratio(f.l_addressable, f.l_conversations),
        (internals.ratio(f.d_ai_resolved, f.d_addressable) - internals.ratio(f.b_ai_resolved, f.b_addressable)) * 100,
        lost.resolutions,
        cost.per_resolution,
        round(lost.resolutions::numeric * coalesce(cost.per_resolution, 0), 2)
    from windows w
    left join lateral (
        -- the period that ended where the gap starts (none for a gap from launch)
        select oa.id, oa.person_id, p.name
        from steward.ownership_assignments oa
        join steward.persons p on p.org_id = oa.org_id and p.id = oa.person_id
        where oa.org_id = w.org_id and oa.deployment_id = w.deployment_id
          and upper(oa.valid * tstzrange(null, p.deactivated_at)) = w.started_at
        limit 1
    ) prev on true
    cross join lateral (
        -- baseline, during and latest in one range scan of the daily rollup
        select coalesce(sum(cd.conversations) filter (where cd.day < w.first_day), 0)::bigint as b_conversations,
               coalesce(sum(cd.addressable) filter (where cd.day < w.first_day), 0)::bigint as b_addressable,
               coalesce(sum(cd.ai_resolved) filter (where cd.day < w.first_day), 0)::bigint as b_ai_resolved,
               coalesce(sum(cd.ai_outcomes) filter (where cd.day < w.first_day), 0)::bigint as b_ai_outcomes,
               coalesce(sum(cd.reopened) filter (where cd.day < w.first_day), 0)::bigint as b_reopened,
               coalesce(sum(cd.conversations) filter (where cd.day >= w.first_day), 0)::bigint as d_conversations,
               coalesce(sum(cd.addressable) filter (where cd.day >= w.first_day), 0)::bigint as d_addressable,
               coalesce(sum(cd.ai_resolved) filter (where cd.day >= w.first_day), 0)::bigint as d_ai_resolved,
               coalesce(sum(cd.ai_outcomes) filter (where cd.day >= w.first_day), 0)::bigint as d_ai_outcomes,
               coalesce(sum(cd.reopened) filter (where cd.day >= w.first_day), 0)::bigint as d_reopened,
               coalesce(sum(cd.conversations) filter (where cd.day >= w.latest_from), 0)::bigint as l_conversations,
               coalesce(sum(cd.addressable) filter (where cd.day >= w.latest_from), 0)::bigint as l_addressable,
               coalesce(sum(cd.ai_resolved) filter (where cd.day >= w.latest_from), 0)::bigint as l_ai_resolved,
               coalesce(sum(cd.ai_outcomes) filter (where cd.day >= w.latest_from), 0)::bigint as l_ai_outcomes,
               coalesce(sum(cd.reopened) filter (where cd.day >= w.latest_from), 0)::bigint as l_reopened
        from steward.conversation_daily cd
        where cd.org_id = w.org_id and cd.deployment_id = w.deployment_id
          and cd.day >= w.baseline_from and cd.day < w.during_to
    ) f
    cross join lateral (
        -- baseline ARR × during addressable - during AI resolved, floored at 0
        select case when f.b_addressable > 0
                    then greatest(0, f.b_ai_resolved::double precision * f.d_addressable / f.b_addressable
                                     - f.d_ai_resolved) end as resolutions
    ) lost
    left join lateral (
        select round(sum(per_topic.addressable * t.escalation_cost) / nullif(sum(per_topic.addressable), 0), 4)
                   as per_resolution
        from (
            select td.topic_id, sum(td.addressable) as addressable
            from steward.conversation_topic_daily td
            where td.org_id = w.org_id and td.deployment_id = w.deployment_id
              and td.day >= w.first_day and td.day < w.during_to
            group by td.topic_id
        ) per_topic
        join steward.topics t on t.org_id = w.org_id and t.id = per_topic.topic_id
    ) cost on true
    order by w.deployment_id, w.started_at desc;
end;

comment on function internals.first_day_from(timestamptz, timestamptz) is
    'First UTC day of a span starting at p_start: a day belongs to whoever held it at 00:00 UTC (the launch day: at launch).';
comment on function metrics.ownership_gaps(bigint[]) is
    'Every span of the given deployments without an accountable owner (from launch, or from the end of an owner''s '
    'period), newest first per deployment: baseline (28 days before), during (so far) and latest (its last 28 days) '
    'ARR, reopen rate and coverage with their counts; ARR change in points; resolutions lost and their estimated '
    'escalation cost. UTC days belong to whoever was accountable at 00:00 UTC.';

-- Every deployment's gaps, for BI tools.
create view metrics.ownership_gaps with (security_invoker = true) as
select g.* from metrics.ownership_gaps(array(select id from steward.deployments)) g;
comment on view metrics.ownership_gaps is
    'Every ownership gap of every deployment, with its baseline, its figures so far, resolutions lost and their cost.';
