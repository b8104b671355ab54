"""Named SQL the resolvers run. Metrics come from the `metrics` views and functions only."""

ORGS_BY_ID = "select * from steward.organizations where id = any($1::bigint[])"
ORGS = "select * from steward.organizations order by slug"

DEPLOYMENTS_BY_ID = "select * from steward.deployments where id = any($1::bigint[])"
DEPLOYMENT_BY_KEY = "select * from steward.deployments where org_id = $1 and key = $2"
PERSONS_BY_ID = "select * from steward.persons where id = any($1::bigint[])"
TOPICS_BY_ID = "select * from steward.topics where id = any($1::bigint[])"
WORKFLOWS_BY_ID = "select * from steward.workflows where id = any($1::bigint[])"
ASSIGNMENTS_BY_ID = "select * from metrics.ownership_periods where assignment_id = any($1::bigint[])"
UPDATES_BY_ID = "select * from steward.workflow_updates where id = any($1::bigint[])"
REVIEWS_BY_ID = "select * from steward.performance_reviews where id = any($1::bigint[])"
CHANGES_BY_ID = "select * from steward.ownership_changes where id = any($1::bigint[])"

CURRENT_OWNERS = "select * from metrics.current_owners where deployment_id = any($1::bigint[])"
HEALTH = "select * from metrics.health($1::bigint[])"
OWNERSHIP_HISTORY = """
    select * from metrics.ownership_periods where deployment_id = any($1::bigint[])
    order by deployment_id, valid_from desc
"""
OWNED_DEPLOYMENTS = """
    select o.person_id, d.* from metrics.current_owners o
    join steward.deployments d on d.org_id = o.org_id and d.id = o.deployment_id
    where o.person_id = any($1::bigint[]) order by d.name, d.id
"""
WINDOW_METRICS = "select * from metrics.deployment_window($1::bigint[], $2::date, $3::date)"
WEEKLY_METRICS = "select * from metrics.deployment_weeks($1::bigint[], $2::date, $3::date)"
TOPIC_OPPORTUNITIES = """
    select * from metrics.topic_opportunities($1::bigint[], $2::date, $3::date)
    where rank <= $4 order by deployment_id, rank
"""
WORKFLOWS_BY_DEPLOYMENT = """
    select * from steward.workflows where deployment_id = any($1::bigint[]) order by deployment_id, name, id
"""
OWNERSHIP_OVERVIEW = "select * from metrics.ownership_overview where org_id = $1"
OWNERSHIP_IMPACT = "select * from metrics.ownership_impact($1::date, $2::date) order by dimension, bucket"
TODAY = "select (steward.clock() at time zone 'UTC')::date"

# Token use remembered by service/http/token_usage.py: a minute after the recorded use at the earliest,
# so several processes (and a burst of requests) write each token at most about once a minute.
TOUCH_TOKENS = """
    update steward.api_tokens t set last_used_at = u.used_at
      from unnest($1::bigint[], $2::timestamptz[]) as u(id, used_at)
     where t.id = u.id and (t.last_used_at is null or t.last_used_at < u.used_at - interval '1 minute')
"""
