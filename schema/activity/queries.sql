-- Topics, workflows, workflow updates and reviews: reads and writes of the GraphQL API, under row-level
-- security. Paged lists end with the six keyset parameters of schema/relay.py keyset_args; the first pages
-- of nested lists are read for many parents at once (limit: the page and one more, to tell if there is more).
-- Filters of workflow updates: kind, and a window [from, to) of UTC dates (both null: no window).

-- name: topics_by_id
select * from steward.topics where org_id = $2 and id = any($1::bigint[]);

-- name: workflows_by_id
select * from steward.workflows where org_id = $2 and id = any($1::bigint[]);

-- name: workflow_updates_by_id
select * from steward.workflow_updates where org_id = $2 and id = any($1::bigint[]);

-- name: reviews_by_id
select * from steward.performance_reviews where org_id = $2 and id = any($1::bigint[]);

-- name: workflows_by_deployment
select * from steward.workflows where org_id = $2 and deployment_id = any($1::bigint[])
 order by deployment_id, name, id;

-- name: workflow_updates
-- Newest first. Filters $1 kind, $2-$3 window, $4 deployment, $5 author; keyset $6-$11. The deployment and
-- author filters are ranges (one value, or every bigint when null: greatest and least skip nulls), not
-- `$4 is null or t.deployment_id = $4`: a compiled nested list passes its parent's id column as $4, an
-- `is null` the planner cannot drop, so each parent read its whole organization's updates. A range is an
-- index condition either way (not with coalesce: row-level security keeps it out of index conditions).
select t.*
  from steward.workflow_updates t
 where t.org_id = $12 and ($1::text is null or t.kind = $1)
   and ($2::date is null or (t.occurred_at >= internals.utc($2::date) and t.occurred_at < internals.utc($3::date)))
   and t.deployment_id between greatest($4::bigint, '-9223372036854775808') and least($4::bigint, '9223372036854775807')
   and t.author_id between greatest($5::bigint, '-9223372036854775808') and least($5::bigint, '9223372036854775807')
   and ($6::text is null or (t.occurred_at, t.id) > ($6::text::timestamptz, $7::bigint))
   and ($8::text is null or (t.occurred_at, t.id) < ($8::text::timestamptz, $9::bigint))
 order by case when $10 then t.occurred_at end desc, case when $10 then t.id end desc, t.occurred_at, t.id
 limit $11;

-- name: count_workflow_updates
select count(*)
  from steward.workflow_updates t
 where t.org_id = $6 and ($1::text is null or t.kind = $1)
   and ($2::date is null or (t.occurred_at >= internals.utc($2::date) and t.occurred_at < internals.utc($3::date)))
   and t.deployment_id between greatest($4::bigint, '-9223372036854775808') and least($4::bigint, '9223372036854775807')
   and t.author_id between greatest($5::bigint, '-9223372036854775808') and least($5::bigint, '9223372036854775807');

-- name: first_workflow_updates_by_deployment
-- The first page ($5 rows) of each deployment's ($1) updates, newest first; filters $2 kind, $3-$4 window.
select *
  from (select t.*, row_number() over (partition by t.deployment_id order by t.occurred_at desc, t.id desc) as _rn
          from steward.workflow_updates t
         where t.org_id = $6 and t.deployment_id = any($1::bigint[]) and ($2::text is null or t.kind = $2)
           and ($3::date is null or (t.occurred_at >= internals.utc($3::date)
                                     and t.occurred_at < internals.utc($4::date)))) x
 where _rn <= $5
 order by deployment_id, _rn;

-- name: first_workflow_updates_by_author
-- The first page ($5 rows) of each person's ($1) updates, newest first; filters $2 kind, $3-$4 window.
select *
  from (select t.*, row_number() over (partition by t.author_id order by t.occurred_at desc, t.id desc) as _rn
          from steward.workflow_updates t
         where t.org_id = $6 and t.author_id = any($1::bigint[]) and ($2::text is null or t.kind = $2)
           and ($3::date is null or (t.occurred_at >= internals.utc($3::date)
                                     and t.occurred_at < internals.utc($4::date)))) x
 where _rn <= $5
 order by author_id, _rn;

-- name: workflow_update_counts_by_deployment
select t.deployment_id as parent, count(*) as n
  from steward.workflow_updates t
 where t.org_id = $5 and t.deployment_id = any($1::bigint[]) and ($2::text is null or t.kind = $2)
   and ($3::date is null or (t.occurred_at >= internals.utc($3::date) and t.occurred_at < internals.utc($4::date)))
 group by t.deployment_id;

-- name: workflow_update_counts_by_author
select t.author_id as parent, count(*) as n
  from steward.workflow_updates t
 where t.org_id = $5 and t.author_id = any($1::bigint[]) and ($2::text is null or t.kind = $2)
   and ($3::date is null or (t.occurred_at >= internals.utc($3::date) and t.occurred_at < internals.utc($4::date)))
 group by t.author_id;

-- name: reviews
-- One deployment's ($1) reviews, newest first; keyset $2-$7.
select r.*
  from steward.performance_reviews r
 where r.org_id = $8 and r.deployment_id = $1
   and ($2::text is null or (r.reviewed_at, r.id) > ($2::text::timestamptz, $3::bigint))
   and ($4::text is null or (r.reviewed_at, r.id) < ($4::text::timestamptz, $5::bigint))
 order by case when $6 then r.reviewed_at end desc, case when $6 then r.id end desc, r.reviewed_at, r.id
 limit $7;

-- name: first_reviews_by_deployment
-- The first page ($2 rows) of each deployment's ($1) reviews, newest first.
select *
  from (select r.*, row_number() over (partition by r.deployment_id order by r.reviewed_at desc, r.id desc) as _rn
          from steward.performance_reviews r
         where r.org_id = $3 and r.deployment_id = any($1::bigint[])) x
 where _rn <= $2
 order by deployment_id, _rn;

-- name: review_counts_by_deployment
select r.deployment_id as parent, count(*) as n
  from steward.performance_reviews r
 where r.org_id = $2 and r.deployment_id = any($1::bigint[])
 group by r.deployment_id;

-- name: deployment_exists
select id from steward.deployments where org_id = $2 and id = $1;

-- name: person_at
select id, active, deactivated_at from steward.persons where org_id = $2 and id = $1;

-- name: workflow_of
select id, deployment_id from steward.workflows where org_id = $2 and id = $1;

-- name: insert_workflow_update
insert into steward.workflow_updates (org_id, deployment_id, author_id, workflow_id, kind, summary, occurred_at)
values ($1, $2, $3, $4, $5, $6, $7)
returning id;

-- name: insert_review
insert into steward.performance_reviews (org_id, deployment_id, reviewer_id, reviewed_at, notes, decisions,
                                         brief_week)
values ($1, $2, $3, $4, $5, $6, $7)
returning id;
