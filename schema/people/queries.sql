-- People and ownership periods: reads and writes of the GraphQL API, under row-level security.
-- Paged lists end with the six keyset parameters of schema/relay.py keyset_args.

-- name: persons_by_id
select * from steward.persons where org_id = $2 and id = any($1::bigint[]);

-- name: people
-- $1 organization; filters $2 active, $3 function, $4 name-or-email pattern (LIKE, escaped); keyset $5-$10.
select p.*
  from steward.persons p
 where p.org_id = $1 and ($2::boolean is null or p.active = $2) and ($3::text is null or p.function = $3)
   and ($4::text is null or p.name ilike $4 or p.email ilike $4)
   and ($5::text is null or (p.name, p.id) > ($5::text, $6::bigint))
   and ($7::text is null or (p.name, p.id) < ($7::text, $8::bigint))
 order by case when $9 then p.name end desc, case when $9 then p.id end desc, p.name, p.id
 limit $10;

-- name: count_people
select count(*)
  from steward.persons p
 where p.org_id = $1 and ($2::boolean is null or p.active = $2) and ($3::text is null or p.function = $3)
   and ($4::text is null or p.name ilike $4 or p.email ilike $4);

-- name: assignments_by_id
select * from metrics.ownership_periods where org_id = $2 and assignment_id = any($1::bigint[]);

-- name: ownership_history
select * from metrics.ownership_periods
 where org_id = $2 and deployment_id = any($1::bigint[])
 order by deployment_id, valid_from desc;

-- name: current_owners
select * from metrics.current_owners where org_id = $2 and deployment_id = any($1::bigint[]);

-- name: insert_person
insert into steward.persons (org_id, name, email, title, function, fte_on_ai)
values ($1, $2, $3, $4, $5, $6)
returning id;

-- name: update_person
-- $2: the columns given; the others keep their value. Null when the person is not there.
update steward.persons
   set name = case when 'name' = any($2::text[]) then $3 else name end,
       email = case when 'email' = any($2::text[]) then $4 else email end,
       title = case when 'title' = any($2::text[]) then $5 else title end,
       function = case when 'function' = any($2::text[]) then $6 else function end,
       fte_on_ai = case when 'fte_on_ai' = any($2::text[]) then $7 else fte_on_ai end
 where org_id = $8 and id = $1
returning id;
