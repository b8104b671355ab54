-- The owner's weekly review (issue 13): topic performance, the weekly brief, ownership
-- maturity, what update cadence buys, and a leader's scorecard.
--
-- Every function is set-based over the deployments it is given (p_deployment_ids, one row
-- per deployment and item, so a DataLoader batches them) or, for the organization-wide
-- ones, over the current organization; row-level security applies throughout. Weeks are
-- ISO weeks (Monday, UTC) and a week argument names the week that contains it. The rates
-- are those of metrics.deployment_window (sql/views/020_window_metrics.sql), read from the
-- same rollups: ARR = ai_resolved / addressable, reopen rate = reopened / ai_outcomes,
-- coverage = addressable / conversations, automation rate = ai_resolved / conversations,
-- escalation rate = escalated / addressable. Day limits are 24-hour days.

-- --- topic performance -------------------------------------------------------------------------
-- Per deployment and topic with conversations in [p_from, p_to): its counts and rates, and
-- the deployment's own ARR and reopen rate over the same window (the sums over its topics,
-- which equal metrics.deployment_window's: conversation_daily is the sum of
-- conversation_topic_daily). covered: some of the topic's conversations were addressable.
-- opportunity: AUTOMATE (not covered), IMPROVE (covered, ARR below the deployment's; compared
-- exactly, on the counts), else NONE. opportunity_score, in escalation cost: AUTOMATE,
-- unaddressable conversations x escalation cost (metrics.topic_opportunities' score); IMPROVE,
-- the AI resolutions short of the deployment's ARR x escalation cost; NONE, 0.
create function metrics.topic_performance(p_deployment_ids bigint[], p_from date, p_to date)
returns table (
    org_id                      bigint,
    deployment_id               bigint,
    topic_id                    bigint,
    topic_name                  text,
    window_from                 date,
    window_to                   date,
    conversations               bigint,
    addressable                 bigint,
    unaddressable               bigint,
    ai_outcomes                 bigint,
    ai_resolved                 bigint,
    reopened                    bigint,
    escalated                   bigint,
    unaddressable_escalated     bigint,
    topic_coverage              double precision,
    addressable_resolution_rate double precision,
    reopen_rate                 double precision,
    automation_rate             double precision,
    escalation_rate             double precision,
    volume_share                double precision,
    covered                     boolean,
    deployment_arr              double precision,
    deployment_reopen_rate      double precision,
    arr_gap_points              double precision,
    escalation_cost             numeric,
    opportunity                 text,
    opportunity_score           numeric
)
language sql stable
begin atomic
    select s.org_id, s.deployment_id, s.topic_id, t.name, p_from, p_to,
           s.conversations, s.addressable, s.conversations - s.addressable, s.ai_outcomes, s.ai_resolved,
           s.reopened, s.escalated, s.unaddressable_escalated,
           internals.ratio(s.addressable, s.conversations),
           internals.ratio(s.ai_resolved, s.addressable),
           internals.ratio(s.reopened, s.ai_outcomes),
           internals.ratio(s.ai_resolved, s.conversations),
           internals.ratio(s.escalated, s.addressable),
           internals.ratio(s.conversations, s.dep_conversations),
           s.addressable > 0,
           internals.ratio(s.dep_ai_resolved, s.dep_addressable),
           internals.ratio(s.dep_reopened, s.dep_ai_outcomes),
           (internals.ratio(s.dep_ai_resolved, s.dep_addressable) - internals.ratio(s.ai_resolved, s.addressable))
               * 100,
           t.escalation_cost,
           k.kind,
           case k.kind
               when 'AUTOMATE' then (s.conversations - s.addressable) * t.escalation_cost
               when 'IMPROVE' then round((s.dep_ai_resolved::numeric * s.addressable / s.dep_addressable
                                          - s.ai_resolved) * t.escalation_cost, 2)
               else 0 end
    from (
        select td.org_id, td.deployment_id, td.topic_id,
               sum(td.conversations)::bigint as conversations,
               sum(td.addressable)::bigint as addressable,
               sum(td.ai_outcomes)::bigint as ai_outcomes,
               sum(td.ai_resolved)::bigint as ai_resolved,
               sum(td.reopened)::bigint as reopened,
               sum(td.escalated)::bigint as escalated,
               sum(td.unaddressable_escalated)::bigint as unaddressable_escalated,
               sum(sum(td.conversations)) over dep as dep_conversations,
               sum(sum(td.addressable)) over dep as dep_addressable,
               sum(sum(td.ai_resolved)) over dep as dep_ai_resolved,
               sum(sum(td.ai_outcomes)) over dep as dep_ai_outcomes,
               sum(sum(td.reopened)) over dep as dep_reopened
        from steward.conversation_topic_daily td
        where td.deployment_id = any (p_deployment_ids) and td.day >= p_from and td.day < p_to
        group by td.org_id, td.deployment_id, td.topic_id
        window dep as (partition by td.deployment_id)
    ) s
    join steward.topics t on t.org_id = s.org_id and t.id = s.topic_id
    cross join lateral (
        select case when s.addressable = 0 then 'AUTOMATE'
                    -- ai_resolved / addressable < dep_ai_resolved / dep_addressable, without rounding
                    when s.ai_resolved * s.dep_addressable < s.dep_ai_resolved * s.addressable then 'IMPROVE'
                    else 'NONE' end as kind
    ) k
    where p_from < p_to;
end;

-- Every ISO week overlapping [p_from, p_to), each measured over its whole week, per
-- deployment and topic: metrics.topic_performance week by week, for charts.
create function metrics.topic_weeks(p_deployment_ids bigint[], p_from date, p_to date)
returns table (
    week_start                  date,
    org_id                      bigint,
    deployment_id               bigint,
    topic_id                    bigint,
    topic_name                  text,
    window_from                 date,
    window_to                   date,
    conversations               bigint,
    addressable                 bigint,
    unaddressable               bigint,
    ai_outcomes                 bigint,
    ai_resolved                 bigint,
    reopened                    bigint,
    escalated                   bigint,
    unaddressable_escalated     bigint,
    topic_coverage              double precision,
    addressable_resolution_rate double precision,
    reopen_rate                 double precision,
    automation_rate             double precision,
    escalation_rate             double precision,
    volume_share                double precision,
    covered                     boolean,
    deployment_arr              double precision,
    deployment_reopen_rate      double precision,
    arr_gap_points              double precision,
    escalation_cost             numeric,
    opportunity                 text,
    opportunity_score           numeric
)
language sql stable
begin atomic
    select wk::date, tp.*
    from generate_series(date_trunc('week', p_from::timestamp), p_to::timestamp - interval '1 day',
                         interval '7 days') wk
    cross join lateral metrics.topic_performance(p_deployment_ids, wk::date, wk::date + 7) tp
    where p_from < p_to
    order by tp.deployment_id, tp.topic_id, wk;
end;

-- --- the weekly brief: headline ----------------------------------------------------------------
-- Per deployment and figure, for the ISO week containing p_week: the week, the previous
-- week and the 4-week baseline (the 4 weeks before the week), each with its numerator,
-- denominator, value and 95% interval, all read from metrics.deployment_window.
--   rates (ARR, REOPEN_RATE, COVERAGE, AUTOMATION_RATE, ESCALATION_RATE): value = numerator /
--     denominator, Wilson score interval (internals.wilson_low/high, sql/views/015_reviews.sql);
--   VOLUME: conversations per week: numerator = conversations, denominator = weeks (1, 1, 4),
--     score interval of a Poisson rate (internals.poisson_low/high).
-- significant: the week's interval and the baseline's do not overlap (one lies wholly above
-- the other); significant_vs_previous: the same against the previous week. Non-overlap of two
-- 95% intervals is a conservative test (stricter than p < 0.05): a weekly brief flags only
-- changes that noise is unlikely to explain. Null when either interval is (nothing measured).
create function metrics.weekly_brief_headline(p_deployment_ids bigint[], p_week date)
returns table (
    org_id                  bigint,
    deployment_id           bigint,
    week_start              date,
    figure                  text,
    figure_order                integer,
    is_rate                 boolean,
    week_numerator          bigint,
    week_denominator        bigint,
    week_value              double precision,
    week_ci_low             double precision,
    week_ci_high            double precision,
    previous_numerator      bigint,
    previous_denominator    bigint,
    previous_value          double precision,
    previous_ci_low         double precision,
    previous_ci_high        double precision,
    baseline_numerator      bigint,
    baseline_denominator    bigint,
    baseline_value          double precision,
    baseline_ci_low         double precision,
    baseline_ci_high        double precision,
    change_vs_previous      double precision,
    change_vs_baseline      double precision,
    significant             boolean,
    significant_vs_previous boolean
)
language sql stable
begin atomic
    -- each window once for all the deployments (a lateral join per deployment would be quadratic)
    with w as materialized (select date_trunc('week', p_week::timestamp)::date as wk),
    cur as materialized (select m.* from w, metrics.deployment_window(p_deployment_ids, w.wk, w.wk + 7) m),
    prev as materialized (select m.* from w, metrics.deployment_window(p_deployment_ids, w.wk - 7, w.wk) m),
    base as materialized (select m.* from w, metrics.deployment_window(p_deployment_ids, w.wk - 28, w.wk) m)
    select cur.org_id, cur.deployment_id, w.wk, f.figure, f.figure_order, f.is_rate,
           f.wn, f.wd, v.w, i.w_low, i.w_high,
           f.pn, f.pd, v.p, i.p_low, i.p_high,
           f.bn, f.bd, v.b, i.b_low, i.b_high,
           v.w - v.p, v.w - v.b,
           i.w_low > i.b_high or i.w_high < i.b_low,
           i.w_low > i.p_high or i.w_high < i.p_low
    from w
    cross join cur
    join prev on prev.deployment_id = cur.deployment_id
    join base on base.deployment_id = cur.deployment_id
    cross join lateral (values
        ('ARR', 1, true, cur.ai_resolved, cur.addressable, prev.ai_resolved, prev.addressable,
         base.ai_resolved, base.addressable),
        ('REOPEN_RATE', 2, true, cur.reopened, cur.ai_outcomes, prev.reopened, prev.ai_outcomes,
         base.reopened, base.ai_outcomes),
        ('COVERAGE', 3, true, cur.addressable, cur.conversations, prev.addressable, prev.conversations,
         base.addressable, base.conversations),
        ('AUTOMATION_RATE', 4, true, cur.ai_resolved, cur.conversations, prev.ai_resolved, prev.conversations,
         base.ai_resolved, base.conversations),
        ('ESCALATION_RATE', 5, true, cur.escalated, cur.addressable, prev.escalated, prev.addressable,
         base.escalated, base.addressable),
        ('VOLUME', 6, false, cur.conversations, 1::bigint, prev.conversations, 1::bigint, base.conversations, 4::bigint)
    ) as f(figure, figure_order, is_rate, wn, wd, pn, pd, bn, bd)
    cross join lateral (
        select internals.ratio(f.wn, f.wd) as w, internals.ratio(f.pn, f.pd) as p, internals.ratio(f.bn, f.bd) as b
    ) v
    cross join lateral (
        select case when f.is_rate then internals.wilson_low(f.wn, f.wd) else internals.poisson_low(f.wn, f.wd) end
                   as w_low,
               case when f.is_rate then internals.wilson_high(f.wn, f.wd) else internals.poisson_high(f.wn, f.wd) end
                   as w_high,
               case when f.is_rate then internals.wilson_low(f.pn, f.pd) else internals.poisson_low(f.pn, f.pd) end
                   as p_low,
               case when f.is_rate then internals.wilson_high(f.pn, f.pd) else internals.poisson_high(f.pn, f.pd) end
                   as p_high,
               case when f.is_rate then internals.wilson_low(f.bn, f.bd) else internals.poisson_low(f.bn, f.bd) end
                   as b_low,
               case when f.is_rate then internals.wilson_high(f.bn, f.bd) else internals.poisson_high(f.bn, f.bd) end
                   as b_high
    ) i
    order by cur.deployment_id, f.figure_order;
end;

-- --- the weekly brief: topics to fix and to add ---------------------------------------------------
-- Covered topics of the week that did worse than their deployment, ranked by the harm in
-- conversations, so that volume weighs in:
--   resolutions_short = max(0, deployment ARR x topic addressable - topic AI resolved): the AI
--     resolutions the topic would have had at the deployment's own ARR;
--   excess_reopens = max(0, topic reopened - deployment reopen rate x topic AI outcomes);
--   score = resolutions_short + excess_reopens (rounded to 4 decimals, so a topic exactly at
--   the deployment's rate is not listed). reason: ARR, REOPEN_RATE or BOTH.
create function metrics.weekly_brief_topics_to_fix(p_deployment_ids bigint[], p_week date)
returns table (
    org_id                      bigint,
    deployment_id               bigint,
    week_start                  date,
    rank                        bigint,
    topic_id                    bigint,
    topic_name                  text,
    conversations               bigint,
    addressable                 bigint,
    ai_outcomes                 bigint,
    ai_resolved                 bigint,
    reopened                    bigint,
    escalated                   bigint,
    addressable_resolution_rate double precision,
    deployment_arr              double precision,
    reopen_rate                 double precision,
    deployment_reopen_rate      double precision,
    resolutions_short           numeric,
    excess_reopens              numeric,
    score                       numeric,
    reason                      text
)
language sql stable
begin atomic
    select tp.org_id, tp.deployment_id, w.wk,
           row_number() over (partition by tp.deployment_id order by x.score desc, tp.addressable desc, tp.topic_id),
           tp.topic_id, tp.topic_name, tp.conversations, tp.addressable, tp.ai_outcomes, tp.ai_resolved, tp.reopened,
           tp.escalated, tp.addressable_resolution_rate, tp.deployment_arr, tp.reopen_rate, tp.deployment_reopen_rate,
           x.short, x.excess, x.score,
           case when x.short > 0 and x.excess > 0 then 'BOTH' when x.short > 0 then 'ARR' else 'REOPEN_RATE' end
    from (select date_trunc('week', p_week::timestamp)::date as wk) w
    cross join lateral metrics.topic_performance(p_deployment_ids, w.wk, w.wk + 7) tp
    cross join lateral (
        select s.short, s.excess, s.short + s.excess as score
        from (select greatest(0, round((tp.deployment_arr * tp.addressable - tp.ai_resolved)::numeric, 4)) as short,
                     greatest(0, coalesce(round((tp.reopened - tp.deployment_reopen_rate * tp.ai_outcomes)::numeric, 4),
                                          0)) as excess) s
    ) x
    where tp.covered and x.score > 0
    order by tp.deployment_id, 4;
end;

-- The week's opportunities: metrics.topic_opportunities over the ISO week containing p_week
-- (uncovered volume x escalation cost), with the topic's name.
create function metrics.weekly_brief_topics_to_add(p_deployment_ids bigint[], p_week date)
returns table (
    org_id              bigint,
    deployment_id       bigint,
    week_start          date,
    rank                bigint,
    topic_id            bigint,
    topic_name          text,
    conversations       bigint,
    uncovered           bigint,
    uncovered_escalated bigint,
    escalation_cost     numeric,
    score               numeric,
    uncovered_share     double precision
)
language sql stable
begin atomic
    select t.org_id, o.deployment_id, w.wk, o.rank, o.topic_id, t.name, o.conversations, o.uncovered,
           o.uncovered_escalated, o.escalation_cost, o.score, o.uncovered_share
    from (select date_trunc('week', p_week::timestamp)::date as wk) w
    cross join lateral metrics.topic_opportunities(p_deployment_ids, w.wk, w.wk + 7) o
    join steward.topics t on t.id = o.topic_id
    order by o.deployment_id, o.rank;
end;

-- --- the weekly brief: stale workflows ----------------------------------------------------------
-- Workflows live at the end of the ISO week containing p_week (or now, if earlier: as_of)
-- that have not changed for more than the policy's stale_update_days, and whose topic's ARR
-- in the week fell by the policy's arr_drop_points or more below its 4-week baseline (the 4
-- weeks before; rounded as health's ARR_DECLINING). A workflow changes when an update names
-- it, and when its current active period begins (it went live).
create function metrics.weekly_brief_stale_workflows(p_deployment_ids bigint[], p_week date)
returns table (
    org_id                  bigint,
    deployment_id           bigint,
    week_start              date,
    workflow_id             bigint,
    workflow_name           text,
    topic_id                bigint,
    topic_name              text,
    live_since              timestamptz,
    last_update_at          timestamptz,
    last_changed_at         timestamptz,
    days_unchanged          integer,
    stale_update_days       integer,
    week_addressable        bigint,
    week_ai_resolved        bigint,
    week_arr                double precision,
    baseline_addressable    bigint,
    baseline_ai_resolved    bigint,
    baseline_arr            double precision,
    arr_change_points       double precision
)
language sql stable
begin atomic
    with w as (
        select date_trunc('week', p_week::timestamp)::date as wk,
               -- a week not yet begun has no instant to judge at: an empty week, no rows
               greatest(internals.utc(date_trunc('week', p_week::timestamp)::date),
                        least(internals.utc(date_trunc('week', p_week::timestamp)::date + 7), steward.clock())) as as_of
    )
    select d.org_id, d.id, w.wk, wf.id, wf.name, wf.topic_id, cur.topic_name, lower(per.active), lu.last_at,
           c.changed_at, internals.whole_days(c.changed_at, w.as_of), pol.stale_update_days,
           cur.addressable, cur.ai_resolved, cur.addressable_resolution_rate,
           base.addressable, base.ai_resolved, base.addressable_resolution_rate,
           (cur.addressable_resolution_rate - base.addressable_resolution_rate) * 100
    from w
    join steward.deployments d on d.id = any (p_deployment_ids)
    join steward.health_policies pol on pol.org_id = d.org_id
    join steward.workflows wf on wf.org_id = d.org_id and wf.deployment_id = d.id
    -- live at the end of the week: the period overlaps the week and runs to as_of or beyond
    join steward.workflow_periods per
      on per.org_id = wf.org_id and per.workflow_id = wf.id
     and per.active && tstzrange(internals.utc(w.wk), w.as_of)
     and (upper_inf(per.active) or upper(per.active) >= w.as_of)
    left join lateral (
        select max(wu.occurred_at) as last_at from steward.workflow_updates wu
        where wu.org_id = d.org_id and wu.deployment_id = d.id and wu.workflow_id = wf.id and wu.occurred_at < w.as_of
    ) lu on true
    cross join lateral (select greatest(lower(per.active), lu.last_at) as changed_at) c
    join metrics.topic_performance(p_deployment_ids, w.wk, w.wk + 7) cur
      on cur.deployment_id = d.id and cur.topic_id = wf.topic_id
    join metrics.topic_performance(p_deployment_ids, w.wk - 28, w.wk) base
      on base.deployment_id = d.id and base.topic_id = wf.topic_id
    where c.changed_at < w.as_of - make_interval(hours => 24 * pol.stale_update_days)
      and round(((base.addressable_resolution_rate - cur.addressable_resolution_rate) * 100)::numeric, 6)
          >= pol.arr_drop_points
    order by d.id, (cur.addressable_resolution_rate - base.addressable_resolution_rate), wf.id;
end;

-- --- alerts ---------------------------------------------------------------------------------------
-- Health events that are alerts: an event that brought a reason code its predecessor did not
-- have (new_reasons), other than the evaluator's baselines (status_before null, cause TIME:
-- seeding, never announced; sql/migrations/0010_health_events.sql). With its acknowledgement:
--   late: acknowledged more than the policy's escalation_after_days after it occurred, or not
--     acknowledged and older than that now;
--   still_applies: one of its new reasons is in the deployment's latest event now;
--   open: not acknowledged and still applies (the brief's open events).
create function metrics.health_alerts(p_deployment_ids bigint[])
returns table (
    org_id                  bigint,
    deployment_id           bigint,
    event_id                bigint,
    occurred_at             timestamptz,
    status_before           text,
    status_after            text,
    new_reasons             text[],
    acknowledged_at         timestamptz,
    escalation_after_days   integer,
    late                    boolean,
    still_applies           boolean,
    open                    boolean
)
language sql stable
begin atomic
    select e.org_id, e.deployment_id, e.id, e.occurred_at, e.status_before, e.status_after, n.codes,
           a.acknowledged_at, pol.escalation_after_days,
           coalesce(a.acknowledged_at, (select steward.clock()))
               > e.occurred_at + make_interval(hours => 24 * pol.escalation_after_days),
           s.applies,
           a.acknowledged_at is null and s.applies
    from steward.health_events e
    join steward.health_policies pol on pol.org_id = e.org_id
    cross join lateral (
        select array(select r from unnest(e.reasons_after) r
                     where r <> all (coalesce(e.reasons_before, '{}')) order by r) as codes
    ) n
    left join steward.health_event_acknowledgements a on a.org_id = e.org_id and a.event_id = e.id
    cross join lateral (
        select coalesce(l.reasons_after && n.codes, false) as applies
        from (select null) one
        left join lateral (
            select le.reasons_after from steward.health_events le
            where le.org_id = e.org_id and le.deployment_id = e.deployment_id
              and le.occurred_at <= (select steward.clock())
            order by le.id desc limit 1
        ) l on true
    ) s
    where e.deployment_id = any (p_deployment_ids) and e.occurred_at <= (select steward.clock())
      and not (e.status_before is null and e.cause = 'TIME')
      and cardinality(n.codes) > 0
    order by e.deployment_id, e.id;
end;

-- --- the weekly brief: header and review --------------------------------------------------------
-- One row per deployment for the ISO week containing p_week: the week's dates, whether it is
-- over, and whether its brief was reviewed. The brief counts as reviewed by the first review
-- that counts under the policy (metrics.reviews) and either names the week (brief_week) or was
-- made in the week after it, when the brief is read. review_due: the week is over and its
-- brief has no such review. next_review_due_at: when REVIEW_OVERDUE will apply (the last
-- counted review + review_due_days); null without a counted review (overdue already).
create function metrics.weekly_brief(p_deployment_ids bigint[], p_week date)
returns table (
    org_id                  bigint,
    deployment_id           bigint,
    week_start              date,
    week_end                date,
    previous_week_start     date,
    baseline_from           date,
    complete                boolean,
    reviewers_counted       text,
    brief_reviewed_at       timestamptz,
    review_due              boolean,
    last_counted_review_at  timestamptz,
    next_review_due_at      timestamptz
)
language sql stable
begin atomic
    select d.org_id, d.id, w.wk, w.wk + 7, w.wk - 7, w.wk - 28,
           internals.utc(w.wk + 7) <= (select steward.clock()),
           pol.reviewers_counted,
           br.at,
           internals.utc(w.wk + 7) <= (select steward.clock()) and br.at is null,
           lr.at,
           lr.at + make_interval(hours => 24 * pol.review_due_days)
    from (select date_trunc('week', p_week::timestamp)::date as wk) w
    join steward.deployments d on d.id = any (p_deployment_ids)
    join steward.health_policies pol on pol.org_id = d.org_id
    left join lateral (
        select min(r.reviewed_at) as at from metrics.reviews r
        where r.org_id = d.org_id and r.deployment_id = d.id and r.counted
          and r.reviewed_at <= (select steward.clock())
          and (r.brief_week = w.wk
               or (r.reviewed_at >= internals.utc(w.wk + 7) and r.reviewed_at < internals.utc(w.wk + 14)))
    ) br on true
    left join lateral (
        select max(r.reviewed_at) as at from metrics.reviews r
        where r.org_id = d.org_id and r.deployment_id = d.id and r.counted
          and r.reviewed_at <= (select steward.clock())
    ) lr on true
    order by d.id;
end;

-- --- ownership maturity ---------------------------------------------------------------------------
-- The five duties of an owner, as of now, one row per deployment and duty; level is the number
-- of consecutive duties met counting from the first (0-5). "The last 8 weeks" are the 8
-- complete ISO weeks up to metrics.last_complete_week().
--   1 NAMED_CX_OWNER: an active accountable owner in CX at or above the policy's min_owner_fte
--     (none of NO_OWNER, OWNER_INACTIVE, OWNER_OUTSIDE_CX, OWNER_LOW_FTE in metrics.health);
--   2 WEEKLY_REVIEW: weeks reviewed (counted reviews, metrics.deployment_window) over the last
--     8 weeks >= 80%, that is at least 7 of 8;
--   3 KEPT_CURRENT: workflow updates in at least 6 of the last 8 weeks (metrics.deployment_weeks),
--     and no stale workflow on a declining topic in the last complete week's brief
--     (metrics.weekly_brief_stale_workflows);
--   4 COVERAGE_GROWING: a NEW_USE_CASE or CHANNEL_LAUNCH update in the last 60 days, or the top
--     opportunity of the last 28 days (metrics.topic_opportunities, rank 1) takes a smaller share
--     of the deployment's conversations than it did in the 28 days before, or conversations but
--     nothing uncovered in the last 28 days (nothing left to add);
--   5 ESCALATION_PATH: an active escalation contact named, and no alert of the last 56 days
--     (metrics.health_alerts) late: each acknowledged within the policy's escalation_after_days.
-- evidence: the figures behind the verdict (JSON); next_step: one sentence of advice for a duty
-- not met (null when met).
create function metrics.maturity(p_deployment_ids bigint[])
returns table (
    org_id          bigint,
    deployment_id   bigint,
    duty_number     integer,
    duty            text,
    met             boolean,
    evidence        jsonb,
    next_step       text,
    level           integer,
    as_of           timestamptz
)
language sql stable
begin atomic
    with c as (
        select steward.clock() as now,
               (steward.clock() at time zone 'UTC')::date as today,
               metrics.last_complete_week() as lcw
    ),
    dep as (
        select d.org_id, d.id as deployment_id, d.escalation_person_id, pol.min_owner_fte, pol.reviewers_counted,
               pol.escalation_after_days, pol.stale_update_days
        from steward.deployments d
        join steward.health_policies pol on pol.org_id = d.org_id
        where d.id = any (p_deployment_ids)
    ),
    h as (
        select h.deployment_id, array(select r->>'code' from jsonb_array_elements(h.reasons) r) as codes
        from metrics.health(p_deployment_ids) h
    ),
    rw as (
        select m.deployment_id, m.weeks_reviewed, m.counted_reviews, m.reviews
        from c, metrics.deployment_window(p_deployment_ids, c.lcw - 49, c.lcw + 7) m
    ),
    uw as (
        select m.deployment_id, count(*) filter (where m.workflow_updates > 0) as weeks_with_updates,
               sum(m.workflow_updates) as updates
        from c, metrics.deployment_weeks(p_deployment_ids, c.lcw - 49, c.lcw + 7) m
        group by m.deployment_id
    ),
    stale as (
        select s.deployment_id, count(*) as n,
               (array_agg(jsonb_build_object('workflow', s.workflow_name, 'topic', s.topic_name,
                                             'days_unchanged', s.days_unchanged,
                                             'arr_change_points', round(s.arr_change_points::numeric, 1))
                          order by s.arr_change_points, s.workflow_id))[1:3] as worst
        from c, metrics.weekly_brief_stale_workflows(p_deployment_ids, c.lcw) s
        group by s.deployment_id
    ),
    launches as (
        select wu.deployment_id, count(*) as n,
               (array_agg(jsonb_build_object('kind', wu.kind, 'occurred_at', wu.occurred_at, 'summary', wu.summary)
                          order by wu.occurred_at desc, wu.id desc))[1] as latest
        from c, steward.workflow_updates wu
        where wu.deployment_id = any (p_deployment_ids) and wu.kind in ('NEW_USE_CASE', 'CHANNEL_LAUNCH')
          and wu.occurred_at <= c.now and wu.occurred_at > c.now - make_interval(hours => 24 * 60)
        group by wu.deployment_id
    ),
    recent as (
        select m.deployment_id, m.conversations, m.topic_coverage
        from c, metrics.deployment_window(p_deployment_ids, c.today - 27, c.today + 1) m
    ),
    top_now as (
        select o.deployment_id, o.topic_id, t.name as topic_name, o.uncovered, o.uncovered_share, o.score
        from c, metrics.topic_opportunities(p_deployment_ids, c.today - 27, c.today + 1) o
        join steward.topics t on t.id = o.topic_id
        where o.rank = 1
    ),
    top_before as (
        select o.deployment_id, o.topic_id, o.uncovered_share
        from c, metrics.topic_opportunities(p_deployment_ids, c.today - 55, c.today - 27) o
    ),
    alerts as (
        select a.deployment_id, count(*) as n, count(*) filter (where a.late) as late
        from c, metrics.health_alerts(p_deployment_ids) a
        where a.occurred_at > c.now - make_interval(hours => 24 * 56)
        group by a.deployment_id
    ),
    facts as (
        select dep.*, c.now, c.lcw,
               co.person_name as owner_name, co.person_function as owner_function, co.fte_on_ai as owner_fte,
               co.person_active as owner_active, co.owner_since,
               coalesce(h.codes, '{}') as codes,
               round((coalesce(rw.weeks_reviewed, 0) * 8)::numeric)::integer as weeks_reviewed,
               coalesce(rw.counted_reviews, 0) as counted_reviews, coalesce(rw.reviews, 0) as reviews,
               coalesce(uw.weeks_with_updates, 0) as weeks_with_updates, coalesce(uw.updates, 0) as updates,
               coalesce(stale.n, 0) as stale_n, coalesce(to_jsonb(stale.worst), '[]'::jsonb) as stale_worst,
               coalesce(launches.n, 0) as launches_n, launches.latest as launch_latest,
               coalesce(recent.conversations, 0) as recent_conversations, recent.topic_coverage as recent_coverage,
               tn.topic_name as top_topic, tn.uncovered as top_uncovered, tn.uncovered_share as top_share,
               tn.score as top_score, coalesce(tb.uncovered_share, 0) as top_share_before,
               tn.topic_id is not null as has_top,
               ep.name as contact_name, coalesce(ep.active, false) as contact_active,
               coalesce(alerts.n, 0) as alerts_n, coalesce(alerts.late, 0) as alerts_late
        from dep
        cross join c
        left join metrics.current_owners co on co.org_id = dep.org_id and co.deployment_id = dep.deployment_id
        left join h on h.deployment_id = dep.deployment_id
        left join rw on rw.deployment_id = dep.deployment_id
        left join uw on uw.deployment_id = dep.deployment_id
        left join stale on stale.deployment_id = dep.deployment_id
        left join launches on launches.deployment_id = dep.deployment_id
        left join recent on recent.deployment_id = dep.deployment_id
        left join top_now tn on tn.deployment_id = dep.deployment_id
        left join top_before tb on tb.deployment_id = tn.deployment_id and tb.topic_id = tn.topic_id
        left join alerts on alerts.deployment_id = dep.deployment_id
        left join steward.persons ep on ep.org_id = dep.org_id and ep.id = dep.escalation_person_id
    ),
    duties as (
        select f.org_id, f.deployment_id, f.now, x.duty_number, x.duty, x.met, x.evidence,
               case when not x.met then x.advice end as next_step
        from facts f
        cross join lateral (values
            (1, 'NAMED_CX_OWNER',
             not (f.codes && array['NO_OWNER', 'OWNER_INACTIVE', 'OWNER_OUTSIDE_CX', 'OWNER_LOW_FTE']),
             jsonb_build_object('owner', f.owner_name, 'function', f.owner_function, 'fte_on_ai', f.owner_fte,
                                'owner_active', f.owner_active, 'owner_since', f.owner_since,
                                'min_owner_fte', f.min_owner_fte),
             case when f.owner_name is null then
                      format('Name one accountable owner in CX with at least %s FTE on the AI: nobody owns it now.',
                             f.min_owner_fte)
                  when not f.owner_active then
                      format('%s has left: name a CX owner with at least %s FTE on the AI to take it over this week.',
                             f.owner_name, f.min_owner_fte)
                  when f.owner_function <> 'CX' then
                      format('Hand ownership from %s (%s) to a CX lead with at least %s FTE on the AI, who can '
                             'change it and answers for its results.', f.owner_name, lower(f.owner_function),
                             f.min_owner_fte)
                  else format('Give %s at least %s FTE on the AI (now %s), or hand ownership to a CX lead who has '
                              'the time.', f.owner_name, f.min_owner_fte, f.owner_fte) end),
            (2, 'WEEKLY_REVIEW', f.weeks_reviewed >= 7,
             jsonb_build_object('weeks_reviewed', f.weeks_reviewed, 'weeks', 8, 'required_weeks', 7,
                                'counted_reviews', f.counted_reviews,
                                'uncounted_reviews', f.reviews - f.counted_reviews,
                                'reviewers_counted', f.reviewers_counted,
                                'from', f.lcw - 49, 'to', f.lcw + 7),
             case when f.reviews > f.counted_reviews and f.reviewers_counted <> 'ANYONE' then
                      format('Only %s reviews count, and %s of the last 8 weeks had one (7 needed) while %s reviews '
                             'by others did not count: have %s review the weekly brief every week and record it.',
                             case f.reviewers_counted when 'OWNER' then 'the owner''s'
                                                      else 'the owner''s and CX''s' end,
                             f.weeks_reviewed, f.reviews - f.counted_reviews,
                             coalesce(f.owner_name, 'a newly named owner'))
                  when f.owner_name is null then
                      format('Reviews that count came in %s of the last 8 weeks (7 needed): once an owner is named, '
                             'have them review the weekly brief every week and record it.', f.weeks_reviewed)
                  else format('%s reviewed in %s of the last 8 weeks (7 needed): book a weekly 30-minute review of '
                              'the brief and record each one.', f.owner_name, f.weeks_reviewed) end),
            (3, 'KEPT_CURRENT', f.weeks_with_updates >= 6 and f.stale_n = 0,
             jsonb_build_object('weeks_with_updates', f.weeks_with_updates, 'weeks', 8, 'required_weeks', 6,
                                'updates', f.updates, 'stale_workflows_on_declining_topics', f.stale_n,
                                'stale_workflows', f.stale_worst, 'stale_update_days', f.stale_update_days),
             case when f.stale_n > 0 then
                      format('Update the "%s" workflow this week: it has not changed in %s days while ARR on %s fell '
                             '%s points below its 4-week baseline%s.',
                             f.stale_worst->0->>'workflow', f.stale_worst->0->>'days_unchanged',
                             f.stale_worst->0->>'topic', abs((f.stale_worst->0->>'arr_change_points')::numeric),
                             case when f.stale_n > 1 then format(' (%s stale workflows in all)', f.stale_n) else '' end)
                  else format('Changes landed in only %s of the last 8 weeks (6 needed): set a weekly slot to act on '
                              'what the review finds, starting with the brief''s topics to fix.',
                              f.weeks_with_updates) end),
            (4, 'COVERAGE_GROWING',
             f.launches_n > 0 or (f.has_top and f.top_share < f.top_share_before)
                 or (not f.has_top and f.recent_conversations > 0),
             jsonb_build_object('launches_60_days', f.launches_n, 'last_launch', f.launch_latest,
                                'topic_coverage', f.recent_coverage, 'conversations', f.recent_conversations,
                                'top_opportunity', case when f.has_top then jsonb_build_object(
                                    'topic', f.top_topic, 'uncovered', f.top_uncovered,
                                    'share', f.top_share, 'share_before', f.top_share_before,
                                    'score', f.top_score) end),
             case when f.has_top then
                      format('Build a workflow for %s: %s conversations in the last 4 weeks (%s%% of volume) had none, '
                             'about %s in escalation cost, and nothing new launched in 60 days.',
                             f.top_topic, f.top_uncovered, round((f.top_share * 100)::numeric, 1),
                             to_char(f.top_score, 'FM999,999,990'))
                  else 'No conversations arrived in the last 4 weeks: check that they are being ingested before '
                       'planning new use cases.' end),
            (5, 'ESCALATION_PATH', f.contact_active and f.alerts_late = 0,
             jsonb_build_object('escalation_contact', f.contact_name, 'contact_active', f.contact_active,
                                'alerts_56_days', f.alerts_n, 'alerts_late', f.alerts_late,
                                'escalation_after_days', f.escalation_after_days),
             case when f.contact_name is null then
                      'Name an escalation contact, usually the CX leader, so alerts about this deployment reach '
                      'someone who can act.'
                  when not f.contact_active then
                      format('%s, the escalation contact, has left: name the CX leader instead.', f.contact_name)
                  else format('%s of %s alerts in the last 8 weeks were acknowledged late or not at all: have %s '
                              'acknowledge each alert within %s days.', f.alerts_late, f.alerts_n,
                              coalesce(f.owner_name, f.contact_name), f.escalation_after_days) end)
        ) as x(duty_number, duty, met, evidence, advice)
    )
    select d.org_id, d.deployment_id, d.duty_number, d.duty, d.met, d.evidence, d.next_step,
           (coalesce(min(d.duty_number) filter (where not d.met) over (partition by d.deployment_id), 6) - 1)::integer,
           d.now
    from duties d
    order by d.deployment_id, d.duty_number;
end;

-- Every deployment's maturity, for BI tools.
create view metrics.deployment_maturity with (security_invoker = true) as
select m.* from metrics.maturity(array(select id from steward.deployments)) m;

-- --- what cadence buys ---------------------------------------------------------------------------
-- For each lag L from 0 to p_max_lag (at most 52): the within-deployment estimate of the ARR
-- points gained in a week per additional workflow update in the week L weeks earlier.
-- Sample: the current organization's owned deployment-weeks t with something addressable,
-- whole ISO weeks inside [p_from, p_to) (metrics.deployment_week_facts: owned for most of
-- the week, live, not in the future), whose week t-L is also one of the deployment's live
-- weeks. Owned weeks only: an unowned week has neither updates nor an owner's attention, and
-- mixing the two is what ownership_impact's cadence buckets cannot help doing.
-- Model: y(d,t) = 100 x ARR(d,t) = a(d) + b x updates(d,t-L) + e, deployment fixed effects.
-- Estimated on the series demeaned per deployment: b = Sxy / Sxx (regr_sxy, regr_sxx of the
-- demeaned values, whose means are 0), residual sum of squares Syy - Sxy²/Sxx, degrees of
-- freedom n - G - 1 (n deployment-weeks, G deployments), standard error
-- sqrt(RSS / df / Sxx), interval b ± t(0.975, df) x se (internals.t975). Null where
-- updates do not vary within any deployment (Sxx = 0) or df < 1. Unweighted: every
-- deployment-week counts once, whatever its volume; errors are taken as independent
-- (no clustering), so the interval is a lower bound on the uncertainty.
create function metrics.cadence_effect(p_from date, p_to date, p_max_lag integer default 8)
returns table (
    lag_weeks           integer,
    estimate            double precision,
    std_error           double precision,
    ci_low              double precision,
    ci_high             double precision,
    deployment_weeks    bigint,
    deployments         bigint,
    degrees_of_freedom  integer
)
language sql stable
begin atomic
    with lags as (
        -- no organization, no rows
        select l as lag from generate_series(0, least(p_max_lag, 52)) l
        where exists (select 1 from steward.organizations o where o.id = (select steward.current_org_id()))
    ),
    facts as (
        select * from metrics.deployment_week_facts(p_from - 7 * greatest(least(p_max_lag, 52), 0), p_to)
    ),
    obs as (
        select l.lag, y.deployment_id,
               100 * y.ai_resolved::double precision / y.addressable as arr_points,
               x.workflow_updates::double precision as updates
        from lags l
        join facts y on y.week_start >= p_from and y.owned and y.addressable > 0
        join facts x on x.deployment_id = y.deployment_id and x.week_start = y.week_start - 7 * l.lag
    ),
    demeaned as (
        select o.lag, o.deployment_id,
               o.arr_points - avg(o.arr_points) over (partition by o.lag, o.deployment_id) as y,
               o.updates - avg(o.updates) over (partition by o.lag, o.deployment_id) as x
        from obs o
    ),
    sums as (
        select dm.lag, count(*) as n, count(distinct dm.deployment_id) as g,
               regr_sxx(dm.y, dm.x) as sxx, regr_syy(dm.y, dm.x) as syy, regr_sxy(dm.y, dm.x) as sxy
        from demeaned dm
        group by dm.lag
    ),
    fit as (
        select s.lag, s.n, s.g, (s.n - s.g - 1)::integer as df,
               case when s.sxx > 0 then s.sxy / s.sxx end as b,
               case when s.sxx > 0 and s.n - s.g - 1 >= 1
                    then sqrt(greatest(s.syy - s.sxy ^ 2 / s.sxx, 0) / (s.n - s.g - 1) / s.sxx) end as se
        from sums s
    )
    select l.lag, f.b, f.se,
           f.b - internals.t975(f.df) * f.se, f.b + internals.t975(f.df) * f.se,
           coalesce(f.n, 0), coalesce(f.g, 0), f.df
    from lags l
    left join fit f on f.lag = l.lag
    order by l.lag;
end;

-- --- a leader's view -----------------------------------------------------------------------------
-- One row for the current organization over [p_from, p_to) (dates in UTC):
--   now, over its non-retired deployments: deployments, owned and unowned (health UNOWNED, as
--     metrics.ownership_overview counts them); owners (distinct active people) outside CX or
--     below the policy's min_owner_fte, and the deployments they own; deployments per maturity
--     level (metrics.maturity);
--   over the window: ARR of owned and of unowned deployment-weeks (metrics.deployment_week_facts,
--     as ownership_impact) with 95% Wilson intervals on the pooled counts (conversations taken
--     as independent, so the intervals are narrow where deployments differ);
--   the gap ledger (metrics.ownership_gaps): gaps overlapping the window, each counted whole
--     (resolutions lost and their estimated cost over the gap so far), and how many are open.
create function metrics.scorecard(p_from date, p_to date)
returns table (
    org_id                          bigint,
    window_from                     date,
    window_to                       date,
    deployments                     bigint,
    owned                           bigint,
    unowned                         bigint,
    owners_outside_cx               bigint,
    owners_below_fte                bigint,
    deployments_owner_outside_cx    bigint,
    deployments_owner_below_fte     bigint,
    maturity_level_0                bigint,
    maturity_level_1                bigint,
    maturity_level_2                bigint,
    maturity_level_3                bigint,
    maturity_level_4                bigint,
    maturity_level_5                bigint,
    owned_deployment_weeks          bigint,
    owned_addressable               bigint,
    owned_ai_resolved               bigint,
    owned_arr                       double precision,
    owned_arr_ci_low                double precision,
    owned_arr_ci_high               double precision,
    unowned_deployment_weeks        bigint,
    unowned_addressable             bigint,
    unowned_ai_resolved             bigint,
    unowned_arr                     double precision,
    unowned_arr_ci_low              double precision,
    unowned_arr_ci_high             double precision,
    gaps                            bigint,
    open_gaps                       bigint,
    resolutions_lost                double precision,
    estimated_cost                  numeric
)
language sql stable
begin atomic
    with live as (
        select d.org_id, d.id from steward.deployments d
        where d.org_id = (select steward.current_org_id()) and d.status <> 'RETIRED'
    ),
    h as (select h.* from metrics.health(array(select id from live)) h),
    owners as (
        select co.deployment_id, co.person_id, co.person_function, co.fte_on_ai, pol.min_owner_fte
        from metrics.current_owners co
        join live on live.org_id = co.org_id and live.id = co.deployment_id
        join steward.health_policies pol on pol.org_id = co.org_id
        where co.person_active
    ),
    levels as (
        select m.deployment_id, min(m.level) as level
        from metrics.maturity(array(select id from live)) m group by m.deployment_id
    ),
    weeks as (
        select f.owned, count(*) as n, sum(f.addressable)::bigint as addressable, sum(f.ai_resolved)::bigint as resolved
        from metrics.deployment_week_facts(p_from, p_to) f group by f.owned
    ),
    gaps as (
        select count(*) as n, count(*) filter (where g.is_open) as open_n,
               sum(g.resolutions_lost) as lost, sum(g.estimated_cost) as cost
        from metrics.ownership_gaps(array(select d.id from steward.deployments d
                                          where d.org_id = (select steward.current_org_id()))) g
        where g.started_at < internals.utc(p_to) and (g.ended_at is null or g.ended_at > internals.utc(p_from))
    )
    select o.id, p_from, p_to,
           (select count(*) from h),
           (select count(*) from h where h.status <> 'UNOWNED'),
           (select count(*) from h where h.status = 'UNOWNED'),
           (select count(distinct person_id) from owners where person_function <> 'CX'),
           (select count(distinct person_id) from owners where fte_on_ai < min_owner_fte),
           (select count(*) from owners where person_function <> 'CX'),
           (select count(*) from owners where fte_on_ai < min_owner_fte),
           (select count(*) from levels where level = 0),
           (select count(*) from levels where level = 1),
           (select count(*) from levels where level = 2),
           (select count(*) from levels where level = 3),
           (select count(*) from levels where level = 4),
           (select count(*) from levels where level = 5),
           coalesce(ow.n, 0), coalesce(ow.addressable, 0), coalesce(ow.resolved, 0),
           internals.ratio(ow.resolved, ow.addressable),
           internals.wilson_low(ow.resolved, ow.addressable), internals.wilson_high(ow.resolved, ow.addressable),
           coalesce(un.n, 0), coalesce(un.addressable, 0), coalesce(un.resolved, 0),
           internals.ratio(un.resolved, un.addressable),
           internals.wilson_low(un.resolved, un.addressable), internals.wilson_high(un.resolved, un.addressable),
           gaps.n, gaps.open_n, coalesce(gaps.lost, 0), coalesce(gaps.cost, 0)
    from steward.organizations o
    cross join gaps
    left join weeks ow on ow.owned
    left join weeks un on not un.owned
    where o.id = (select steward.current_org_id()) and p_from < p_to;
end;

-- The scorecard's trend: per ISO week (whole weeks inside [p_from, p_to), not in the future)
-- of the current organization: deployment-weeks live, owned and unowned, their ARR with 95%
-- Wilson intervals, workflow updates, and deployments with a counted review that week.
create function metrics.scorecard_weeks(p_from date, p_to date)
returns table (
    org_id                  bigint,
    week_start              date,
    deployments             bigint,
    owned                   bigint,
    unowned                 bigint,
    owned_addressable       bigint,
    owned_ai_resolved       bigint,
    owned_arr               double precision,
    owned_arr_ci_low        double precision,
    owned_arr_ci_high       double precision,
    unowned_addressable     bigint,
    unowned_ai_resolved     bigint,
    unowned_arr             double precision,
    unowned_arr_ci_low      double precision,
    unowned_arr_ci_high     double precision,
    workflow_updates        bigint,
    reviewed                bigint
)
language sql stable
begin atomic
    with f as (
        select f.*, exists (
            select 1 from metrics.reviews r
            where r.org_id = (select steward.current_org_id()) and r.deployment_id = f.deployment_id and r.counted
              and r.reviewed_at >= internals.utc(f.week_start) and r.reviewed_at < internals.utc(f.week_start + 7)
        ) as reviewed
        from metrics.deployment_week_facts(p_from, p_to) f
    ),
    w as (
        select f.week_start, count(*) as n, count(*) filter (where f.owned) as owned,
               sum(f.addressable) filter (where f.owned) as o_addr, sum(f.ai_resolved) filter (where f.owned) as o_res,
               sum(f.addressable) filter (where not f.owned) as u_addr,
               sum(f.ai_resolved) filter (where not f.owned) as u_res,
               sum(f.workflow_updates) as updates, count(*) filter (where f.reviewed) as reviewed
        from f group by f.week_start
    )
    select (select steward.current_org_id()), w.week_start, w.n, w.owned, w.n - w.owned,
           coalesce(w.o_addr, 0)::bigint, coalesce(w.o_res, 0)::bigint, internals.ratio(w.o_res, w.o_addr),
           internals.wilson_low(w.o_res, w.o_addr), internals.wilson_high(w.o_res, w.o_addr),
           coalesce(w.u_addr, 0)::bigint, coalesce(w.u_res, 0)::bigint, internals.ratio(w.u_res, w.u_addr),
           internals.wilson_low(w.u_res, w.u_addr), internals.wilson_high(w.u_res, w.u_addr),
           w.updates::bigint, w.reviewed
    from w
    order by w.week_start;
end;

comment on function metrics.topic_performance(bigint[], date, date) is
    'Per deployment and topic in [p_from, p_to): volume, coverage, ARR, reopen, automation and escalation rates '
    'with their counts, whether covered, the deployment''s own ARR and reopen rate, and the opportunity: AUTOMATE '
    '(uncovered), IMPROVE (covered, ARR below the deployment''s) or NONE, scored in escalation cost.';
comment on function metrics.topic_weeks(bigint[], date, date) is
    'metrics.topic_performance per ISO week (Monday, UTC) overlapping [p_from, p_to), each week measured whole.';
comment on function metrics.weekly_brief_headline(bigint[], date) is
    'Weekly brief headline per deployment and figure (ARR, REOPEN_RATE, COVERAGE, AUTOMATION_RATE, ESCALATION_RATE, '
    'VOLUME) for the ISO week containing p_week: week, previous week and 4-week baseline with counts and 95% '
    'intervals (Wilson; Poisson score for volume); significant when the week''s and the baseline''s intervals do '
    'not overlap.';
comment on function metrics.weekly_brief_topics_to_fix(bigint[], date) is
    'Covered topics of the week doing worse than their deployment, ranked by AI resolutions short of the '
    'deployment''s ARR plus reopens above its reopen rate (volume-weighted), with counts.';
comment on function metrics.weekly_brief_topics_to_add(bigint[], date) is
    'The week''s topic opportunities (uncovered volume x escalation cost, metrics.topic_opportunities), ranked.';
comment on function metrics.weekly_brief_stale_workflows(bigint[], date) is
    'Workflows live at the end of the week, unchanged for longer than the policy''s stale_update_days, whose topic''s '
    'ARR in the week fell by arr_drop_points or more below its 4-week baseline.';
comment on function metrics.health_alerts(bigint[]) is
    'Health events that brought a new reason (evaluator baselines excepted), with their acknowledgement, whether '
    'it was late (after escalation_after_days), whether a new reason still applies, and open (unacknowledged and '
    'still applying).';
comment on function metrics.weekly_brief(bigint[], date) is
    'Weekly brief header per deployment for the ISO week containing p_week: its dates, whether it is over, and '
    'whether its brief was reviewed (a counted review naming the week or made the week after); review_due when not.';
comment on function metrics.maturity(bigint[]) is
    'Ownership maturity now: per deployment and duty (1 NAMED_CX_OWNER, 2 WEEKLY_REVIEW, 3 KEPT_CURRENT, '
    '4 COVERAGE_GROWING, 5 ESCALATION_PATH) whether it is met, the evidence, the next step, and the level '
    '(consecutive duties met from the first, 0-5).';
comment on function metrics.cadence_effect(date, date, integer) is
    'Per lag 0..p_max_lag weeks: the within-deployment (fixed effects) OLS estimate of ARR points per additional '
    'workflow update L weeks earlier, over the current organization''s owned deployment-weeks in [p_from, p_to), '
    'with its standard error and 95% t interval (df = deployment-weeks - deployments - 1).';
comment on function metrics.scorecard(date, date) is
    'The current organization''s scorecard: deployments owned and unowned, owners outside CX or below the FTE floor, '
    'deployments per maturity level, ARR of owned vs unowned deployment-weeks in [p_from, p_to) with 95% Wilson '
    'intervals, and the ownership gaps overlapping the window with resolutions lost and their cost.';
comment on function metrics.scorecard_weeks(date, date) is
    'The scorecard''s trend per ISO week in [p_from, p_to): deployments owned and unowned, their ARR with 95% '
    'Wilson intervals, workflow updates and deployments with a counted review.';
