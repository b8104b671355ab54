-- The health event log's writer (tables: sql/migrations/0010_health_events.sql).
-- A write calls internals.record_health_changes at the end of its work, in its
-- own transaction; the leader-elected evaluator (service/events/evaluator.py) calls it
-- for every non-retired deployment of an organization with cause TIME.

-- Reason codes of a metrics.health row as a set: sorted, distinct.
create function internals.reason_codes(p_reasons jsonb) returns text[]
language sql immutable parallel safe
as $$ select coalesce(array(select distinct r->>'code' from jsonb_array_elements(p_reasons) r order by 1), '{}') $$;

-- Record one event per deployment whose (status, reason set) differs from its
-- latest event, or that has none (a baseline: status_before null). Returns the
-- new events' ids.
--
-- Exactness: the evaluation of one deployment is serialized by a transaction
-- advisory lock on it, taken before the health is read (under READ COMMITTED
-- each statement below sees everything committed before the lock was granted),
-- so two transactions never record the same change twice nor chain two events
-- to the same "before". Writers wait for the lock; the TIME evaluator skips a
-- deployment whose lock is held: a writer is recording it, and the writer's
-- evaluation sees the passage of time too.
--
-- p_change_ids, parallel to p_deployment_ids, names the ownership_changes audit
-- row that caused each deployment's change (null elements: none).
create function internals.record_health_changes(p_deployment_ids bigint[], p_cause text,
                                                p_request_id text default null,
                                                p_change_ids bigint[] default null)
returns setof bigint
language plpgsql volatile
as $$
declare
    ids bigint[];
begin
    if p_cause not in ('WRITE', 'TIME') then
        raise exception 'cause must be WRITE or TIME, not %', p_cause using errcode = 'invalid_parameter_value';
    end if;
    if p_cause = 'TIME' then
        select coalesce(array_agg(id order by id), '{}') into ids
        from (select distinct unnest(p_deployment_ids) as id) d
        where pg_try_advisory_xact_lock(1212503636, hashint8(d.id));
    else
        select coalesce(array_agg(id order by id), '{}') into ids
        from (select distinct unnest(p_deployment_ids) as id) d;
        perform pg_advisory_xact_lock(1212503636, hashint8(id)) from unnest(ids) id order by id;
    end if;
    if cardinality(ids) = 0 then
        return;
    end if;

    return query
    with now_health as (
        select h.org_id, h.deployment_id, h.status, internals.reason_codes(h.reasons) as reasons
        from metrics.health(ids) h
    ),
    cause as (
        -- the last change id given for each deployment
        select distinct on (c.deployment_id) c.deployment_id, c.change_id
        from unnest(p_deployment_ids, coalesce(p_change_ids, '{}'::bigint[])) with ordinality
             as c(deployment_id, change_id, n)
        where c.change_id is not null
        order by c.deployment_id, c.n desc
    )
    insert into steward.health_events as e
        (org_id, deployment_id, occurred_at, status_before, status_after, reasons_before, reasons_after, cause,
         ownership_change_id, request_id, owner_person_id, escalation_person_id)
    select n.org_id, n.deployment_id, steward.clock(), l.status_after, n.status, l.reasons_after, n.reasons,
           p_cause, case when p_cause = 'WRITE' then c.change_id end,
           case when p_cause = 'WRITE' then nullif(p_request_id, '') end,
           o.person_id, d.escalation_person_id
    from now_health n
    join steward.deployments d on d.org_id = n.org_id and d.id = n.deployment_id
    left join lateral (
        select le.status_after, le.reasons_after from steward.health_events le
        where le.org_id = n.org_id and le.deployment_id = n.deployment_id
        order by le.id desc limit 1
    ) l on true
    left join metrics.current_owners o on o.org_id = n.org_id and o.deployment_id = n.deployment_id
                                     and o.person_active
    left join cause c on c.deployment_id = n.deployment_id
    where l.status_after is null or l.status_after <> n.status or l.reasons_after <> n.reasons
    order by n.deployment_id
    returning e.id;
end $$;

comment on function internals.record_health_changes(bigint[], text, text, bigint[]) is
    'Append a health event for each given deployment whose status or reason set changed since its latest event.';

-- The NOTIFY trigger function of migration 0010, mended here (repeatable, so every database gets
-- it): 0010's version read new.status_before in one expression with the kind test, which fails
-- on steward.ownership_changes rows (no such column). Same contract: per row, on commit,
-- {"org_id", "id", "kind"}; evaluator baselines (status_before null, cause TIME) stay silent.
create or replace function steward.announce_event() returns trigger
language plpgsql as $$
begin
    if tg_argv[0] = 'HEALTH_CHANGED' then
        if new.status_before is null and new.cause = 'TIME' then
            return null;  -- an evaluator's baseline: seeding, not news
        end if;
    end if;
    perform pg_notify('steward_events',
                      json_build_object('org_id', new.org_id, 'id', new.id, 'kind', tg_argv[0])::text);
    return null;
end $$;

grant execute on all functions in schema internals to steward_app;
-- metrics.health reads the log (ESCALATION_UNACKNOWLEDGED); BI readers run it as themselves
grant select on steward.health_events, steward.health_event_acknowledgements to bi_reader;
