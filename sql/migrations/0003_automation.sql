-- Automation: the audit log of ownership changes and the idempotency keys of
-- mutations. Both are tenant tables (org_id first, row-level security forced).

-- One row per ownership change made through the API: who (token), when, before
-- and after, and why. Append-only: the service may insert and read, never change.
create table steward.ownership_changes (
    org_id                 bigint not null,
    id                     bigint generated always as identity,
    deployment_id          bigint not null,
    action                 text not null check (action in ('ASSIGNED', 'HANDED_OVER', 'UNASSIGNED', 'OWNER_DEACTIVATED')),
    previous_person_id     bigint,
    new_person_id          bigint,
    ended_assignment_id    bigint,
    started_assignment_id  bigint,
    effective_at           timestamptz not null,
    reason                 text,
    token_id               bigint,
    token_name             text not null,
    request_id             text,
    recorded_at            timestamptz not null default clock_timestamp(),
    primary key (org_id, id),
    unique (id),
    check (previous_person_id is not null or new_person_id is not null),
    check ((new_person_id is null) = (started_assignment_id is null)),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, previous_person_id) references steward.persons (org_id, id) on delete cascade,
    foreign key (org_id, new_person_id) references steward.persons (org_id, id) on delete cascade,
    foreign key (org_id, ended_assignment_id) references steward.ownership_assignments (org_id, id) on delete cascade,
    foreign key (org_id, started_assignment_id) references steward.ownership_assignments (org_id, id) on delete cascade,
    -- the token may go (it never does today: tokens are revoked, not deleted); its name stays
    foreign key (org_id, token_id) references steward.api_tokens (org_id, id) on delete set null (token_id)
);
create index ownership_changes_deployment on steward.ownership_changes (org_id, deployment_id, id);
create index ownership_changes_previous_person on steward.ownership_changes (org_id, previous_person_id);
create index ownership_changes_new_person on steward.ownership_changes (org_id, new_person_id);

comment on table steward.ownership_changes is
    'Audit log: every ownership change made through the API (assign, hand over, unassign, owner deactivated).';

-- The first successful answer to a mutation sent with an idempotency key, per
-- token. A retry with the same key and the same input gets `response` back;
-- rows older than the retention (24 hours) are ignored and deleted lazily.
create table steward.idempotency_keys (
    org_id        bigint not null,
    token_id      bigint not null,
    key           text not null check (length(key) between 1 and 200),
    operation     text not null,
    request_hash  bytea not null,
    response      jsonb,
    created_at    timestamptz not null default now(),
    -- concurrent retries with one key queue on this key: the first writes, the rest read its answer
    primary key (org_id, token_id, key),
    foreign key (org_id, token_id) references steward.api_tokens (org_id, id) on delete cascade
);
create index idempotency_keys_age on steward.idempotency_keys (org_id, token_id, created_at);

comment on table steward.idempotency_keys is
    'Idempotency keys of mutations, per token: the request hash and the first successful answer.';

do $$
declare
    t text;
begin
    foreach t in array array['ownership_changes', 'idempotency_keys']
    loop
        execute format('alter table steward.%I enable row level security', t);
        execute format('alter table steward.%I force row level security', t);
        execute format('create policy tenant_isolation on steward.%I using (org_id = steward.current_org_id())', t);
    end loop;
end $$;

grant select, insert on steward.ownership_changes to steward_app;
grant select, insert, update, delete on steward.idempotency_keys to steward_app;
grant usage on all sequences in schema steward to steward_app;
