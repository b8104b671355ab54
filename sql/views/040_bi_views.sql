-- Views for BI tools (Metabase, Superset, Tableau, Power BI). Together with
-- the views above they are the stable SQL contract; every column is commented
-- from the glossary at the end of this file.

create view metrics.deployments with (security_invoker = true) as
select d.org_id, o.slug as org_slug, d.id as deployment_id, d.key as deployment_key, d.name as deployment_name,
       d.channels, d.vendor, d.status, d.launched_at, d.integrations
from steward.deployments d
join steward.organizations o on o.id = d.org_id;

create view metrics.deployment_daily with (security_invoker = true) as
select cd.org_id, cd.deployment_id, cd.day, cd.conversations, cd.addressable,
       cd.conversations - cd.addressable as unaddressable, cd.ai_engaged, cd.ai_outcomes,
       cd.ai_resolved, cd.reopened, cd.escalated,
       internals.ratio(cd.addressable, cd.conversations) as topic_coverage,
       internals.ratio(cd.ai_resolved, cd.addressable) as addressable_resolution_rate,
       internals.ratio(cd.reopened, cd.ai_outcomes) as reopen_rate,
       internals.ratio(cd.ai_resolved, cd.conversations) as automation_rate,
       internals.ratio(cd.escalated, cd.addressable) as escalation_rate
from steward.conversation_daily cd;

-- The last 30 UTC days including today, per deployment.
create view metrics.deployment_last_30_days with (security_invoker = true) as
select m.*
from metrics.deployment_window(
         array(select id from steward.deployments),
         (steward.clock() at time zone 'UTC')::date - 29,
         (steward.clock() at time zone 'UTC')::date + 1) m;

-- ISO weeks of the last 26 weeks (current week included), per deployment.
create view metrics.deployment_weekly with (security_invoker = true) as
select m.window_from as week_start, m.*
from metrics.deployment_weeks(
         array(select id from steward.deployments),
         (date_trunc('week', steward.clock() at time zone 'UTC') - interval '25 weeks')::date,
         (steward.clock() at time zone 'UTC')::date + 1) m;

create view metrics.ownership_impact_last_90_days with (security_invoker = true) as
select steward.current_org_id() as org_id, i.*
from metrics.ownership_impact((steward.clock() at time zone 'UTC')::date - 89,
                              (steward.clock() at time zone 'UTC')::date + 1) i;

create table internals.glossary (column_name text primary key, doc text not null);
-- metrics.ownership_gaps (025_ownership_gaps.sql)
insert into internals.glossary
select 'started_at', 'When the ownership gap began: launch, or the end of the previous owner''s period.'
union all select 'ended_at', 'When the gap ended (an owner was named); null while it is open.'
union all select 'is_open', 'True while the gap lasts (no accountable owner now).'
union all select 'duration_days', 'Days (fractional) from the start of the gap to its end, or to now while open.'
union all select 'arr_owner_baseline', 'The current owner''s own ARR baseline: median ARR of the complete 28-day blocks of their period before the last 28 days (at most 12); null with fewer.'
union all select 'previous_assignment_id', 'The ownership period that ended where the gap starts; null for a gap from launch.'
union all select 'previous_person_id', 'The owner whose period ended where the gap starts; null for a gap from launch.'
union all select 'previous_person_name', 'Name of the previous owner; null for a gap from launch.'
union all select 'arr_change_points', 'ARR during the gap minus baseline ARR, in percentage points; null when either is null.'
union all select 'resolutions_lost', 'max(0, (baseline ARR - during ARR) x during addressable): AI resolutions the baseline rate would have given; null without a baseline ARR.'
union all select 'escalation_cost_per_resolution', 'Escalation cost of the topics of the gap''s addressable conversations, weighted by their volume.'
union all select 'estimated_cost', 'resolutions_lost x escalation_cost_per_resolution: each lost resolution priced as one escalation.'
union all select part || '_from', format('First UTC day of the %s window.', part) from unnest(array['baseline', 'during', 'latest']) part
union all select part || '_to', format('Day after the last UTC day of the %s window (exclusive).', part)
          from unnest(array['baseline', 'during', 'latest']) part
