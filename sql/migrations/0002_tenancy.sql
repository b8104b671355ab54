-- Tenancy: row-level security on every tenant table, the service role and
-- the BI role. Roles are cluster-wide, so they are created only when missing.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'steward_app') then
        create role steward_app nologin;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'bi_reader') then
        create role bi_reader nologin;
    end if;
    -- The login role used by the service switches to steward_app per transaction.
    if not (select rolsuper from pg_roles where rolname = current_user) then
        execute format('grant steward_app to %I', current_user);
    end if;
end $$;

-- The service: data access only, always through row-level security.
grant usage on schema steward to steward_app;
grant select, insert, update on all tables in schema steward to steward_app;
-- Organizations are created by the owner (CLI, `steward demo`), never through the service.
revoke insert, update on steward.organizations from steward_app;
revoke insert, update on steward.api_tokens from steward_app;
grant delete on steward.conversation_daily to steward_app;
grant usage on all sequences in schema steward to steward_app;

do $$
declare
    t text;
begin
    foreach t in array array['persons', 'deployments', 'ownership_assignments', 'topics', 'workflows',
                             'workflow_periods', 'workflow_updates', 'performance_reviews', 'conversations',
                             'conversation_daily', 'health_policies', 'api_tokens']
    loop
        execute format('alter table steward.%I enable row level security', t);
        execute format('alter table steward.%I force row level security', t);
        execute format('create policy tenant_isolation on steward.%I using (org_id = steward.current_org_id())', t);
    end loop;
end $$;

-- Not forced: the owner (migrations, `steward demo`, the CLI) creates organizations.
alter table steward.organizations enable row level security;
create policy tenant_isolation on steward.organizations using (id = steward.current_org_id());

-- Token lookup happens before the organization is known, so it runs with the
-- definer's rights; it returns only the token's own org and scopes.
create function steward.authenticate(p_token_hash bytea)
returns table (token_id bigint, org_id bigint, org_slug text, scopes text[])
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select t.id, t.org_id, o.slug, t.scopes
    from steward.api_tokens t
    join steward.organizations o on o.id = t.org_id
    where t.token_hash = p_token_hash and t.revoked_at is null
$$;
revoke all on function steward.authenticate(bytea) from public;
grant execute on function steward.authenticate(bytea) to steward_app;
