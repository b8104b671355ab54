-- Reads shared by the domains: today's date and the metrics of deployments. Metrics come from the
-- `metrics` views and functions only; each statement takes many deployments at once ($1), for the loaders.

-- name: today
select (steward.clock() at time zone 'UTC')::date;

-- name: window_metrics
select * from metrics.deployment_window($1::bigint[], $2::date, $3::date);

-- name: weekly_metrics
select * from metrics.deployment_weeks($1::bigint[], $2::date, $3::date);

-- name: topic_opportunities
select * from metrics.topic_opportunities($1::bigint[], $2::date, $3::date)
 where rank <= $4
 order by deployment_id, rank;

-- name: health
select * from metrics.health($1::bigint[]);
