-- Webhooks (issue 12, point 3): endpoints, and a transactional outbox of deliveries.
--
-- * steward.webhooks: an organization's endpoints. The signing secret lives in the
--   column `secret`, which the service role (steward_app, every GraphQL request) may
--   write once but never read or change; only the owner and the delivery worker's role
--   (steward_webhook_worker) read it.
-- * steward.webhook_deliveries: the outbox, one row per (event, endpoint). Triggers on
--   steward.health_events and steward.ownership_changes add the rows IN THE SAME
--   TRANSACTION as the event, so a committed event is always delivered (at least once)
--   and a rolled-back one never is. message_id is the `webhook-id` header: the same on
--   every retry of the row, so receivers can drop duplicates.
-- * steward.webhook_attempts: one row per HTTP attempt (status code, latency, error,
--   next retry). Only the worker writes them.
-- The worker claims due rows across organizations with `for update skip locked`; its role
-- sees every organization's outbox (policy webhook_worker), steward_app only its own.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'steward_webhook_worker') then
        create role steward_webhook_worker nologin;
    end if;
    -- The login role used by the service switches to it for the worker's transactions.
    if not (select rolsuper from pg_roles where rolname = current_user) then
        execute format('grant steward_webhook_worker to %I', current_user);
    end if;
end $$;

create table steward.webhooks (
    org_id                bigint not null references steward.organizations on delete cascade,
    id                    bigint generated always as identity,
    url                   text not null check (length(url) between 1 and 2000 and url ~ '^https?://'),
    events                text[] not null check (cardinality(events) >= 1 and array_position(events, null) is null
                          and events <@ array['HEALTH_CHANGED', 'OWNER_CHANGED', 'WEBHOOK_DISABLED']),
    description           text check (length(description) <= 1000),
    secret                text not null check (secret ~ '^whsec_[A-Za-z0-9+/]{32,}={0,2}$'),
    enabled               boolean not null default true,
    disabled_at           timestamptz,
    disabled_reason       text check (disabled_reason in ('MANUAL', 'FAILURES')),
    consecutive_failures  integer not null default 0 check (consecutive_failures >= 0),
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    primary key (org_id, id),
    unique (id),
    check (enabled = (disabled_at is null) and enabled = (disabled_reason is null))
);

comment on table steward.webhooks is
    'Webhook endpoints of an organization; `secret` is readable only by the owner and the delivery worker.';

-- At most this many endpoints per organization (Organization.webhooks is a plain list).
create function steward.webhooks_limit() returns trigger
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtext('steward.webhooks'), (new.org_id % 2147483647)::integer);
    if (select count(*) from steward.webhooks where org_id = new.org_id) >= 20 then
        raise exception 'an organization has at most 20 webhooks' using errcode = 'check_violation',
            constraint = 'webhooks_per_organization';
    end if;
    return new;
end $$;
create trigger webhooks_limit before insert on steward.webhooks
    for each row execute function steward.webhooks_limit();

