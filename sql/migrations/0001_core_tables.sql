-- Core tables. Every tenant row carries org_id; primary keys lead with org_id
-- so the tables can be distributed by organization (Citus) and so composite
-- foreign keys make cross-tenant references impossible.
create extension if not exists btree_gist;

create schema steward;

-- The organization the current transaction acts for; null means "none".
create function steward.current_org_id() returns bigint
language sql stable parallel safe
as $$ select nullif(current_setting('app.org_id', true), '')::bigint $$;

-- The instant metrics treat as "now"; tests pin it with set_config('steward.now', …).
create function steward.clock() returns timestamptz
language sql stable parallel safe
as $$ select coalesce(nullif(current_setting('steward.now', true), '')::timestamptz, now()) $$;

create table steward.organizations (
    id          bigint generated always as identity primary key,
    slug        text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text not null check (length(name) between 1 and 200),
    vertical    text not null default 'retail',
    created_at  timestamptz not null default now()
);

create table steward.health_policies (
    org_id              bigint primary key references steward.organizations on delete cascade,
    reopen_window       interval not null default interval '24 hours'
                        check (reopen_window >= interval '1 hour' and reopen_window <= interval '168 hours'),
    stale_update_days   integer not null default 14 check (stale_update_days between 1 and 365),
    stale_review_days   integer not null default 14 check (stale_review_days between 1 and 365),
    review_due_days     integer not null default 7 check (review_due_days between 1 and 365),
    min_owner_fte       numeric(3,2) not null default 0.50 check (min_owner_fte between 0 and 1),
    arr_drop_points     numeric(5,2) not null default 5.00 check (arr_drop_points between 0 and 100),
    updated_at          timestamptz not null default now()
);

-- Every organization gets the default policy, so metrics never need a fallback.
create function steward.create_default_policy() returns trigger
language plpgsql as $$
begin
    insert into steward.health_policies (org_id) values (new.id);
    return new;
end $$;

create trigger organizations_default_policy after insert on steward.organizations
    for each row execute function steward.create_default_policy();

create table steward.persons (
    org_id          bigint not null references steward.organizations on delete cascade,
    id              bigint generated always as identity,
    name            text not null check (length(name) between 1 and 200),
    email           text not null check (email ~ '^[^@\s]+@[^@\s]+$'),
    title           text,
    function        text not null check (function in ('CX', 'ENGINEERING', 'IT', 'VENDOR', 'OTHER')),
    fte_on_ai       numeric(3,2) not null default 0 check (fte_on_ai between 0 and 1),
    active          boolean not null default true,
    deactivated_at  timestamptz,
    created_at      timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    check (active = (deactivated_at is null))
);
create unique index persons_email_key on steward.persons (org_id, lower(email));

create table steward.deployments (
    org_id        bigint not null references steward.organizations on delete cascade,
    id            bigint generated always as identity,
    key           text not null check (key ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name          text not null check (length(name) between 1 and 200),
    channels      text[] not null check (cardinality(channels) > 0
                      and channels <@ array['CHAT', 'EMAIL', 'SMS', 'VOICE', 'SOCIAL']),
    vendor        text,
    status        text not null default 'ACTIVE' check (status in ('ACTIVE', 'PAUSED', 'RETIRED')),
    launched_at   timestamptz not null default now(),
    integrations  integer not null default 0 check (integrations >= 0),
    created_at    timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    unique (org_id, key)
);

-- One accountable owner at a time: the exclusion constraint, not application
-- code, guarantees no two periods of one deployment overlap.
create table steward.ownership_assignments (
    org_id         bigint not null,
    id             bigint generated always as identity,
    deployment_id  bigint not null,
    person_id      bigint not null,
    valid          tstzrange not null check (not isempty(valid) and lower(valid) is not null
                                             and lower_inc(valid) and not upper_inc(valid)),
    assigned_by    text not null default 'system',
    reason         text,
    ended_reason   text,
    created_at     timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, person_id) references steward.persons (org_id, id) on delete cascade,
    constraint one_accountable_owner exclude using gist (org_id with =, deployment_id with =, valid with &&)
);
create index ownership_assignments_person on steward.ownership_assignments (org_id, person_id);

-- History is never rewritten: the only permitted change is closing an open
-- period (setting its end once); rows are never deleted except with their org.
create function steward.guard_ownership_history() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        if current_setting('steward.purge', true) = 'on' then
            return old;
        end if;
        raise exception 'ownership history is append-only' using errcode = 'check_violation';
    end if;
    if new.org_id <> old.org_id or new.deployment_id <> old.deployment_id or new.person_id <> old.person_id
       or lower(new.valid) <> lower(old.valid) or new.assigned_by <> old.assigned_by
       or new.reason is distinct from old.reason or new.created_at <> old.created_at then
        raise exception 'ownership history is append-only: only the end of an open period may be set'
            using errcode = 'check_violation';
    end if;
    if not upper_inf(old.valid) and new.valid <> old.valid then
        raise exception 'ownership period % is already closed', old.id using errcode = 'check_violation';
    end if;
    return new;
end $$;

create trigger ownership_history_append_only before update or delete on steward.ownership_assignments
    for each row execute function steward.guard_ownership_history();

