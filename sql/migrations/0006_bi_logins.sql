-- BI logins (issue 10): the organization of a login other than the service's
-- comes from a mapping that the login can neither read nor change, never from
-- a setting it can SET. Until now current_org_id() read app.org_id for every
-- session, so a login in bi_reader could `set app.org_id = '3'` and read org 3.

-- One row per BI login (a login role in bi_reader). Keyed by role name, as
-- session_user reports it; `steward bi-login revoke` deletes the row and the role.
create table steward.bi_logins (
    role        name primary key,
    org_id      bigint not null references steward.organizations on delete cascade,
    created_at  timestamptz not null default now()
);
create index bi_logins_org on steward.bi_logins (org_id, role);

comment on table steward.bi_logins is
    'BI logins: the one organization each login role in bi_reader reads (managed by `steward bi-login`).';

-- Only an ordinary login in bi_reader can be mapped: not a superuser, not
-- one that bypasses row-level security or can grant itself roles, and not a
-- member of steward_app (a member can become the service, see below).
create function steward.check_bi_login() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    r record;
begin
    select rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolreplication
    into r from pg_roles where rolname = new.role;
    if not found then
        raise exception 'role % does not exist', new.role using errcode = 'undefined_object';
    end if;
    if r.rolsuper or r.rolbypassrls or r.rolcreaterole or r.rolreplication then
        raise exception 'role % is privileged: a BI login must be an ordinary role', new.role
            using errcode = 'insufficient_privilege';
    end if;
    if not pg_has_role(new.role, 'bi_reader', 'MEMBER') then
        raise exception 'role % is not a member of bi_reader', new.role using errcode = 'check_violation';
    end if;
    if pg_has_role(new.role, 'steward_app', 'MEMBER') then
        raise exception 'role % is a member of steward_app (the service): it cannot be a BI login', new.role
            using errcode = 'check_violation';
    end if;
    return new;
end $$;

create trigger bi_logins_check before insert or update on steward.bi_logins
    for each row execute function steward.check_bi_login();

-- Nobody but the owner may read or change the mapping: no grants to
-- steward_app, bi_reader or public, and row-level security on top. The lookup
-- below runs with the owner's rights and is limited to the session's own row
-- even if the owner is not a superuser (forced RLS).
revoke all on steward.bi_logins from public;
alter table steward.bi_logins enable row level security;
alter table steward.bi_logins force row level security;
create policy own_login on steward.bi_logins for select using (role = session_user);
-- `steward bi-login` runs as the owner (the role migrating now).
create policy owner_manages on steward.bi_logins to current_user using (true) with check (true);

-- The organization mapped to the session's login, or null. Definer's rights
-- (a BI login cannot read the table); it answers only for session_user, which
-- a login cannot change (SET SESSION AUTHORIZATION is for superusers), so
-- every role may call it. A SQL-standard body is resolved when created: the
-- caller's search_path cannot substitute a function or operator.
create function steward.bi_login_org_id() returns bigint
language sql stable parallel safe security definer
begin atomic
    select b.org_id from steward.bi_logins b where b.role = session_user;
end;

-- The organization the current statement acts for; null means "none" (row-level
-- security then shows nothing). The rule:
--   * the service: the current role is steward_app (the service's login switches
--     to it per transaction, service/db.py) and the login is not in bi_reader:
--     app.org_id, which the service sets from the token per transaction;
--   * every other session: the mapping of session_user in steward.bi_logins.
-- Why nothing a BI login can do changes its answer:
--   * `set`/`set_config`/`reset [all]` app.org_id: read only when the current
--     role is steward_app, which needs membership in steward_app (SET ROLE checks
--     it); a BI login is in bi_reader only (its mapping refuses members of
--     steward_app) and bi_reader is not in steward_app;
--   * `set role bi_reader`: still not steward_app, and session_user stays the login;
--   * `set session authorization`: superusers only, so session_user is the login;
--   * a login granted steward_app after it was mapped: while it is in bi_reader the
--     service branch is closed to it (pg_has_role), so it gets its mapping only.
--     A superuser counts as a member of every role in pg_has_role, so it is told
--     apart by the one privilege nobody is granted: reading pg_authid;
--   * revoked (mapping deleted): null at the next statement, even in an open session.
-- Membership in steward_app is the service's trust: such a login (not in
-- bi_reader) acts for whichever organization it sets, as the service does.
-- Cost: inlined into each row filter (plain SQL, stable, no subquery); the
-- service's branch is a role comparison and two catalog-cache probes, and the
-- planner still folds it to the organization's id when estimating. Only other
-- sessions reach the table lookup.
create or replace function steward.current_org_id() returns bigint
language sql stable parallel safe
begin atomic
    select case
        when current_user = 'steward_app'
             and (not pg_has_role(session_user, 'bi_reader', 'MEMBER')
                  or has_table_privilege(session_user, 'pg_catalog.pg_authid'::regclass, 'SELECT'))
            then nullif(current_setting('app.org_id', true), '')::bigint
        else steward.bi_login_org_id()
    end;
end;

-- Logins made with the former recipe (`alter role … set app.org_id = '42'`)
-- keep their organization, now as a mapping they cannot change.
insert into steward.bi_logins (role, org_id)
select distinct on (r.rolname) r.rolname, o.id
from pg_db_role_setting s
join pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) c(setting)
join steward.organizations o on o.id::text = substr(c.setting, length('app.org_id=') + 1)
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
  and c.setting like 'app.org_id=%'
  and r.rolcanlogin and not (r.rolsuper or r.rolbypassrls or r.rolcreaterole or r.rolreplication)
  and pg_has_role(r.rolname, 'bi_reader', 'MEMBER') and not pg_has_role(r.rolname, 'steward_app', 'MEMBER')
order by r.rolname, s.setdatabase desc;
