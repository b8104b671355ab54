-- Deployments: reads and writes of the GraphQL API, under row-level security (the caller's organization).
--
-- A paged list ends with the six keyset parameters of schema/relay.py keyset_args: the sort value (text,
-- cast here) and id that rows lie strictly above, the value and id they lie strictly below, descending
-- order or not, and the limit. One statement per sort key; filters are static: a null parameter is no filter.
-- Filters of the deployments list: $1 organization, $2 status, $3 health status, $4 owner (person id),
-- $5 unowned (true) or owned (false), $6 channel, $7 name-or-key pattern (LIKE, escaped).

-- name: deployments_by_id
select * from steward.deployments where org_id = $2 and id = any($1::bigint[]);

-- name: deployment_by_key
select * from steward.deployments where org_id = $1 and key = $2;

-- name: deployments_by_name
select d.*
  from steward.deployments d
 where d.org_id = $1 and ($2::text is null or d.status = $2)
   and ($3::text is null or d.id in (select h.deployment_id from metrics.deployment_health h where h.status = $3))
   and ($4::bigint is null or d.id in (select o.deployment_id from metrics.current_owners o where o.person_id = $4))
   and ($5::boolean is null or $5 = not exists (select from metrics.current_owners o where o.deployment_id = d.id))
   and ($6::text is null or $6 = any (d.channels)) and ($7::text is null or d.name ilike $7 or d.key ilike $7)
   and ($8::text is null or (d.name, d.id) > ($8::text, $9::bigint))
   and ($10::text is null or (d.name, d.id) < ($10::text, $11::bigint))
 order by case when $12 then d.name end desc, case when $12 then d.id end desc, d.name, d.id
 limit $13;

-- name: deployments_by_key
select d.*
  from steward.deployments d
 where d.org_id = $1 and ($2::text is null or d.status = $2)
   and ($3::text is null or d.id in (select h.deployment_id from metrics.deployment_health h where h.status = $3))
   and ($4::bigint is null or d.id in (select o.deployment_id from metrics.current_owners o where o.person_id = $4))
   and ($5::boolean is null or $5 = not exists (select from metrics.current_owners o where o.deployment_id = d.id))
   and ($6::text is null or $6 = any (d.channels)) and ($7::text is null or d.name ilike $7 or d.key ilike $7)
   and ($8::text is null or (d.key, d.id) > ($8::text, $9::bigint))
   and ($10::text is null or (d.key, d.id) < ($10::text, $11::bigint))
 order by case when $12 then d.key end desc, case when $12 then d.id end desc, d.key, d.id
 limit $13;

-- name: deployments_by_launched_at
select d.*
  from steward.deployments d
 where d.org_id = $1 and ($2::text is null or d.status = $2)
   and ($3::text is null or d.id in (select h.deployment_id from metrics.deployment_health h where h.status = $3))
   and ($4::bigint is null or d.id in (select o.deployment_id from metrics.current_owners o where o.person_id = $4))
   and ($5::boolean is null or $5 = not exists (select from metrics.current_owners o where o.deployment_id = d.id))
   and ($6::text is null or $6 = any (d.channels)) and ($7::text is null or d.name ilike $7 or d.key ilike $7)
   and ($8::text is null or (d.launched_at, d.id) > ($8::text::timestamptz, $9::bigint))
   and ($10::text is null or (d.launched_at, d.id) < ($10::text::timestamptz, $11::bigint))
 order by case when $12 then d.launched_at end desc, case when $12 then d.id end desc, d.launched_at, d.id
 limit $13;

-- name: deployments_by_health_rank
-- Health rank: UNOWNED first when ascending, so "worst first" is the natural order.
select *
  from (select d.*, case h.status when 'UNOWNED' then 0 when 'STALE' then 1 when 'AT_RISK' then 2 else 3 end
                      as health_rank
          from steward.deployments d
          join metrics.deployment_health h on h.org_id = d.org_id and h.deployment_id = d.id
         where d.org_id = $1 and ($2::text is null or d.status = $2) and ($3::text is null or h.status = $3)
           and ($4::bigint is null or d.id in (select o.deployment_id from metrics.current_owners o
                                                where o.person_id = $4))
           and ($5::boolean is null
                or $5 = not exists (select from metrics.current_owners o where o.deployment_id = d.id))
           and ($6::text is null or $6 = any (d.channels))
           and ($7::text is null or d.name ilike $7 or d.key ilike $7)) d
 where ($8::text is null or (d.health_rank, d.id) > ($8::text::integer, $9::bigint))
   and ($10::text is null or (d.health_rank, d.id) < ($10::text::integer, $11::bigint))
 order by case when $12 then d.health_rank end desc, case when $12 then d.id end desc, d.health_rank, d.id
 limit $13;

-- name: count_deployments
select count(*)
  from steward.deployments d
 where d.org_id = $1 and ($2::text is null or d.status = $2)
   and ($3::text is null or d.id in (select h.deployment_id from metrics.deployment_health h where h.status = $3))
   and ($4::bigint is null or d.id in (select o.deployment_id from metrics.current_owners o where o.person_id = $4))
   and ($5::boolean is null or $5 = not exists (select from metrics.current_owners o where o.deployment_id = d.id))
   and ($6::text is null or $6 = any (d.channels)) and ($7::text is null or d.name ilike $7 or d.key ilike $7);

-- name: owned_deployments
-- The deployments each person owns now, by name.
select o.person_id, d.*
  from metrics.current_owners o
  join steward.deployments d on d.org_id = o.org_id and d.id = o.deployment_id
 where o.org_id = $2 and o.person_id = any($1::bigint[])
 order by d.name, d.id;

-- name: insert_deployment
insert into steward.deployments (org_id, key, name, channels, vendor, status, launched_at, integrations)
values ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8)
returning id;

