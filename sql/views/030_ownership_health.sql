-- Owners and health: who is accountable now, and whether the owner's work shows.

create view metrics.current_owners with (security_invoker = true) as
select
    oa.org_id,
    oa.deployment_id,
    oa.id as assignment_id,
    oa.person_id,
    p.name as person_name,
    p.function as person_function,
    p.fte_on_ai,
    p.active as person_active,
    lower(oa.valid) as owner_since,
    floor(extract(epoch from (steward.clock() - lower(oa.valid))) / 86400)::integer as tenure_days
from steward.ownership_assignments oa
join steward.persons p on p.org_id = oa.org_id and p.id = oa.person_id
where oa.valid @> steward.clock();

create view metrics.ownership_periods with (security_invoker = true) as
select
    oa.org_id,
    oa.deployment_id,
    oa.id as assignment_id,
    oa.person_id,
    lower(oa.valid) as valid_from,
    case when upper_inf(oa.valid) then null else upper(oa.valid) end as valid_to,
    oa.valid @> steward.clock() as is_current,
    oa.assigned_by,
    oa.reason,
    oa.ended_reason
from steward.ownership_assignments oa;

-- One status per deployment, with every reason that applies. Status is the
-- most severe reason: UNOWNED > STALE > AT_RISK > HEALTHY.
-- Day limits are counted in 24-hour days: interval 'N days' would follow the
-- session time zone's DST changes.
create view metrics.deployment_health with (security_invoker = true) as
with base as (
    select
        d.org_id,
        d.id as deployment_id,
        pol.stale_update_days, pol.stale_review_days, pol.review_due_days, pol.min_owner_fte, pol.arr_drop_points,
        o.person_id,
        o.person_active,
        o.person_function,
        o.fte_on_ai,
        steward.clock() as as_of,
        (select max(wu.occurred_at) from steward.workflow_updates wu
          where wu.org_id = d.org_id and wu.deployment_id = d.id and wu.occurred_at <= steward.clock()) as last_update_at,
        (select max(pr.reviewed_at) from steward.performance_reviews pr
          where pr.org_id = d.org_id and pr.deployment_id = d.id and pr.reviewed_at <= steward.clock()) as last_review_at,
        (select m.addressable_resolution_rate
           from metrics.deployment_window(array[d.id], (steward.clock() at time zone 'UTC')::date - 27,
                                          (steward.clock() at time zone 'UTC')::date + 1) m) as arr_recent,
        (select m.addressable_resolution_rate
           from metrics.deployment_window(array[d.id], (steward.clock() at time zone 'UTC')::date - 55,
                                          (steward.clock() at time zone 'UTC')::date - 27) m) as arr_previous
    from steward.deployments d
    join steward.health_policies pol on pol.org_id = d.org_id
    left join metrics.current_owners o on o.org_id = d.org_id and o.deployment_id = d.id
),
reasons as (
    select b.org_id, b.deployment_id, r.severity, r.code, r.message
    from base b
    cross join lateral (values
        (3, 'NO_OWNER', 'No accountable owner is assigned.', b.person_id is null),
        (3, 'OWNER_INACTIVE', 'The accountable owner has been deactivated.', b.person_id is not null and not b.person_active),
        (2, 'NO_RECENT_UPDATE',
            case when b.last_update_at is null then 'No workflow update has ever been recorded.'
                 else format('No workflow update for %s days (limit %s).',
                             floor(extract(epoch from (b.as_of - b.last_update_at)) / 86400), b.stale_update_days) end,
            b.last_update_at is null or b.last_update_at < b.as_of - make_interval(hours => 24 * b.stale_update_days)),
        (2, 'NO_RECENT_REVIEW',
            case when b.last_review_at is null then 'No performance review has ever been recorded.'
                 else format('No performance review for %s days (limit %s).',
                             floor(extract(epoch from (b.as_of - b.last_review_at)) / 86400), b.stale_review_days) end,
            b.last_review_at is null or b.last_review_at < b.as_of - make_interval(hours => 24 * b.stale_review_days)),
        (1, 'OWNER_OUTSIDE_CX', format('The owner works in %s, not in CX.', b.person_function),
            b.person_id is not null and b.person_active and b.person_function <> 'CX'),
        (1, 'OWNER_LOW_FTE', format('The owner spends %s FTE on AI (minimum %s).', b.fte_on_ai, b.min_owner_fte),
            b.person_id is not null and b.person_active and b.fte_on_ai < b.min_owner_fte),
        (1, 'REVIEW_OVERDUE', format('No performance review in the last %s days.', b.review_due_days),
            b.last_review_at is null or b.last_review_at < b.as_of - make_interval(hours => 24 * b.review_due_days)),
        (1, 'ARR_DECLINING',
            format('Addressable resolution rate fell from %s%% to %s%% (last 4 weeks vs the 4 before).',
                   round((b.arr_previous * 100)::numeric, 1), round((b.arr_recent * 100)::numeric, 1)),
            -- rounded: in double precision 50% - 45% is 4.999999999999999 points
            b.arr_recent is not null and b.arr_previous is not null
              and round(((b.arr_previous - b.arr_recent) * 100)::numeric, 6) >= b.arr_drop_points)
    ) as r(severity, code, message, applies)
    where r.applies
)
select
    b.org_id,
    b.deployment_id,
    case coalesce((select max(severity) from reasons r where r.deployment_id = b.deployment_id), 0)
        when 3 then 'UNOWNED' when 2 then 'STALE' when 1 then 'AT_RISK' else 'HEALTHY' end as status,
    coalesce((select jsonb_agg(jsonb_build_object('code', r.code, 'message', r.message)
                               order by r.severity desc, r.code)
              from reasons r where r.deployment_id = b.deployment_id), '[]'::jsonb) as reasons,
    b.last_update_at,
    b.last_review_at,
    b.arr_recent,
    b.arr_previous
