-- Computed columns for the PostGraphile baseline (bench/load.py applies this to
-- the benchmark database as its owner before starting PostGraphile). PostGraphile
-- only treats a function as a computed column of steward.deployments when it
-- lives in the same schema, so these thin wrappers go into schema steward of the
-- benchmark database; each calls the same metric function Steward's resolvers
-- read. Rebuilding the metrics schema (steward migrate) drops them with it.
create or replace function steward.deployments_window_metrics(d steward.deployments, p_from date, p_to date)
returns metrics.window_metrics
language sql stable
as $$ select * from metrics.deployment_window(array[d.id], p_from, p_to) $$;

create or replace function steward.deployments_weekly_metrics(d steward.deployments, p_from date, p_to date)
returns setof metrics.window_metrics
language sql stable
as $$ select * from metrics.deployment_weeks(array[d.id], p_from, p_to) $$;

create or replace function steward.deployments_topic_opportunities(d steward.deployments, p_from date, p_to date,
                                                                  p_first integer)
returns table (rank bigint, topic_id bigint, topic_name text, conversations bigint, uncovered bigint,
               uncovered_escalated bigint, escalation_cost numeric, score numeric)
language sql stable
as $$
    select o.rank, o.topic_id, t.name, o.conversations, o.uncovered, o.uncovered_escalated, o.escalation_cost, o.score
    from metrics.topic_opportunities(array[d.id], p_from, p_to) o
    join steward.topics t on t.org_id = d.org_id and t.id = o.topic_id
    where o.rank <= p_first
    order by o.rank
$$;

grant execute on function steward.deployments_window_metrics(steward.deployments, date, date),
                          steward.deployments_weekly_metrics(steward.deployments, date, date),
                          steward.deployments_topic_opportunities(steward.deployments, date, date, integer)
    to steward_app;
