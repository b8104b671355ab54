-- Statements of `steward bi-login` (service/bi_logins.py), run as the database owner.
-- Role names are identifiers: the DDL is built by format(%I, %L) on the server, never in Python.

-- name: role_exists
select exists (select 1 from pg_roles where rolname = $1);

-- name: mapping_exists
-- A mapping left over from a login whose role is gone.
select exists (select 1 from steward.bi_logins where role = $1);

-- name: create_role_ddl
-- The `create role` statement of login $1 with SCRAM verifier $2: a member of bi_reader, nothing more.
select format('create role %I with login password %L nosuperuser nocreatedb nocreaterole'
              ' noreplication nobypassrls inherit in role bi_reader', $1::text, $2::text);

-- name: add_mapping
insert into steward.bi_logins (role, org_id) values ($1, $2);

-- name: remove_mapping
-- The organization the login was mapped to (no row: there was no mapping).
delete from steward.bi_logins where role = $1 returning org_id;

-- name: role_kind
-- Only ever a BI login is dropped: a direct member of bi_reader, not privileged, not the service.
select r.rolsuper or r.rolbypassrls or r.rolcreaterole or pg_has_role(r.rolname, 'steward_app', 'MEMBER')
           as privileged,
       exists (select 1 from pg_auth_members m where m.member = r.oid and m.roleid = 'bi_reader'::regrole)
           as bi_member
  from pg_roles r
 where r.rolname = $1;

-- name: revoke_ddl
-- The statements that retire login $1: stop it logging in, drop it, or (when it owns something) take its reads.
select format('alter role %I nologin', $1::text) as nologin,
       format('drop role %I', $1::text) as drop_role,
       format('revoke bi_reader from %I', $1::text) as revoke_reader;

-- name: org_exists
select exists (select 1 from steward.organizations where slug = $1);

-- name: list_logins
-- The BI logins (of organization slug $1, or all when null), with the state of each one's role.
select b.role, o.slug, b.created_at, coalesce(r.rolcanlogin, false) as can_login, r.oid is not null as exists
  from steward.bi_logins b
  join steward.organizations o on o.id = b.org_id
  left join pg_roles r on r.rolname = b.role
 where $1::text is null or o.slug = $1
 order by o.slug, b.role;