from base b;

-- Uncovered conversation types ranked by what automating them would save:
-- volume the AI could not address × the topic's escalation cost.
create function metrics.topic_opportunities(p_deployment_ids bigint[], p_from date, p_to date)
returns table (
    deployment_id       bigint,
    topic_id            bigint,
    rank                bigint,
    conversations       bigint,
    uncovered           bigint,
    uncovered_escalated bigint,
    escalation_cost     numeric,
    score               numeric
)
language sql stable
begin atomic
    select s.deployment_id, s.topic_id,
           row_number() over (partition by s.deployment_id order by s.score desc, s.uncovered desc, s.topic_id),
           s.conversations, s.uncovered, s.uncovered_escalated, s.escalation_cost, s.score
    from (
        select f.deployment_id, f.topic_id, t.escalation_cost,
               count(*) as conversations,
               count(*) filter (where not f.addressable) as uncovered,
               count(*) filter (where not f.addressable and f.outcome = 'ESCALATED') as uncovered_escalated,
               count(*) filter (where not f.addressable) * t.escalation_cost as score
        from internals.conversation_facts f
        join steward.topics t on t.org_id = f.org_id and t.id = f.topic_id
        where f.deployment_id = any (p_deployment_ids)
          and f.started_at >= internals.utc(p_from) and f.started_at < internals.utc(p_to)
        group by f.deployment_id, f.topic_id, t.escalation_cost
    ) s
    where s.uncovered > 0;
end;

-- Deployment-weeks (whole ISO weeks inside the window) of the current
-- organization with their ownership and update cadence.
create function metrics.deployment_week_facts(p_from date, p_to date)
returns table (
    deployment_id    bigint,
    week_start       date,
    owned            boolean,
    cadence_bucket   text,
    addressable      bigint,
    ai_resolved      bigint
)
language sql stable
begin atomic
    select m.deployment_id, m.window_from,
           m.ownership_gap_days < 3.5,
           case when m.workflow_updates = 0 then 'NONE'
                when m.workflow_updates <= 2 then 'LOW'
                when m.workflow_updates <= 9 then 'MEDIUM'
                else 'HIGH' end,
           m.addressable, m.ai_resolved
    from steward.deployments d
    cross join lateral metrics.deployment_weeks(array[d.id], p_from, p_to) m
    -- explicit, not only row-level security: the owner role bypasses it and
    -- would otherwise pool every organization's weeks
    where d.org_id = steward.current_org_id()
      and m.window_from >= p_from and m.window_to <= p_to
      and m.window_to <= (steward.clock() at time zone 'UTC')::date + 1
      and m.window_from >= (d.launched_at at time zone 'UTC')::date;
end;

-- The article's finding from the organization's own data: ARR in owned vs
-- unowned deployment-weeks, and by weekly update cadence.
create function metrics.ownership_impact(p_from date, p_to date)
returns table (dimension text, bucket text, deployment_weeks bigint, addressable bigint, ai_resolved bigint,
               addressable_resolution_rate double precision)
language sql stable
begin atomic
    with w as (select * from metrics.deployment_week_facts(p_from, p_to))
    select 'OWNERSHIP', case when owned then 'OWNED' else 'UNOWNED' end, count(*),
           sum(addressable)::bigint, sum(ai_resolved)::bigint, internals.ratio(sum(ai_resolved), sum(addressable))
    from w group by owned
    union all
    select 'CADENCE', cadence_bucket, count(*),
           sum(addressable)::bigint, sum(ai_resolved)::bigint, internals.ratio(sum(ai_resolved), sum(addressable))
    from w group by cadence_bucket;
end;

-- One row for the current organization: health counts and owned share now.
create view metrics.ownership_overview with (security_invoker = true) as
select
    h.org_id,
    count(*) filter (where d.status <> 'RETIRED') as deployments,
    count(*) filter (where d.status <> 'RETIRED' and h.status = 'UNOWNED') as unowned,
    count(*) filter (where d.status <> 'RETIRED' and h.status = 'STALE') as stale,
    count(*) filter (where d.status <> 'RETIRED' and h.status = 'AT_RISK') as at_risk,
    count(*) filter (where d.status <> 'RETIRED' and h.status = 'HEALTHY') as healthy,
    internals.ratio(count(*) filter (where d.status <> 'RETIRED' and h.status <> 'UNOWNED'),
                    count(*) filter (where d.status <> 'RETIRED')) as owned_share
from metrics.deployment_health h
join steward.deployments d on d.org_id = h.org_id and d.id = h.deployment_id
group by h.org_id;
