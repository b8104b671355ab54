-- Ownership: the audit log of changes, and the writes that assign, hand over, unassign and deactivate.
-- Under row-level security. Paged lists end with the six keyset parameters of schema/relay.py keyset_args.

-- name: changes_by_id
select * from steward.ownership_changes where org_id = $2 and id = any($1::bigint[]);

-- name: audit_log
-- Newest first (by id: ids grow in commit order for one deployment). Filters $1 deployment, $2 person
-- (the owner before or after), $3 action; keyset $4-$9.
select c.*
  from steward.ownership_changes c
 where c.org_id = $10 and ($1::bigint is null or c.deployment_id = $1)
   and ($2::bigint is null or c.previous_person_id = $2 or c.new_person_id = $2)
   and ($3::text is null or c.action = $3)
   and ($4::text is null or (c.id, c.id) > ($4::text::bigint, $5::bigint))
   and ($6::text is null or (c.id, c.id) < ($6::text::bigint, $7::bigint))
 order by case when $8 then c.id end desc, c.id
 limit $9;

-- name: count_audit_log
select count(*)
  from steward.ownership_changes c
 where c.org_id = $4 and ($1::bigint is null or c.deployment_id = $1)
   and ($2::bigint is null or c.previous_person_id = $2 or c.new_person_id = $2)
   and ($3::text is null or c.action = $3);

-- name: first_changes_by_deployment
-- The first page ($2 rows) of each deployment's ($1) changes, newest first.
select *
  from (select c.*, row_number() over (partition by c.deployment_id order by c.id desc) as _rn
          from steward.ownership_changes c
         where c.org_id = $3 and c.deployment_id = any($1::bigint[])) x
 where _rn <= $2
 order by deployment_id, _rn;

-- name: change_counts_by_deployment
select c.deployment_id as parent, count(*) as n
  from steward.ownership_changes c
 where c.org_id = $2 and c.deployment_id = any($1::bigint[])
 group by c.deployment_id;

-- name: record_change
insert into steward.ownership_changes
    (org_id, deployment_id, action, previous_person_id, new_person_id, ended_assignment_id,
     started_assignment_id, effective_at, reason, token_id, token_name, request_id)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
returning id;

-- name: token_name
select name from steward.api_tokens where id = $1;

-- name: person_for_share
select id, active from steward.persons where org_id = $2 and id = $1 for share;

-- name: deployment_for_update
select id, status from steward.deployments where org_id = $2 and id = $1 for update;

-- name: open_period
select id, person_id, lower(valid) as since
  from steward.ownership_assignments
 where org_id = $2 and deployment_id = $1 and upper_inf(valid);

-- name: overlapping
select lower(valid) as since, upper(valid) as until
  from steward.ownership_assignments
 where org_id = $3 and deployment_id = $1 and valid && tstzrange($2, null, '[)')
 order by lower(valid)
 limit 1;

-- name: close_period
update steward.ownership_assignments set valid = tstzrange(lower(valid), $2, '[)'), ended_reason = $3
 where org_id = $4 and id = $1;

-- name: start_period
insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid, assigned_by, reason)
values ($1, $2, $3, tstzrange($4, null, '[)'), $5, $6)
returning id;

-- name: deactivate
update steward.persons set active = false, deactivated_at = $2 where org_id = $3 and id = $1 and active returning id;

-- name: person_for_no_key_update
-- no key update: blocks assignOwner's `for share` of this person, not the foreign-key checks
-- (key share) that a concurrent handover away from this person makes while holding its deployment
select id, active from steward.persons where org_id = $2 and id = $1 for no key update;

-- name: held_deployments
select distinct deployment_id from steward.ownership_assignments
 where org_id = $2 and person_id = $1 and upper_inf(valid);

-- name: lock_deployments
select id from steward.deployments where org_id = $2 and id = any($1::bigint[]) order by id for update;

-- name: held_periods
select id, deployment_id, person_id, lower(valid) as since
  from steward.ownership_assignments
 where org_id = $2 and person_id = $1 and upper_inf(valid)
 order by deployment_id;
