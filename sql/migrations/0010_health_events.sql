-- The loop (issue 12): an append-only log of health changes, who took each one
-- on, an escalation contact per deployment, and one notification channel.
--
-- Contract for readers (webhooks, subscriptions, BI):
-- * steward.health_events: one row per change of a deployment's health status
--   or reason-code set. status_before is null for a baseline: the first time
--   Steward evaluated that deployment (a new deployment, or one that existed
--   before this log). cause is 'WRITE' (same transaction as the write; the
--   request id, and the ownership_changes audit row when an ownership write
--   caused it) or 'TIME' (a threshold passed; recorded by the leader-elected
--   evaluator). owner_person_id and escalation_person_id are who they were
--   when the event was recorded. Rows are never updated or deleted.
-- * steward.health_event_acknowledgements: at most one per event.
-- * NOTIFY channel 'steward_events', payload {"org_id", "id", "kind"} with kind
--   HEALTH_CHANGED (id of steward.health_events) or OWNER_CHANGED (id of
--   steward.ownership_changes). Sent on commit only. Baselines recorded by the
--   evaluator (status_before null, cause TIME) are not announced: seeding the
--   log for existing deployments is not news, and must not flood receivers.

-- Who to escalate to when a deployment's health dips: usually the CX leader.
alter table steward.deployments add column escalation_person_id bigint;
alter table steward.deployments
    add constraint deployments_escalation_person_fkey foreign key (org_id, escalation_person_id)
        references steward.persons (org_id, id) on delete set null (escalation_person_id);
create index deployments_escalation_person on steward.deployments (org_id, escalation_person_id)
    where escalation_person_id is not null;
comment on column steward.deployments.escalation_person_id is
    'The person to escalate to when health dips (null: none named).';

-- How long an UNOWNED or ARR-decay event may stay unacknowledged before the
-- deployment's health adds ESCALATION_UNACKNOWLEDGED.
alter table steward.health_policies
    add column escalation_after_days integer not null default 3 check (escalation_after_days between 1 and 365);
comment on column steward.health_policies.escalation_after_days is
    'Days an UNOWNED or ARR-decay health event may stay unacknowledged before ESCALATION_UNACKNOWLEDGED.';

create table steward.health_events (
    org_id                bigint not null,
    id                    bigint generated always as identity,
    deployment_id         bigint not null,
    occurred_at           timestamptz not null default steward.clock(),
    status_before         text check (status_before in ('UNOWNED', 'STALE', 'AT_RISK', 'HEALTHY')),
    status_after          text not null check (status_after in ('UNOWNED', 'STALE', 'AT_RISK', 'HEALTHY')),
    -- reason codes, sorted; reasons_before is null exactly when status_before is
    reasons_before        text[],
    reasons_after         text[] not null,
    cause                 text not null check (cause in ('WRITE', 'TIME')),
    ownership_change_id   bigint,
    request_id            text check (length(request_id) <= 200),
    owner_person_id       bigint,
    escalation_person_id  bigint,
    recorded_at           timestamptz not null default clock_timestamp(),
    primary key (org_id, id),
    unique (id),
    check ((status_before is null) = (reasons_before is null)),
    check (cause = 'WRITE' or (ownership_change_id is null and request_id is null)),
    constraint health_events_instants_in_range
        check (steward.instant_in_range(occurred_at) and steward.instant_in_range(recorded_at)),
    foreign key (org_id, deployment_id) references steward.deployments (org_id, id) on delete cascade,
    foreign key (org_id, ownership_change_id) references steward.ownership_changes (org_id, id) on delete cascade,
    foreign key (org_id, owner_person_id) references steward.persons (org_id, id) on delete cascade,
    foreign key (org_id, escalation_person_id) references steward.persons (org_id, id) on delete cascade
);
-- the latest event of a deployment (what the next evaluation compares with), and its timeline
create index health_events_deployment on steward.health_events (org_id, deployment_id, id);
create index health_events_ownership_change on steward.health_events (org_id, ownership_change_id)
    where ownership_change_id is not null;

comment on table steward.health_events is
    'Append-only log: every change of a deployment''s health status or reason set (status_before null: baseline).';

create table steward.health_event_acknowledgements (
    org_id           bigint not null,
    event_id         bigint not null,
    acknowledged_at  timestamptz not null default steward.clock(),
    note             text check (length(note) <= 2000),
    token_id         bigint,
    token_name       text not null,
    request_id       text check (length(request_id) <= 200),
    -- one acknowledgement per event: a second one is a conflict, never an overwrite
    primary key (org_id, event_id),
    constraint health_event_acknowledgements_acknowledged_at_in_range check (steward.instant_in_range(acknowledged_at)),
    foreign key (org_id, event_id) references steward.health_events (org_id, id) on delete cascade,
    foreign key (org_id, token_id) references steward.api_tokens (org_id, id) on delete set null (token_id)
);

comment on table steward.health_event_acknowledgements is
    'Who took a health event on (token), when, and their note; at most one per event, never changed.';

-- Append-only, enforced for every role: no update ever; delete only with the
-- organization (`steward.purge`, as for ownership history).
create function steward.guard_append_only() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' and current_setting('steward.purge', true) = 'on' then
        return old;
    end if;
    raise exception '% is append-only', tg_table_name using errcode = 'check_violation';
end $$;

create trigger health_events_append_only before update or delete on steward.health_events
    for each row execute function steward.guard_append_only();
create trigger health_event_acknowledgements_append_only before update or delete
    on steward.health_event_acknowledgements
    for each row execute function steward.guard_append_only();

-- One channel for every replica: the payload names the row, never its content;
-- listeners read it by id under row-level security. NOTIFY is sent on commit.
create function steward.announce_event() returns trigger
language plpgsql as $$
begin
    if tg_argv[0] = 'HEALTH_CHANGED' and new.status_before is null and new.cause = 'TIME' then
        return null;  -- an evaluator's baseline: seeding, not news
    end if;
    perform pg_notify('steward_events',
                      json_build_object('org_id', new.org_id, 'id', new.id, 'kind', tg_argv[0])::text);
    return null;
end $$;

create trigger health_events_announce after insert on steward.health_events
    for each row execute function steward.announce_event('HEALTH_CHANGED');
create trigger ownership_changes_announce after insert on steward.ownership_changes
    for each row execute function steward.announce_event('OWNER_CHANGED');

do $$
declare
    t text;
begin
    foreach t in array array['health_events', 'health_event_acknowledgements']
    loop
        execute format('alter table steward.%I enable row level security', t);
        execute format('alter table steward.%I force row level security', t);
        execute format('create policy tenant_isolation on steward.%I using (org_id = steward.current_org_id())', t);
    end loop;
end $$;

grant select, insert on steward.health_events, steward.health_event_acknowledgements to steward_app;
grant usage on all sequences in schema steward to steward_app;

-- The evaluator walks every organization; it learns their ids (nothing else)
-- here, then works inside each one as steward_app under row-level security.
create function steward.organization_ids() returns setof bigint
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$ select id from steward.organizations order by id $$;
revoke all on function steward.organization_ids() from public;
grant execute on function steward.organization_ids() to steward_app;