union all select part || '_' || m.col, format('%s, %s.', m.doc, w.doc)
          from unnest(array['baseline', 'during', 'latest'],
                      array['over the 28 UTC days before the gap''s first day',
                            'over the gap''s UTC days so far (today included)',
                            'over the gap''s last 28 UTC days so far']) w(part, doc)
          cross join (values
              ('conversations', 'Conversations started'),
              ('addressable', 'Addressable conversations'),
              ('ai_resolved', 'AI-resolved conversations (not reopened within the reopen window)'),
              ('ai_outcomes', 'Conversations with outcome AI_RESOLVED, reopened or not'),
              ('reopened', 'AI_RESOLVED conversations reopened within the reopen window'),
              ('arr', 'ARR (ai_resolved / addressable; null when nothing was addressable)'),
              ('reopen_rate', 'Reopen rate (reopened / ai_outcomes; null without AI resolutions)'),
              ('topic_coverage', 'Topic coverage (addressable / conversations; null without conversations)')) m(col, doc);
insert into internals.glossary values
  ('org_id', 'Organization (tenant) id.'),
  ('org_slug', 'Organization slug, unique.'),
  ('deployment_id', 'Deployment id.'),
  ('deployment_key', 'Deployment key, unique within its organization.'),
  ('deployment_name', 'Deployment display name.'),
  ('channels', 'Channels the deployment serves: CHAT, EMAIL, SMS, VOICE, SOCIAL.'),
  ('vendor', 'AI vendor.'),
  ('status', 'Deployment status (ACTIVE, PAUSED, RETIRED) or health status (UNOWNED, STALE, AT_RISK, HEALTHY).'),
  ('launched_at', 'When the deployment went live.'),
  ('integrations', 'Number of integrations the deployment uses.'),
  ('day', 'UTC calendar day.'),
  ('week_start', 'Monday (UTC) that starts the ISO week.'),
  ('window_from', 'First day of the half-open UTC window [window_from, window_to).'),
  ('window_to', 'Day after the last day of the window (exclusive).'),
  ('reopen_window_hours', 'Reopen window of the organization policy, in hours: a resolution reopened within it does not count as resolved.'),
  ('conversations', 'Conversations started in the window.'),
  ('addressable', 'Conversations whose topic had an active workflow covering their channel when they started.'),
  ('unaddressable', 'Conversations no workflow covered (unassisted): conversations - addressable.'),
  ('ai_engaged', 'Conversations in which the AI took part at all (assisted).'),
  ('ai_outcomes', 'Conversations with outcome AI_RESOLVED, reopened or not.'),
  ('ai_resolved', 'Addressable conversations resolved by the AI and not reopened within the reopen window.'),
  ('reopened', 'AI_RESOLVED conversations reopened within the reopen window.'),
  ('escalated', 'Addressable conversations handed to a person (outcome ESCALATED).'),
  ('topic_coverage', 'addressable / conversations (volume-weighted); null when there are no conversations.'),
  ('addressable_resolution_rate', 'ARR: ai_resolved / addressable; null when nothing was addressable.'),
  ('reopen_rate', 'reopened / ai_outcomes; null when there were no AI resolutions.'),
  ('automation_rate', 'ai_resolved / conversations (= ARR × coverage); null when there are no conversations.'),
  ('escalation_rate', 'escalated / addressable; null when nothing was addressable.'),
  ('workflow_updates', 'Workflow updates recorded in the window.'),
  ('peak_week_updates', 'Most workflow updates in any 7 consecutive UTC days inside the window.'),
  ('days_since_last_update', 'Whole days from the last workflow update to the end of the window (or now, if earlier); null if none.'),
  ('reviews', 'Performance reviews in the window, whether they count or not.'),
  ('counted_reviews', 'Performance reviews in the window that count under the policy (reviewers_counted).'),
  ('weeks_reviewed', 'Share of the window''s 7-day periods (counted from window_from) with at least one review that counts under the policy.'),
  ('days_since_last_review', 'Whole days from the last review that counts under the policy to the end of the window (or now, if earlier); null if none.'),
  ('ownership_gap_days', 'Days (fractional) of the window, from launch until now, with no accountable owner.'),
  ('assignment_id', 'Ownership assignment id.'),
  ('person_id', 'Person id.'),
  ('person_name', 'Person name.'),
  ('person_function', 'Function of the person: CX, ENGINEERING, IT, VENDOR, OTHER.'),
  ('fte_on_ai', 'Share of a full-time person (0-1) the person spends on AI.'),
  ('person_active', 'False once the person was deactivated (left the company).'),
  ('owner_since', 'Start of the current ownership period.'),
  ('tenure_days', 'Whole days the current owner has held the deployment.'),
  ('valid_from', 'Start of the ownership period.'),
  ('valid_to', 'End of the ownership period (exclusive); null while it is open.'),
  ('is_current', 'True for the period holding now.'),
  ('assigned_by', 'Who made the assignment (token or user label).'),
  ('reason', 'Why the assignment was made.'),
  ('ended_reason', 'Why the period was ended.'),
  ('reasons', 'JSON array of {code, message}: every health rule that applies.'),
  ('last_update_at', 'Time of the latest workflow update.'),
  ('last_review_at', 'Time of the latest performance review that counts under the policy (reviewers_counted).'),
  ('arr_recent', 'ARR over the last 28 days (today included).'),
  ('arr_previous', 'ARR over the 28 days before those.'),
  ('deployments', 'Deployments that are not retired.'),
  ('unowned', 'Non-retired deployments with health UNOWNED.'),
  ('stale', 'Non-retired deployments with health STALE.'),
  ('at_risk', 'Non-retired deployments with health AT_RISK.'),
  ('healthy', 'Non-retired deployments with health HEALTHY.'),
  ('owned_share', 'Share of non-retired deployments with an active accountable owner.'),
  ('dimension', 'OWNERSHIP (owned vs unowned deployment-weeks) or CADENCE (workflow updates per week: NONE 0, LOW 1-2, MEDIUM 3-9, HIGH 10+).'),
  ('bucket', 'Bucket within the dimension.'),
  ('deployment_weeks', 'Whole ISO deployment-weeks in the bucket.'),
  -- metrics.reviews (015_reviews.sql)
  ('review_id', 'Performance review id.'),
  ('reviewer_id', 'Person who made the review.'),
  ('reviewer_name', 'Name of the reviewer.'),
  ('reviewer_function', 'Function of the reviewer now: CX, ENGINEERING, IT, VENDOR, OTHER.'),
  ('reviewed_at', 'When the review was made.'),
  ('brief_week', 'Monday (UTC) of the ISO week whose weekly brief the review covered; null: none named.'),
  ('reviewer_was_owner', 'True when the reviewer was the deployment''s accountable owner at the instant of the review.'),
  ('reviewers_counted', 'Whose reviews count (policy): OWNER (the accountable owner at the time), OWNER_OR_CX (the owner or anyone in CX), ANYONE.'),
  ('counted', 'True when the review counts for health and weeks reviewed under the policy''s reviewers_counted.'),
  -- metrics.health_policy (015_reviews.sql)
  ('stale_update_days', 'Policy: days without a workflow update before NO_RECENT_UPDATE (STALE); also the limit past which a workflow is stale.'),
  ('stale_review_days', 'Policy: days without a counted review before NO_RECENT_REVIEW (STALE).'),
  ('review_due_days', 'Policy: days without a counted review before REVIEW_OVERDUE (AT_RISK); a new owner must review within as many days of the start of their period.'),
  ('min_owner_fte', 'Policy: the least share of a full-time person (0-1) an owner spends on AI before OWNER_LOW_FTE.'),
  ('arr_drop_points', 'Policy: ARR points lost before ARR_DECLINING (and before a topic counts as declining).'),
  ('arr_decay_points', 'Policy: ARR points lost since the owner left before ARR_DECAYED_SINCE_OWNER_LEFT.'),
  ('escalation_after_days', 'Policy: days an alert may stay unacknowledged (ESCALATION_UNACKNOWLEDGED; maturity duty 5).'),
  ('updated_at', 'When the policy was last changed.'),
  -- metrics.deployment_maturity (035_weekly_review.sql)
  ('duty_number', 'Number of the owner duty, 1-5, in the order level counts them.'),
  ('duty', 'Owner duty: NAMED_CX_OWNER, WEEKLY_REVIEW, KEPT_CURRENT, COVERAGE_GROWING, ESCALATION_PATH.'),
  ('met', 'True when the deployment meets the duty now.'),
  ('evidence', 'JSON object: the figures behind the verdict.'),
  ('next_step', 'One sentence: what to do to meet the duty; null when it is met.'),
  ('level', 'Ownership maturity 0-5: the number of consecutive duties met, counting from the first.'),
  ('as_of', 'The instant the figures describe (steward.clock()).');

