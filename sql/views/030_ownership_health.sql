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
    internals.whole_days(lower(oa.valid), steward.clock()) as tenure_days
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
-- Reviews: only those that count under the policy's reviewers_counted (metrics.reviews)
-- make a review recent. REVIEW_OVERDUE also applies to an owner who has made no review of
-- their own since their period began, once review_due_days (the limit past which a
-- deployment stops being HEALTHY for want of a review) have passed since it began, however
-- often others reviewed: under OWNER_OR_CX or ANYONE a colleague's or a vendor's reviews keep
-- the deployment reviewed, but not its new owner.
-- Day limits are counted in 24-hour days: interval 'N days' would follow the
-- session time zone's DST changes.
-- Set-based over the requested deployments only, each input read once: the
-- deployments with their policy and current owner; one range scan of the daily
-- rollup per deployment (index-only: the primary key carries addressable and
-- ai_resolved, migration 0017), summed into 28-day blocks that give both ARR
-- windows and the owner's baseline; one join of the reviews; the open gap. Clock-derived
-- dates are scalar subqueries so they reach index scans as parameters under RLS.
create function metrics.health(p_deployment_ids bigint[])
returns table (
    org_id          bigint,
    deployment_id   bigint,
    status          text,
    reasons         jsonb,
    last_update_at  timestamptz,
    last_review_at  timestamptz,
    arr_recent      double precision,
    arr_previous    double precision,
    arr_owner_baseline double precision
)
language sql stable
begin atomic
    with dep as (
        select
            d.org_id,
            d.id as deployment_id,
            pol.stale_update_days, pol.stale_review_days, pol.review_due_days, pol.min_owner_fte, pol.arr_drop_points,
            pol.arr_decay_points, pol.reviewers_counted, pol.escalation_after_days,
            o.person_id,
            o.person_name,
            o.owner_since,
            o.person_active,
            o.person_function,
            o.fte_on_ai,
            -- the owner's baseline counts blocks 1..k_max: block k (1, 2, ...) is the 28
            -- days ending 28k days before today, complete when its first day, today - 28k
            -- - 27, is the owner's; at most 12 (a year); 0, no block, without an owner or
            -- with a start that cannot be counted. A day is the owner's when they held it
            -- at 00:00 UTC (sql/views/025_ownership_gaps.sql).
            ob.owner_blocks,
            -- the first day the blocks below need: those of the baseline, and blocks 0 and 1 always
            (select (steward.clock() at time zone 'UTC')::date) - 27 - 28 * greatest(1, ob.owner_blocks) as first_day
        from steward.deployments d
        join steward.health_policies pol on pol.org_id = d.org_id
        left join metrics.current_owners o on o.org_id = d.org_id and o.deployment_id = d.id
        cross join lateral (
            select least(12, coalesce(((select (steward.clock() at time zone 'UTC')::date)
                                       - internals.first_day_from(o.owner_since, d.launched_at) - 27) / 28, 0))
                       as owner_blocks
        ) ob
        where d.id = any (p_deployment_ids)
    ),
    blocks as (
        -- the daily rollup in blocks of 28 days counted back from today (block 0: the last
        -- 28 days, today included), as far back as the deployment needs: one range scan each
        select cd.deployment_id, ((select (steward.clock() at time zone 'UTC')::date) - cd.day) / 28 as k,
               sum(cd.ai_resolved) as ai_resolved, sum(cd.addressable) as addressable,
               internals.ratio(sum(cd.ai_resolved), sum(cd.addressable)) as arr
        from dep
        join steward.conversation_daily cd
          on cd.org_id = dep.org_id and cd.deployment_id = dep.deployment_id
         and cd.day >= dep.first_day and cd.day <= (select (steward.clock() at time zone 'UTC')::date)
        group by cd.deployment_id, k
    ),
    arr as (
        select b.deployment_id,
               -- ARR as metrics.deployment_window defines it (AI resolved / addressable over
               -- the daily rollup) for the last 28 days and the 28 before
               internals.ratio(sum(b.ai_resolved) filter (where b.k = 0),
                               sum(b.addressable) filter (where b.k = 0)) as recent,
               internals.ratio(sum(b.ai_resolved) filter (where b.k = 1),
                               sum(b.addressable) filter (where b.k = 1)) as previous,
               -- the owner's own baseline: the median ARR of the complete blocks of the
               -- current period before the last 28 days. The median, not the best block:
               -- one lucky month of a small deployment would raise the bar for good; a
               -- decline that began less than half the blocks ago still shows.
               percentile_cont(0.5) within group (order by b.arr)
                   filter (where b.k between 1 and dep.owner_blocks and b.arr is not null) as owner_baseline,
               count(*) filter (where b.k between 1 and dep.owner_blocks and b.arr is not null) as owner_blocks
        from blocks b
        join dep on dep.deployment_id = b.deployment_id
        group by b.deployment_id
    ),
    reviews as materialized (
        -- the requested deployments' reviews in one scan, joined as a set (materialized: the
        -- planner would otherwise expect few deployments and look each review's owner up in turn)
        select pr.deployment_id, pr.reviewer_id, pr.reviewed_at, pr.reviewer_was_owner, pr.counted
        from metrics.reviews pr
        where pr.deployment_id = any (p_deployment_ids) and pr.reviewed_at <= (select steward.clock())
    ),
    rev as (
        select pr.deployment_id,
               -- only reviews that count under the policy (metrics.reviews, sql/views/015_reviews.sql)
               max(pr.reviewed_at) filter (where pr.counted) as last_at,
               -- the current owner's own first review in their current period (it counts under every policy)
               min(pr.reviewed_at) filter (where pr.reviewer_id = dep.person_id and pr.reviewer_was_owner
                                             and pr.reviewed_at >= dep.owner_since) as owner_first_at
        from reviews pr
        join dep on dep.deployment_id = pr.deployment_id
        group by pr.deployment_id
    ),
    base as (
        select
            dep.*,
            steward.clock() as as_of,
            lu.last_at as last_update_at,
            rev.last_at as last_review_at,
            rev.owner_first_at as owner_first_review_at,
            arr.recent as arr_recent,
            arr.previous as arr_previous,
            arr.owner_baseline as arr_owner_baseline,
            arr.owner_blocks as owner_baseline_blocks,
            gap.started_at as gap_started_at,
            gap.previous_person_id as gap_previous_person_id,
            gap.previous_person_name as gap_previous_person_name,
            gap.baseline_arr as gap_baseline_arr,
            gap.latest_arr as gap_latest_arr,
            gap.resolutions_lost as gap_resolutions_lost,
            esc.since as escalation_since
        from dep
        left join arr on arr.deployment_id = dep.deployment_id
        left join rev on rev.deployment_id = dep.deployment_id
        left join lateral (
            -- the newest update: one step back along the index
            select max(wu.occurred_at) as last_at from steward.workflow_updates wu
            where wu.org_id = dep.org_id and wu.deployment_id = dep.deployment_id
              and wu.occurred_at <= (select steward.clock())
        ) lu on true
        left join lateral (
            -- the oldest unacknowledged event that brought UNOWNED or ARR decay on, while that still holds:
            -- no later event of the deployment is without it (sql/views/050_health_events.sql writes them)
            select min(e.occurred_at) as since from steward.health_events e
            where e.org_id = dep.org_id and e.deployment_id = dep.deployment_id
              and e.occurred_at <= (select steward.clock())
              and not exists (select 1 from steward.health_event_acknowledgements a
                              where a.org_id = e.org_id and a.event_id = e.id)
              and ((e.status_after = 'UNOWNED' and e.status_before is distinct from 'UNOWNED'
                    and not exists (select 1 from steward.health_events l
                                    where l.org_id = e.org_id and l.deployment_id = e.deployment_id and l.id > e.id
                                      and l.status_after <> 'UNOWNED'))
                or ('ARR_DECAYED_SINCE_OWNER_LEFT' = any (e.reasons_after)
                    and 'ARR_DECAYED_SINCE_OWNER_LEFT' <> all (coalesce(e.reasons_before, '{}'))
                    and not exists (select 1 from steward.health_events l
                                    where l.org_id = e.org_id and l.deployment_id = e.deployment_id and l.id > e.id
                                      and 'ARR_DECAYED_SINCE_OWNER_LEFT' <> all (l.reasons_after))))
        ) esc on true
        -- the open ownership gap, if any (sql/views/025_ownership_gaps.sql)
        left join metrics.ownership_gaps(p_deployment_ids) gap
          on gap.org_id = dep.org_id and gap.deployment_id = dep.deployment_id and gap.is_open
    )
    select
        b.org_id,
        b.deployment_id,
        case coalesce(r.severity, 0)
            when 3 then 'UNOWNED' when 2 then 'STALE' when 1 then 'AT_RISK' else 'HEALTHY' end,
        coalesce(r.reasons, '[]'::jsonb),
        b.last_update_at,
        b.last_review_at,
        b.arr_recent,
        b.arr_previous,
        b.arr_owner_baseline
    from base b
    cross join lateral (
        -- rounded: in double precision 50% - 45% is 4.999999999999999 points
        select b.arr_recent is not null and b.arr_previous is not null
                 and round(((b.arr_previous - b.arr_recent) * 100)::numeric, 6) >= b.arr_drop_points
                 as vs_previous,
               b.person_active and b.arr_recent is not null and b.arr_owner_baseline is not null
                 and round(((b.arr_owner_baseline - b.arr_recent) * 100)::numeric, 6) >= b.arr_drop_points
                 as vs_owner,
               b.gap_previous_person_id is not null and b.gap_baseline_arr is not null and b.gap_latest_arr is not null
                 and round(((b.gap_baseline_arr - b.gap_latest_arr) * 100)::numeric, 6) >= b.arr_decay_points
                 as decayed
    ) arr
    cross join lateral (
        -- whose reviews the review rules counted, for the messages
        select case b.reviewers_counted when 'OWNER' then ' by the accountable owner'
                                        when 'OWNER_OR_CX' then ' by the owner or someone in CX'
                                        else '' end as by_whom,
               b.last_review_at is null
                 or b.last_review_at < b.as_of - make_interval(hours => 24 * b.review_due_days) as overdue,
               -- an owner who has not reviewed once in their period, review_due_days after it began,
               -- whoever else reviewed meanwhile
               b.person_id is not null and b.person_active and b.owner_first_review_at is null
                 and b.owner_since < b.as_of - make_interval(hours => 24 * b.review_due_days) as owner_never
    ) rev
    left join lateral (
        select max(rule.severity) as severity,
               jsonb_agg(jsonb_build_object('code', rule.code, 'message', rule.message)
                         order by rule.severity desc, rule.code) as reasons
        from (values
            (3, 'NO_OWNER', 'No accountable owner is assigned.', b.person_id is null),
            (3, 'OWNER_INACTIVE', 'The accountable owner has been deactivated.',
                b.person_id is not null and not b.person_active),
            (2, 'NO_RECENT_UPDATE',
                case when b.last_update_at is null then 'No workflow update has ever been recorded.'
                     else format('No workflow update for %s days (limit %s).',
                                 coalesce(internals.whole_days(b.last_update_at, b.as_of)::text, 'an unknown number of'),
                                 b.stale_update_days) end,
                b.last_update_at is null
                  or b.last_update_at < b.as_of - make_interval(hours => 24 * b.stale_update_days)),
            (2, 'NO_RECENT_REVIEW',
                case when b.last_review_at is null
                     then format('No performance review%s has ever been recorded.', rev.by_whom)
                     else format('No performance review%s for %s days (limit %s).', rev.by_whom,
                                 coalesce(internals.whole_days(b.last_review_at, b.as_of)::text, 'an unknown number of'),
                                 b.stale_review_days) end,
                b.last_review_at is null
                  or b.last_review_at < b.as_of - make_interval(hours => 24 * b.stale_review_days)),
            (1, 'OWNER_OUTSIDE_CX', format('The owner works in %s, not in CX.', b.person_function),
                b.person_id is not null and b.person_active and b.person_function <> 'CX'),
            (1, 'OWNER_LOW_FTE', format('The owner spends %s FTE on AI (minimum %s).', b.fte_on_ai, b.min_owner_fte),
                b.person_id is not null and b.person_active and b.fte_on_ai < b.min_owner_fte),
            (1, 'REVIEW_OVERDUE',
                concat_ws(' ',
                    case when rev.overdue then
                        format('No performance review%s in the last %s days.', rev.by_whom, b.review_due_days) end,
                    case when rev.owner_never then
                        format('%s has owned the deployment for %s days without a review of their own (limit %s).',
                               b.person_name,
                               coalesce(internals.whole_days(b.owner_since, b.as_of)::text, 'an unknown number of'),
                               b.review_due_days) end),
                rev.overdue or rev.owner_never),
            (3, 'ARR_DECAYED_SINCE_OWNER_LEFT',
                -- baseline: the 4 weeks before the gap; now: the gap's latest 4 weeks; lost: over the whole gap
                format('ARR %s%% → %s%% since %s left %s days ago; ≈%s resolutions lost.',
                       round((b.gap_baseline_arr * 100)::numeric, 1), round((b.gap_latest_arr * 100)::numeric, 1),
                       b.gap_previous_person_name,
                       (b.as_of at time zone 'UTC')::date - (b.gap_started_at at time zone 'UTC')::date,
                       to_char(round(b.gap_resolutions_lost), 'FM999,999,999,990')),
                arr.decayed),
            (1, 'ARR_DECLINING',
                concat_ws(' ',
                    case when arr.vs_previous then
                        format('Addressable resolution rate fell from %s%% to %s%% (last 4 weeks vs the 4 before).',
                               round((b.arr_previous * 100)::numeric, 1), round((b.arr_recent * 100)::numeric, 1)) end,
                    case when arr.vs_owner then
                        format('Addressable resolution rate of the last 4 weeks (%s%%) is %s points below the owner''s'
                               ' own baseline of %s%% (median 4-week ARR of %s earlier %s in their period).',
                               round((b.arr_recent * 100)::numeric, 1),
                               round(((b.arr_owner_baseline - b.arr_recent) * 100)::numeric, 1),
                               round((b.arr_owner_baseline * 100)::numeric, 1), b.owner_baseline_blocks,
                               case when b.owner_baseline_blocks = 1 then 'block' else 'blocks' end) end),
                arr.vs_previous or arr.vs_owner),
            -- severity 1: it never changes the status the escalated event already shows, only the reasons
            (1, 'ESCALATION_UNACKNOWLEDGED',
                format('An UNOWNED or ARR-decay health event from %s has not been acknowledged for %s days '
                       '(limit %s).', to_char(b.escalation_since at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'),
                       internals.whole_days(b.escalation_since, b.as_of), b.escalation_after_days),
                b.escalation_since is not null
                  and b.escalation_since <= b.as_of - make_interval(hours => 24 * b.escalation_after_days))
        ) as rule(severity, code, message, applies)
        where rule.applies
    ) r on true;
end;

create view metrics.deployment_health with (security_invoker = true) as
select h.* from metrics.health(array(select id from steward.deployments)) h;

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
    score               numeric,
    uncovered_share     double precision
)
language sql stable
begin atomic
    select s.deployment_id, s.topic_id,
           row_number() over (partition by s.deployment_id order by s.score desc, s.uncovered desc, s.topic_id),
           s.conversations, s.uncovered, s.uncovered_escalated, s.escalation_cost, s.score,
           internals.ratio(s.uncovered, s.deployment_conversations)
    from (
        select td.deployment_id, td.topic_id, t.escalation_cost,
               sum(td.conversations)::bigint as conversations,
               sum(td.conversations - td.addressable)::bigint as uncovered,
               sum(td.unaddressable_escalated)::bigint as uncovered_escalated,
               sum(td.conversations - td.addressable) * t.escalation_cost as score,
               -- every conversation of the deployment in the window, all topics
               sum(sum(td.conversations)) over (partition by td.deployment_id) as deployment_conversations
        from steward.conversation_topic_daily td
        join steward.topics t on t.org_id = td.org_id and t.id = td.topic_id
        where td.deployment_id = any (p_deployment_ids) and td.day >= p_from and td.day < p_to
        group by td.deployment_id, td.topic_id, t.escalation_cost
    ) s
    where s.uncovered > 0;
