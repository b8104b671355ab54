-- Health events as the GraphQL API lists them, under row-level security. The paged list ends with the
-- six keyset parameters of schema/relay.py keyset_args.

-- name: health_events
-- Newest first (by id). $1 organization; filters $2 deployment, $3 acknowledged (true) or not (false),
-- $4 status after, $5 cause; keyset $6-$11.
select e.*
  from steward.health_events e
 where e.org_id = $1 and ($2::bigint is null or e.deployment_id = $2)
   and ($3::boolean is null or $3 = exists (select from steward.health_event_acknowledgements a
                                              where a.org_id = e.org_id and a.event_id = e.id))
   and ($4::text is null or e.status_after = $4) and ($5::text is null or e.cause = $5)
   and ($6::text is null or (e.id, e.id) > ($6::text::bigint, $7::bigint))
   and ($8::text is null or (e.id, e.id) < ($8::text::bigint, $9::bigint))
 order by case when $10 then e.id end desc, e.id
 limit $11;

-- name: count_health_events
select count(*)
  from steward.health_events e
 where e.org_id = $1 and ($2::bigint is null or e.deployment_id = $2)
   and ($3::boolean is null or $3 = exists (select from steward.health_event_acknowledgements a
                                              where a.org_id = e.org_id and a.event_id = e.id))
   and ($4::text is null or e.status_after = $4) and ($5::text is null or e.cause = $5);