do $$
declare
    col record;
    missing text[] := '{}';
begin
    for col in
        select c.table_name, c.column_name, g.doc
        from information_schema.columns c
        join information_schema.views v on v.table_schema = c.table_schema and v.table_name = c.table_name
        left join internals.glossary g on g.column_name = c.column_name
        where c.table_schema = 'metrics'
    loop
        if col.doc is null then
            missing := missing || format('%s.%s', col.table_name, col.column_name);
        else
            execute format('comment on column metrics.%I.%I is %L', col.table_name, col.column_name, col.doc);
        end if;
    end loop;
    if cardinality(missing) > 0 then
        raise exception 'metrics view columns without a glossary entry: %', missing;
    end if;
end $$;

comment on schema metrics is 'Steward metric contract: stable views and functions for the API and BI tools.';
comment on view metrics.deployments is 'Deployments with their organization.';
comment on view metrics.deployment_daily is 'Per deployment and UTC day: conversation counts and rates.';
comment on view metrics.deployment_last_30_days is 'Per deployment: every window metric over the last 30 UTC days, today included.';
comment on view metrics.deployment_weekly is 'Per deployment and ISO week, last 26 weeks: every window metric.';
comment on view metrics.current_owners is 'The accountable owner of each deployment now.';
comment on view metrics.ownership_periods is 'Every ownership period, past and current.';
comment on view metrics.deployment_health is 'Health status and reasons per deployment, under the organization policy.';
comment on view metrics.ownership_overview is 'Per organization: deployments by health status and owned share.';
comment on view metrics.ownership_impact_last_90_days is 'ARR in owned vs unowned deployment-weeks and by update cadence, last 90 days.';
comment on view metrics.reviews is 'Every performance review, with whether it counts under the organization''s reviewers_counted policy.';
comment on view metrics.health_policy is 'The organization''s health policy: the thresholds behind STALE, AT_RISK and the weekly review.';
comment on view metrics.deployment_maturity is 'Per deployment and owner duty: met or not, evidence, next step, and the maturity level.';