-- name: update_deployment
-- $2: the columns given; the others keep their value. Null when the deployment is not there.
update steward.deployments
   set name = case when 'name' = any($2::text[]) then $3 else name end,
       channels = case when 'channels' = any($2::text[]) then $4 else channels end,
       vendor = case when 'vendor' = any($2::text[]) then $5 else vendor end,
       status = case when 'status' = any($2::text[]) then $6 else status end,
       launched_at = case when 'launched_at' = any($2::text[]) then $7 else launched_at end,
       integrations = case when 'integrations' = any($2::text[]) then $8 else integrations end
 where org_id = $9 and id = $1
returning id;

-- name: health_policy
select * from steward.health_policies where org_id = $1;

-- name: update_health_policy
-- $2: the fields given; the others keep their value. Null when the organization has no policy.
update steward.health_policies
   set reopen_window = case when 'reopen_window_hours' = any($2::text[]) then make_interval(hours => $3)
                            else reopen_window end,
       stale_update_days = case when 'stale_update_days' = any($2::text[]) then $4 else stale_update_days end,
       stale_review_days = case when 'stale_review_days' = any($2::text[]) then $5 else stale_review_days end,
       review_due_days = case when 'review_due_days' = any($2::text[]) then $6 else review_due_days end,
       min_owner_fte = case when 'min_owner_fte' = any($2::text[]) then $7::numeric else min_owner_fte end,
       arr_drop_points = case when 'arr_drop_points' = any($2::text[]) then $8::numeric else arr_drop_points end,
       arr_decay_points = case when 'arr_decay_points' = any($2::text[]) then $9::numeric else arr_decay_points end,
       escalation_after_days = case when 'escalation_after_days' = any($2::text[]) then $10
                                    else escalation_after_days end,
       reviewers_counted = case when 'reviewers_counted' = any($2::text[]) then $11::text else reviewers_counted end,
       updated_at = now()
 where org_id = $1
returning org_id;