-- A deactivated person cannot be given an open-ended ownership period.
create function steward.guard_active_owner() returns trigger
language plpgsql as $$
begin
    if upper_inf(new.valid) and not exists (
        select 1 from steward.persons p where p.org_id = new.org_id and p.id = new.person_id and p.active
    ) then
        raise exception 'person % is not active', new.person_id using errcode = 'check_violation';
    end if;
    return new;
end $$;

create trigger ownership_requires_active_person before insert on steward.ownership_assignments
    for each row execute function steward.guard_active_owner();

create table steward.topics (
    org_id           bigint not null references steward.organizations on delete cascade,
    id               bigint generated always as identity,
    key              text not null check (key ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name             text not null,
    -- what one conversation of this topic costs when a person has to handle it
    escalation_cost  numeric(10,2) not null default 5.00 check (escalation_cost >= 0),
    created_at       timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    unique (org_id, key)
);

create table steward.workflows (
    org_id         bigint not null,
    id             bigint generated always as identity,
    deployment_id  bigint not null,
    topic_id       bigint not null,
    name           text not null,
    channels       text[] not null check (cardinality(channels) > 0
                       and channels <@ array['CHAT', 'EMAIL', 'SMS', 'VOICE', 'SOCIAL']),
    created_at     timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, topic_id) references steward.topics (org_id, id) on delete cascade
);
create index workflows_deployment_topic on steward.workflows (org_id, deployment_id, topic_id);

-- When a workflow was live; coverage at any past instant is answered from here.
create table steward.workflow_periods (
    org_id       bigint not null,
    id           bigint generated always as identity,
    workflow_id  bigint not null,
    active       tstzrange not null check (not isempty(active) and lower(active) is not null),
    primary key (org_id, id),
    foreign key (org_id, workflow_id) references steward.workflows (org_id, id) on delete cascade,
    exclude using gist (org_id with =, workflow_id with =, active with &&)
);

create table steward.workflow_updates (
    org_id         bigint not null,
    id             bigint generated always as identity,
    deployment_id  bigint not null,
    author_id      bigint not null,
    workflow_id    bigint,
    kind           text not null check (kind in ('WORKFLOW_CHANGE', 'KNOWLEDGE_REFRESH', 'POLICY_UPDATE',
                                                 'NEW_USE_CASE', 'CHANNEL_LAUNCH', 'CONFIG_CHANGE')),
    summary        text not null check (length(summary) between 1 and 2000),
    occurred_at    timestamptz not null,
    created_at     timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, author_id) references steward.persons (org_id, id) on delete cascade,
    foreign key (org_id, workflow_id) references steward.workflows (org_id, id) on delete cascade
);
create index workflow_updates_deployment_time on steward.workflow_updates (org_id, deployment_id, occurred_at);
create index workflow_updates_author_time on steward.workflow_updates (org_id, author_id, occurred_at);

create table steward.performance_reviews (
    org_id         bigint not null,
    id             bigint generated always as identity,
    deployment_id  bigint not null,
    reviewer_id    bigint not null,
    reviewed_at    timestamptz not null,
    notes          text,
    decisions      text[] not null default '{}',
    created_at     timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, reviewer_id) references steward.persons (org_id, id) on delete cascade
);
create index performance_reviews_deployment_time on steward.performance_reviews (org_id, deployment_id, reviewed_at);

create table steward.conversations (
    org_id         bigint not null,
    id             bigint generated always as identity,
    external_id    text not null check (length(external_id) between 1 and 200),
    deployment_id  bigint not null,
    topic_id       bigint not null,
    channel        text not null check (channel in ('CHAT', 'EMAIL', 'SMS', 'VOICE', 'SOCIAL')),
    started_at     timestamptz not null,
    ai_engaged     boolean not null,
    outcome        text not null check (outcome in ('AI_RESOLVED', 'ESCALATED', 'ABANDONED', 'OPEN')),
    resolved_at    timestamptz check (resolved_at >= started_at),
    reopened_at    timestamptz check (reopened_at >= started_at),
    ingested_at    timestamptz not null default now(),
    primary key (org_id, id),
    unique (org_id, external_id),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, topic_id) references steward.topics (org_id, id) on delete cascade
);
create index conversations_deployment_time on steward.conversations (org_id, deployment_id, started_at);

-- Daily rollup of conversation outcomes per deployment, maintained by triggers
-- (internals.refresh_conversation_daily) in the same transaction as the change.
create table steward.conversation_daily (
    org_id          bigint not null,
    deployment_id   bigint not null,
    day             date not null,
    conversations   integer not null,
    addressable     integer not null,
    ai_engaged      integer not null,
    ai_outcomes     integer not null,
    ai_resolved     integer not null,
    reopened        integer not null,
    escalated       integer not null,
    primary key (org_id, deployment_id, day),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade
);

create table steward.api_tokens (
    org_id        bigint not null references steward.organizations on delete cascade,
    id            bigint generated always as identity,
    name          text not null,
    token_hash    bytea not null unique,
    scopes        text[] not null check (cardinality(scopes) > 0
                      and scopes <@ array['read', 'write:owners', 'write:activity', 'admin']),
    created_at    timestamptz not null default now(),
    revoked_at    timestamptz,
    primary key (org_id, id),
    unique (id)
);