comment on function metrics.deployment_window(bigint[], date, date) is
    'Every window metric of the given deployments over the half-open UTC window [p_from, p_to): one row per deployment.';
comment on function metrics.deployment_weeks(bigint[], date, date) is
    'Every window metric of the given deployments per ISO week (Monday, UTC) overlapping [p_from, p_to), each measured over its whole week.';
comment on function metrics.health(bigint[]) is
    'Health status (UNOWNED > STALE > AT_RISK > HEALTHY) and every reason that applies, now, under the organization policy.';
comment on function metrics.topic_opportunities(bigint[], date, date) is
    'Uncovered topics of the given deployments in [p_from, p_to), ranked by uncovered volume times escalation cost, '
    'with the uncovered share of the deployment''s conversations.';
comment on function metrics.deployment_week_facts(date, date) is
    'Per deployment and whole ISO week inside [p_from, p_to): owned or not, update cadence bucket, addressable, AI resolved and workflow updates.';
comment on function metrics.ownership_impact(date, date) is
    'ARR of owned vs unowned deployment-weeks and by weekly update cadence (NONE 0, LOW 1-2, MEDIUM 3-9, HIGH 10+) in [p_from, p_to).';

-- The gate: a metrics function without a comment fails the build of the views.
do $$
declare
    missing text[];
begin
    select array_agg(p.oid::regprocedure::text) into missing
    from pg_proc p
    where p.pronamespace = 'metrics'::regnamespace and obj_description(p.oid, 'pg_proc') is null;
    if missing is not null then
        raise exception 'metrics functions without a comment: %', missing;
    end if;
end $$;

-- The service reads the contract and maintains the rollup (its triggers classify
-- conversations through internals.coverage as the writing role).
grant usage on schema metrics, internals to steward_app;
grant select on all tables in schema metrics to steward_app;
grant execute on all functions in schema metrics, internals to steward_app;
grant select on internals.conversation_facts, internals.coverage, internals.glossary to steward_app;

-- BI readers get the metrics schema and nothing else by name: no usage on
-- steward or internals, so `select … from steward.persons` is refused. The
-- views are security_invoker (row-level security applies to the reader) and
-- the metric functions have SQL-standard bodies (begin atomic), resolved when
-- created, so neither looks a name up in those schemas when a reader runs
-- them; the executor still checks select on the tables underneath, hence
-- the grants below, which cannot be used directly without schema usage.
-- api_tokens is deliberately absent.
grant usage on schema metrics to bi_reader;
grant select on all tables in schema metrics to bi_reader;
grant execute on all functions in schema metrics to bi_reader;
grant select on internals.conversation_facts, internals.coverage to bi_reader;
grant select on steward.organizations, steward.health_policies, steward.persons, steward.deployments,
                steward.ownership_assignments, steward.topics, steward.workflows, steward.workflow_periods,
                steward.workflow_updates, steward.performance_reviews, steward.conversations,
                steward.conversation_daily, steward.conversation_topic_daily
    to bi_reader;