end;

-- Deployment-weeks (whole ISO weeks inside the window, after launch, not in
-- the future) of the current organization with their ownership and update
-- cadence. One grouped pass per table: the same counts deployment_window
-- sums, without evaluating it per deployment and week.
create function metrics.deployment_week_facts(p_from date, p_to date)
returns table (
    deployment_id    bigint,
    week_start       date,
    owned            boolean,
    cadence_bucket   text,
    addressable      bigint,
    ai_resolved      bigint,
    workflow_updates bigint
)
language sql stable
begin atomic
    with weeks as (
        select d.org_id, d.id as deployment_id, wk::date as week_start,
               tstzrange(internals.utc(wk::date), internals.utc(wk::date + 7)) as span
        from steward.deployments d
        cross join generate_series(date_trunc('week', p_from::timestamp), p_to::timestamp - interval '7 days',
                                   interval '7 days') wk
        -- explicit, not only row-level security: the owner role bypasses it and
        -- would otherwise pool every organization's weeks
        where d.org_id = (select steward.current_org_id())
          and wk::date >= p_from and wk::date + 7 <= p_to
          and wk::date + 7 <= (select (steward.clock() at time zone 'UTC')::date + 1)
          and wk::date >= (d.launched_at at time zone 'UTC')::date
    ),
    outcomes as (
        select cd.deployment_id, date_trunc('week', cd.day)::date as week_start,
               sum(cd.addressable)::bigint as addressable, sum(cd.ai_resolved)::bigint as ai_resolved
        from steward.conversation_daily cd
        where cd.org_id = (select steward.current_org_id()) and cd.day >= p_from and cd.day < p_to
        group by 1, 2
    ),
    updates as (
        select wu.deployment_id, date_trunc('week', wu.occurred_at at time zone 'UTC')::date as week_start,
               count(*) as n
        from steward.workflow_updates wu
        where wu.org_id = (select steward.current_org_id())
          and wu.occurred_at >= internals.utc(p_from) and wu.occurred_at < internals.utc(p_to)
        group by 1, 2
    ),
    ownership as (
        -- owned seconds per week; owner periods never overlap
        select w.deployment_id, w.week_start,
               sum(extract(epoch from upper(oa.valid * w.span) - lower(oa.valid * w.span))) as owned_seconds
        from weeks w
        join steward.ownership_assignments oa
          on oa.org_id = w.org_id and oa.deployment_id = w.deployment_id and oa.valid && w.span
        group by 1, 2
    )
    select w.deployment_id, w.week_start,
           -- owned for most of the week: fewer than 3.5 ownership gap days
           coalesce(o.owned_seconds, 0) > 3.5 * 86400,
           case when coalesce(u.n, 0) = 0 then 'NONE'
                when u.n <= 2 then 'LOW'
                when u.n <= 9 then 'MEDIUM'
                else 'HIGH' end,
           coalesce(c.addressable, 0), coalesce(c.ai_resolved, 0), coalesce(u.n, 0)
    from weeks w
    left join outcomes c on c.deployment_id = w.deployment_id and c.week_start = w.week_start
    left join updates u on u.deployment_id = w.deployment_id and u.week_start = w.week_start
    left join ownership o on o.deployment_id = w.deployment_id and o.week_start = w.week_start;
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
