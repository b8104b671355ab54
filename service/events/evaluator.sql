-- The TIME evaluator's leadership (service/events/evaluator.py); its passes run schema/health/record.sql.

-- name: try_lead
-- Leadership: a session-level advisory lock on $1 (evaluator.LEADER_KEY), held while the connection lives.
select pg_try_advisory_lock($1);
