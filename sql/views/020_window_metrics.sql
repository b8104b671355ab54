-- Window metrics: one row per deployment for a half-open UTC date window
-- [p_from, p_to). The API's Deployment.metrics and weekly series and the BI
-- views all read this function; it is the only place the rates are defined.
-- Metric functions have SQL-standard bodies (begin atomic): their names are
-- resolved when they are created, so bi_reader, which has no usage on the
-- steward and internals schemas, can still run them (grants in 040).
create type metrics.window_metrics as (
    deployment_id              bigint,
    org_id                     bigint,
    window_from                date,
    window_to                  date,
    reopen_window_hours        integer,
    conversations              bigint,
    addressable                bigint,
    unaddressable              bigint,
    ai_engaged                 bigint,
    ai_outcomes                bigint,
    ai_resolved                bigint,
    reopened                   bigint,
    escalated                  bigint,
    topic_coverage             double precision,
    addressable_resolution_rate double precision,
    reopen_rate                double precision,
    automation_rate            double precision,
    escalation_rate            double precision,
    workflow_updates           bigint,
    peak_week_updates          bigint,
    days_since_last_update     integer,
    reviews                    bigint,
    weeks_reviewed             double precision,
    days_since_last_review     integer,
    ownership_gap_days         numeric,
    -- what the two day counts count from (the API tells "none ever" from "not computable")
    last_update_at             timestamptz,
    last_review_at             timestamptz,
    counted_reviews            bigint
);

create function metrics.deployment_window(p_deployment_ids bigint[], p_from date, p_to date)
returns setof metrics.window_metrics
language sql stable
begin atomic
    select
        d.id,
        d.org_id,
        p_from,
        p_to,
        (extract(epoch from pol.reopen_window) / 3600)::integer,
        c.conversations,
        c.addressable,
        c.conversations - c.addressable,
        c.ai_engaged,
        c.ai_outcomes,
        c.ai_resolved,
        c.reopened,
        c.escalated,
        internals.ratio(c.addressable, c.conversations),
        internals.ratio(c.ai_resolved, c.addressable),
        internals.ratio(c.reopened, c.ai_outcomes),
        internals.ratio(c.ai_resolved, c.conversations),
        internals.ratio(c.escalated, c.addressable),
        coalesce(u.updates, 0),
        coalesce(u.peak_week, 0),
        internals.whole_days(lu.last_at, a.as_of),
        coalesce(r.reviews, 0),
        coalesce(r.weeks_with_review, 0)::double precision / ceil((p_to - p_from) / 7.0),
        internals.whole_days(lr.last_at, a.as_of),
        g.gap_days,
        lu.last_at,
        lr.last_at,
        coalesce(r.counted_reviews, 0)
    from steward.deployments d
    join steward.health_policies pol on pol.org_id = d.org_id
    cross join lateral (
        select least(internals.utc(p_to), steward.clock()) as as_of
    ) a
    cross join lateral (
        select coalesce(sum(cd.conversations), 0)::bigint as conversations,
               coalesce(sum(cd.addressable), 0)::bigint as addressable,
               coalesce(sum(cd.ai_engaged), 0)::bigint as ai_engaged,
               coalesce(sum(cd.ai_outcomes), 0)::bigint as ai_outcomes,
               coalesce(sum(cd.ai_resolved), 0)::bigint as ai_resolved,
               coalesce(sum(cd.reopened), 0)::bigint as reopened,
               coalesce(sum(cd.escalated), 0)::bigint as escalated
        from steward.conversation_daily cd
        where cd.org_id = d.org_id and cd.deployment_id = d.id and cd.day >= p_from and cd.day < p_to
    ) c
    left join lateral (
        -- peak week: the most updates in any 7 consecutive days inside the window
        select sum(n)::bigint as updates, max(week)::bigint as peak_week
        from (
            select n, sum(n) over (order by day range between current row and interval '6 days' following) as week
            from (
                select (wu.occurred_at at time zone 'UTC')::date as day, count(*) as n
                from steward.workflow_updates wu
                where wu.org_id = d.org_id and wu.deployment_id = d.id
                  and wu.occurred_at >= internals.utc(p_from) and wu.occurred_at < internals.utc(p_to)
                group by 1
            ) per_day
        ) sliding
    ) u on true
    left join lateral (
        select max(wu.occurred_at) as last_at
        from steward.workflow_updates wu
        where wu.org_id = d.org_id and wu.deployment_id = d.id and wu.occurred_at < a.as_of
    ) lu on true
    left join lateral (
        -- every review is counted in `reviews`; weeks reviewed and the last review read only
        -- those that count under the policy (metrics.reviews, sql/views/015_reviews.sql)
        select count(*) as reviews,
               count(*) filter (where pr.counted) as counted_reviews,
               count(distinct ((pr.reviewed_at at time zone 'UTC')::date - p_from) / 7)
                   filter (where pr.counted) as weeks_with_review
        from metrics.reviews pr
        where pr.org_id = d.org_id and pr.deployment_id = d.id
          and pr.reviewed_at >= internals.utc(p_from) and pr.reviewed_at < internals.utc(p_to)
    ) r on true
    left join lateral (
        select max(pr.reviewed_at) as last_at
        from metrics.reviews pr
        where pr.org_id = d.org_id and pr.deployment_id = d.id and pr.reviewed_at < a.as_of and pr.counted
    ) lr on true
    cross join lateral (
        -- unowned time inside the part of the window the deployment was live
        -- (from launch, until now), in days; owner periods never overlap
        select round(coalesce(extract(epoch from (upper(span) - lower(span)))
                              - coalesce((select sum(extract(epoch from (upper(x) - lower(x))))
                                          from (select oa.valid * span as x
                                                from steward.ownership_assignments oa
                                                where oa.org_id = d.org_id and oa.deployment_id = d.id
                                                  and oa.valid && span) o), 0), 0) / 86400, 2) as gap_days
        from (
            select case when greatest(internals.utc(p_from), d.launched_at) < least(internals.utc(p_to), steward.clock())
                        then tstzrange(greatest(internals.utc(p_from), d.launched_at),
                                       least(internals.utc(p_to), steward.clock()))
                        else 'empty'::tstzrange end as span
        ) s
    ) g
    where d.id = any (p_deployment_ids) and p_from < p_to;
end;

-- ISO weeks (Monday starts, UTC) intersecting [p_from, p_to), each measured
-- over its whole week (window_from .. window_to), for charts.
create function metrics.deployment_weeks(p_deployment_ids bigint[], p_from date, p_to date)
returns setof metrics.window_metrics
language sql stable
begin atomic
    select m.*
    from generate_series(date_trunc('week', p_from::timestamp), p_to::timestamp - interval '1 day', interval '7 days') wk
    cross join lateral metrics.deployment_window(p_deployment_ids, wk::date, wk::date + 7) m
    where p_from < p_to
    order by m.deployment_id, m.window_from;
end;
