-- The owner's weekly review (issue 13): what the resolvers of schema/review read. Every figure
-- comes from a metrics function (sql/views/035_weekly_review.sql); nothing here derives one.
-- $1 is always the batch of deployment ids (bigint[]) of a DataLoader, or the organization's.

-- name: weekly_brief
-- Header of the brief of the ISO week containing $2 (null: the last complete week).
select * from metrics.weekly_brief($1::bigint[], coalesce($2::date, metrics.last_complete_week()));

-- name: headline
select * from metrics.weekly_brief_headline($1::bigint[], coalesce($2::date, metrics.last_complete_week()))
order by deployment_id, figure_order;

-- name: topics_to_fix
select * from metrics.weekly_brief_topics_to_fix($1::bigint[], coalesce($2::date, metrics.last_complete_week()))
where rank <= $3
order by deployment_id, rank;

-- name: topics_to_add
select * from metrics.weekly_brief_topics_to_add($1::bigint[], coalesce($2::date, metrics.last_complete_week()))
where rank <= $3
order by deployment_id, rank;

-- name: stale_workflows
select * from metrics.weekly_brief_stale_workflows($1::bigint[], coalesce($2::date, metrics.last_complete_week()))
order by deployment_id, arr_change_points, workflow_id;

-- name: open_events
-- Unacknowledged health events whose new reasons still hold (now, whatever the week), newest first.
select a.deployment_id, a.event_id
from metrics.health_alerts($1::bigint[]) a
where a.open
order by a.deployment_id, a.event_id desc;

-- name: last_complete_week
select metrics.last_complete_week();

-- name: topics_page
-- One page per deployment of metrics.topic_performance over [$2, $3), sorted by the column
-- named $4 ($5: descending), ties by topic id; after the keyset cursor ($6 sort key, $7 topic
-- id; null: from the start); $8 rows per deployment (the page size + 1, to tell if more follow).
-- sort_key: the column's value, negated when descending; null (a rate with nothing to
-- measure) sorts last either way.
select *
from (
    select k.*, row_number() over (partition by k.deployment_id order by k.sort_key, k.topic_id) as position
    from (
        select tp.*,
               coalesce(case when $5::boolean then -1 else 1 end * case $4::text
                   when 'CONVERSATIONS' then tp.conversations::float8
                   when 'ADDRESSABLE' then tp.addressable::float8
                   when 'TOPIC_COVERAGE' then tp.topic_coverage
                   when 'ADDRESSABLE_RESOLUTION_RATE' then tp.addressable_resolution_rate
                   when 'REOPEN_RATE' then tp.reopen_rate
                   when 'ESCALATION_RATE' then tp.escalation_rate
                   when 'VOLUME_SHARE' then tp.volume_share
                   when 'OPPORTUNITY_SCORE' then tp.opportunity_score::float8
               end, 1e300::float8) as sort_key
        from metrics.topic_performance($1::bigint[], $2::date, $3::date) tp
    ) k
    where $6::float8 is null or (k.sort_key, k.topic_id) > ($6::float8, $7::bigint)
) p
where p.position <= $8
order by p.deployment_id, p.position;

-- name: topics_count
select deployment_id, count(*) as n
from metrics.topic_performance($1::bigint[], $2::date, $3::date)
group by deployment_id;

-- name: topic_weeks
select * from metrics.topic_weeks($1::bigint[], $2::date, $3::date)
order by deployment_id, topic_id, week_start;

-- name: maturity
select * from metrics.maturity($1::bigint[]) order by deployment_id, duty_number;

-- name: cadence_effect
select * from metrics.cadence_effect($1::date, $2::date, $3::integer) order by lag_weeks;

-- name: scorecard
select * from metrics.scorecard($1::date, $2::date);

-- name: scorecard_weeks
select * from metrics.scorecard_weeks($1::date, $2::date) order by week_start;

-- name: health_policy
-- The policy as metrics.health_policy shows it, with reopen_window as the table keeps it
-- (HealthPolicy.from_row reads that).
select p.*, make_interval(hours => p.reopen_window_hours) as reopen_window
from metrics.health_policy p
where p.org_id = any ($1::bigint[]);

-- name: reviews_counted
select review_id, counted, reviewer_was_owner from metrics.reviews where review_id = any ($1::bigint[]);
