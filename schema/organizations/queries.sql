-- Organizations and the ownership summary (row-level security shows the caller's organization only).

-- name: organizations_by_id
select * from steward.organizations where id = any($1::bigint[]);

-- name: organizations
select * from steward.organizations order by slug;

-- name: ownership_overview
select * from metrics.ownership_overview where org_id = $1;

-- name: ownership_impact
select * from metrics.ownership_impact($1::date, $2::date) order by dimension, bucket;
