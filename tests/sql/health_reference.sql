-- metrics.health as it was before the set-based rewrite (main at 1a8c560: sql/views/
-- 030_ownership_health.sql, reading metrics.reviews of sql/views/015_reviews.sql), frozen as
-- internals.health_reference and internals.reviews_reference for the differential test
-- (tests/sql/test_health_differential.py). Test-only: created by that test, never migrated.
-- It calls metrics.ownership_gaps and the helpers as they are now.

create view internals.reviews_reference with (security_invoker = true) as
select
    pr.org_id,
    pr.id as review_id,
    pr.deployment_id,
    pr.reviewer_id,
    p.name as reviewer_name,
    p.function as reviewer_function,
    pr.reviewed_at,
    pr.brief_week,
    o.was_owner as reviewer_was_owner,
    pol.reviewers_counted,
    case pol.reviewers_counted
        when 'ANYONE' then true
        when 'OWNER_OR_CX' then o.was_owner or p.function = 'CX'
        else o.was_owner
    end as counted
from steward.performance_reviews pr
join steward.persons p on p.org_id = pr.org_id and p.id = pr.reviewer_id
join steward.health_policies pol on pol.org_id = pr.org_id
cross join lateral (
    select exists (
        select 1 from steward.ownership_assignments oa
        where oa.org_id = pr.org_id and oa.deployment_id = pr.deployment_id and oa.person_id = pr.reviewer_id
          and oa.valid @> pr.reviewed_at
          and (p.deactivated_at is null or pr.reviewed_at < p.deactivated_at)
    ) as was_owner
) o;

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
-- Set-based over the requested deployments only; clock-derived dates are
-- scalar subqueries so they reach index scans as parameters under RLS.
create function internals.health_reference(p_deployment_ids bigint[])
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
    with base as (
        select
            d.org_id,
            d.id as deployment_id,
            pol.stale_update_days, pol.stale_review_days, pol.review_due_days, pol.min_owner_fte, pol.arr_drop_points,
            pol.arr_decay_points, pol.reviewers_counted,
            o.person_id,
            o.person_name,
            o.owner_since,
            o.person_active,
            o.person_function,
            o.fte_on_ai,
            steward.clock() as as_of,
            lu.last_at as last_update_at,
            lr.last_at as last_review_at,
            own.first_at as owner_first_review_at,
            arr.recent as arr_recent,
            arr.previous as arr_previous,
            ob.arr as arr_owner_baseline,
            ob.blocks as owner_baseline_blocks,
            gap.started_at as gap_started_at,
            gap.previous_person_id as gap_previous_person_id,
            gap.previous_person_name as gap_previous_person_name,
            gap.baseline_arr as gap_baseline_arr,
            gap.latest_arr as gap_latest_arr,
            gap.resolutions_lost as gap_resolutions_lost,
            pol.escalation_after_days,
            esc.since as escalation_since
        from steward.deployments d
        join steward.health_policies pol on pol.org_id = d.org_id
        left join metrics.current_owners o on o.org_id = d.org_id and o.deployment_id = d.id
        left join lateral (
            select max(wu.occurred_at) as last_at from steward.workflow_updates wu
            where wu.org_id = d.org_id and wu.deployment_id = d.id and wu.occurred_at <= (select steward.clock())
        ) lu on true
        left join lateral (
            -- only reviews that count under the policy (metrics.reviews, sql/views/015_reviews.sql)
            select max(pr.reviewed_at) as last_at from internals.reviews_reference pr
            where pr.org_id = d.org_id and pr.deployment_id = d.id and pr.reviewed_at <= (select steward.clock())
              and pr.counted
        ) lr on true
        left join lateral (
            -- the current owner's own first review in their current period (it counts under every policy)
            select min(pr.reviewed_at) as first_at from internals.reviews_reference pr
            where pr.org_id = d.org_id and pr.deployment_id = d.id and pr.reviewer_id = o.person_id
              and pr.reviewer_was_owner and pr.reviewed_at >= o.owner_since
              and pr.reviewed_at <= (select steward.clock())
        ) own on true
        left join lateral (
            -- ARR as metrics.deployment_window defines it (AI resolved / addressable over
            -- the daily rollup) for the last 28 days and the 28 before, in one scan
            select internals.ratio(sum(cd.ai_resolved) filter (where cd.day > t.today - 28),
                                   sum(cd.addressable) filter (where cd.day > t.today - 28)) as recent,
                   internals.ratio(sum(cd.ai_resolved) filter (where cd.day <= t.today - 28),
                                   sum(cd.addressable) filter (where cd.day <= t.today - 28)) as previous
            from (select (steward.clock() at time zone 'UTC')::date as today) t
            join steward.conversation_daily cd
              on cd.org_id = d.org_id and cd.deployment_id = d.id
             and cd.day > (select (steward.clock() at time zone 'UTC')::date - 56)
             and cd.day <= (select (steward.clock() at time zone 'UTC')::date)
        ) arr on true
        left join lateral (
            -- the oldest unacknowledged event that brought UNOWNED or ARR decay on, while that still holds:
            -- no later event of the deployment is without it (sql/views/050_health_events.sql writes them)
            select min(e.occurred_at) as since from steward.health_events e
            where e.org_id = d.org_id and e.deployment_id = d.id and e.occurred_at <= (select steward.clock())
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
        left join lateral (
            -- the owner's own baseline: the median ARR of the complete 28-day blocks of
            -- the current period before the last 28 days, blocks counted back from today
            -- (at most 12: a year). A day is the owner's when they held it at 00:00 UTC
            -- (sql/views/025_ownership_gaps.sql).
            -- The median, not the best block: one lucky month of a small deployment
            -- would raise the bar for good; a decline that began less than half the
            -- blocks ago still shows.
            select percentile_cont(0.5) within group (order by blk.arr) as arr, count(*) as blocks
            from (
                select internals.ratio(sum(cd.ai_resolved), sum(cd.addressable)) as arr
                from steward.conversation_daily cd
                where cd.org_id = d.org_id and cd.deployment_id = d.id
                  and cd.day <= (select (steward.clock() at time zone 'UTC')::date) - 28
                  -- block k (1, 2, ...) is the 28 days ending 28k days before today; complete
                  -- when its first day, today - 28k - 27, is the owner's: k <= k_max below
                  -- (0, no block, without an owner or with a start that cannot be counted)
                  and cd.day >= (select (steward.clock() at time zone 'UTC')::date) - 27 - 28 * least(12,
                        coalesce(((select (steward.clock() at time zone 'UTC')::date)
                                  - internals.first_day_from(o.owner_since, d.launched_at) - 27) / 28, 0))
                group by ((select (steward.clock() at time zone 'UTC')::date) - cd.day) / 28
            ) blk
            where blk.arr is not null
        ) ob on true
        -- the open ownership gap, if any (sql/views/025_ownership_gaps.sql)
        left join metrics.ownership_gaps(p_deployment_ids) gap
          on gap.org_id = d.org_id and gap.deployment_id = d.id and gap.is_open
        where d.id = any (p_deployment_ids)
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
