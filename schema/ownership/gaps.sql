-- name: ownership_gaps
-- Ownership gaps of the given deployments, newest first per deployment (sql/views/025_ownership_gaps.sql).
select * from metrics.ownership_gaps($1::bigint[]) order by deployment_id, started_at desc;

-- name: reference_gaps
-- The gap ledger of the demo's reference deployments ($1: 'slug/key' strings), newest first, with each
-- deployment's health reasons that carry the ARR figures.
select o.slug || '/' || d.key as deployment, g.*,
       (select string_agg(r->>'message', ' ') from jsonb_array_elements(h.reasons) r
         where r->>'code' in ('ARR_DECAYED_SINCE_OWNER_LEFT', 'ARR_DECLINING')) as arr_reasons
from steward.deployments d
join steward.organizations o on o.id = d.org_id
cross join lateral metrics.ownership_gaps(array[d.id]) g
cross join lateral metrics.health(array[d.id]) h
where o.slug || '/' || d.key = any ($1::text[])
order by array_position($1::text[], o.slug || '/' || d.key), g.started_at desc;