create table steward.webhook_deliveries (
    org_id           bigint not null,
    id               bigint generated always as identity,
    webhook_id       bigint not null,
    message_id       text not null default 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    event            text not null check (event in ('HEALTH_CHANGED', 'OWNER_CHANGED', 'WEBHOOK_DISABLED',
                                                    'WEBHOOK_TEST')),
    -- the log row the event came from (health_events.id or ownership_changes.id)
    source_id        bigint,
    payload          jsonb not null,
    status           text not null default 'PENDING' check (status in ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer not null default 0 check (attempts >= 0),
    -- due at (PENDING only); a claim moves it to the end of the claimer's lease
    next_attempt_at  timestamptz default now(),
    -- retries stop `retry window` after this (the event, or a manual redelivery)
    retry_from       timestamptz not null default now(),
    lease            uuid,
    created_at       timestamptz not null default now(),
    delivered_at     timestamptz,  -- the last success
    primary key (org_id, id),
    unique (id),
    unique (message_id),
    check ((status = 'PENDING') = (next_attempt_at is not null)),
    check (status <> 'DELIVERED' or delivered_at is not null),
    foreign key (org_id, webhook_id) references steward.webhooks (org_id, id) on delete cascade
);
-- one delivery per log event and endpoint, whatever fires twice
create unique index webhook_deliveries_once on steward.webhook_deliveries (org_id, webhook_id, event, source_id)
    where source_id is not null;
create index webhook_deliveries_due on steward.webhook_deliveries (next_attempt_at) where status = 'PENDING';
create index webhook_deliveries_webhook on steward.webhook_deliveries (org_id, webhook_id, id);

comment on table steward.webhook_deliveries is
    'Outbox: one row per event and endpoint, added in the transaction of the event; message_id is webhook-id.';

create table steward.webhook_attempts (
    org_id         bigint not null,
    id             bigint generated always as identity,
    delivery_id    bigint not null,
    attempt        integer not null check (attempt >= 1),
    attempted_at   timestamptz not null default now(),
    status_code    integer check (status_code between 100 and 599),
    latency_ms     integer not null check (latency_ms >= 0),
    error          text check (length(error) <= 1000),
    next_retry_at  timestamptz,
    primary key (org_id, id),
    unique (id),
    foreign key (org_id, delivery_id) references steward.webhook_deliveries (org_id, id) on delete cascade
);
create index webhook_attempts_delivery on steward.webhook_attempts (org_id, delivery_id, id);

comment on table steward.webhook_attempts is
    'Every HTTP attempt of a webhook delivery: status code (null: no answer), latency, error, next retry.';

-- Every instant within the supported range (migration 0007), named as the catalog test expects.
do $$
declare
    c record;
begin
    for c in select * from (values ('webhooks', 'created_at'), ('webhooks', 'updated_at'), ('webhooks', 'disabled_at'),
                                   ('webhook_deliveries', 'created_at'), ('webhook_deliveries', 'delivered_at'),
                                   ('webhook_deliveries', 'next_attempt_at'), ('webhook_deliveries', 'retry_from'),
                                   ('webhook_attempts', 'attempted_at'), ('webhook_attempts', 'next_retry_at'))
                      as v (tab, col)
    loop
        execute format('alter table steward.%I add constraint %I check (steward.instant_in_range(%I))',
                       c.tab, c.tab || '_' || c.col || '_in_range', c.col);
    end loop;
end $$;

do $$
declare
    t text;
begin
    foreach t in array array['webhooks', 'webhook_deliveries', 'webhook_attempts']
    loop
        execute format('alter table steward.%I enable row level security', t);
        execute format('alter table steward.%I force row level security', t);
        execute format('create policy tenant_isolation on steward.%I using (org_id = steward.current_org_id())', t);
        -- the worker serves every organization
        execute format('create policy webhook_worker on steward.%I to steward_webhook_worker using (true)', t);
    end loop;
end $$;

-- The service role: never the secret (write it once, never read or change it).
grant select (org_id, id, url, events, description, enabled, disabled_at, disabled_reason, consecutive_failures,
              created_at, updated_at) on steward.webhooks to steward_app;
grant insert (org_id, url, events, description, secret) on steward.webhooks to steward_app;
grant update (url, events, description, enabled, disabled_at, disabled_reason, consecutive_failures, updated_at)
    on steward.webhooks to steward_app;
grant delete on steward.webhooks to steward_app;
grant select, insert on steward.webhook_deliveries to steward_app;
grant update (status, next_attempt_at, retry_from, lease) on steward.webhook_deliveries to steward_app;
grant select on steward.webhook_attempts to steward_app;

-- The worker: read endpoints with their secret, count failures, disable; work the outbox.
grant usage on schema steward to steward_webhook_worker;
grant select, update on steward.webhooks to steward_webhook_worker;
grant select, insert, update on steward.webhook_deliveries to steward_webhook_worker;
grant select, insert on steward.webhook_attempts to steward_webhook_worker;
grant usage on all sequences in schema steward to steward_app, steward_webhook_worker;

-- Payload pieces: global IDs as the API writes them (schema/relay.py), instants in UTC.
create function steward.webhook_global_id(p_type text, p_id bigint) returns text
language sql immutable parallel safe
as $$ select encode(convert_to(p_type || ':' || p_id, 'UTF8'), 'base64') $$;

create function steward.webhook_instant(p_at timestamptz) returns text
language sql immutable parallel safe
as $$ select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

create function steward.webhook_person(p_org_id bigint, p_id bigint) returns jsonb
language sql stable
as $$
    select jsonb_build_object('id', steward.webhook_global_id('Person', p.id), 'name', p.name, 'email', p.email,
                              'active', p.active)
      from steward.persons p where p.org_id = p_org_id and p.id = p_id
$$;

create function steward.webhook_deployment(p_org_id bigint, p_id bigint) returns jsonb
language sql stable
as $$
    select jsonb_build_object('id', steward.webhook_global_id('Deployment', d.id), 'key', d.key, 'name', d.name)
      from steward.deployments d where d.org_id = p_org_id and d.id = p_id
$$;

-- Does any enabled endpoint of the organization take this event? (Skips building payloads nobody wants.)
create function steward.webhooks_subscribed(p_org_id bigint, p_event text) returns boolean
language sql stable
as $$
    select exists (select 1 from steward.webhooks w
                    where w.org_id = p_org_id and w.enabled and p_event = any(w.events))
$$;

-- Add the event to the outbox of every enabled endpoint that takes it, in the caller's
-- transaction; wakes the workers on commit. Returns the number of deliveries added.
create function steward.enqueue_webhook_event(p_org_id bigint, p_event text, p_source_id bigint, p_data jsonb)
returns integer
language plpgsql as $$
declare
    added integer;
begin
    insert into steward.webhook_deliveries (org_id, webhook_id, event, source_id, payload)
    select w.org_id, w.id, p_event, p_source_id,
           jsonb_build_object(
               'type', case p_event when 'HEALTH_CHANGED' then 'health.changed'
                                    when 'OWNER_CHANGED' then 'owner.changed'
                                    when 'WEBHOOK_DISABLED' then 'webhook.disabled' end,
               'timestamp', steward.webhook_instant(clock_timestamp()),
               'data', p_data)
      from steward.webhooks w
     where w.org_id = p_org_id and w.enabled and p_event = any(w.events)
    on conflict do nothing;
    get diagnostics added = row_count;
    if added > 0 then
        perform pg_notify('steward_webhooks', '');
    end if;
    return added;
end $$;

create function steward.webhook_owner_changed() returns trigger
language plpgsql as $$
begin
    if steward.webhooks_subscribed(new.org_id, 'OWNER_CHANGED') then
        perform steward.enqueue_webhook_event(new.org_id, 'OWNER_CHANGED', new.id, jsonb_build_object(
            'ownershipChangeId', steward.webhook_global_id('OwnershipChange', new.id),
            'action', new.action,
            'deployment', steward.webhook_deployment(new.org_id, new.deployment_id),
            'previousOwner', steward.webhook_person(new.org_id, new.previous_person_id),
            'newOwner', steward.webhook_person(new.org_id, new.new_person_id),
            'effectiveAt', steward.webhook_instant(new.effective_at),
            'reason', new.reason,
            'changedBy', new.token_name,
            'requestId', new.request_id,
            'recordedAt', steward.webhook_instant(new.recorded_at)));
    end if;
    return null;
end $$;

create trigger ownership_changes_webhooks after insert on steward.ownership_changes
    for each row execute function steward.webhook_owner_changed();

create function steward.webhook_health_changed() returns trigger
language plpgsql as $$
begin
    -- as steward.announce_event: an evaluator's baseline is seeding, not news
    if new.status_before is null and new.cause = 'TIME' then
        return null;
    end if;
    if steward.webhooks_subscribed(new.org_id, 'HEALTH_CHANGED') then
        perform steward.enqueue_webhook_event(new.org_id, 'HEALTH_CHANGED', new.id, jsonb_build_object(
            'healthEventId', steward.webhook_global_id('HealthEvent', new.id),
            'deployment', steward.webhook_deployment(new.org_id, new.deployment_id),
            'statusBefore', new.status_before,
            'statusAfter', new.status_after,
            'reasonsBefore', to_jsonb(new.reasons_before),
            'reasonsAfter', to_jsonb(new.reasons_after),
            'owner', steward.webhook_person(new.org_id, new.owner_person_id),
            'escalationContact', steward.webhook_person(new.org_id, new.escalation_person_id),
            'occurredAt', steward.webhook_instant(new.occurred_at),
            'cause', new.cause,
            'ownershipChangeId', case when new.ownership_change_id is not null
                                      then steward.webhook_global_id('OwnershipChange', new.ownership_change_id) end,
            'requestId', new.request_id));
    end if;
    return null;
end $$;

create trigger health_events_webhooks after insert on steward.health_events
    for each row execute function steward.webhook_health_changed();
