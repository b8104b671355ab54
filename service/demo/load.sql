-- The demo loader's statements (service/demo/load.py), run as the database owner in one transaction.
-- Arrays carry one element per row; the COPYs of the bulk tables are in load.py (asyncpg's copy API).

-- name: today
-- The demo's today: the database clock's UTC date.
select (steward.clock() at time zone 'UTC')::date;

-- name: purge_on
-- Ownership history refuses deletes except while steward.purge is on (this transaction only).
select set_config('steward.purge', 'on', true);

-- name: purge_orgs
-- Delete the demo organizations ($1 slugs); everything of theirs cascades.
delete from steward.organizations where slug = any($1::text[]);

-- name: purge_off
select set_config('steward.purge', 'off', true);

-- name: insert_orgs
insert into steward.organizations (slug, name, vertical)
select * from unnest($1::text[], $2::text[], $3::text[])
returning id, slug;

-- name: set_reopen_windows
-- Inserting an organization created its default policy; some organizations use a longer reopen window.
update steward.health_policies p set reopen_window = make_interval(hours => x.hours)
  from unnest($1::bigint[], $2::int[]) x(org_id, hours)
 where p.org_id = x.org_id;

-- name: insert_people
-- A person who left ($7 not null) is inactive since then.
insert into steward.persons (org_id, name, email, title, function, fte_on_ai, active, deactivated_at)
select o, n, e, t, f, fte, left_at is null, left_at
  from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::timestamptz[])
       as x(o, n, e, t, f, fte, left_at)
returning id, org_id, email;

-- name: insert_topics
insert into steward.topics (org_id, key, name, escalation_cost)
select * from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[])
returning id, org_id, key;

-- name: insert_deployments
-- Channels arrive comma-separated ($4), one string per deployment; $9: the escalation contact, or null.
insert into steward.deployments (org_id, key, name, channels, vendor, status, launched_at, integrations,
                                 escalation_person_id)
select o, k, n, string_to_array(c, ','), v, s, l, i, e
  from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
              $8::int[], $9::bigint[]) as x(o, k, n, c, v, s, l, i, e)
returning id, org_id, key;

-- name: insert_workflows
-- Channels arrive comma-separated ($5), one string per workflow.
insert into steward.workflows (org_id, deployment_id, topic_id, name, channels)
select o, d, t, n, string_to_array(c, ',')
  from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) as x(o, d, t, n, c)
returning id, deployment_id, name;
