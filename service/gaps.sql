-- name: ownership_gaps
-- Ownership gaps of the given deployments, newest first per deployment (sql/views/025_ownership_gaps.sql).
select * from metrics.ownership_gaps($1::bigint[]) order by deployment_id, started_at desc;
