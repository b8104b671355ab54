-- name: record_changes
-- Append an event for each deployment whose health changed (sql/views/050_health_events.sql).
select id from internals.record_health_changes($1::bigint[], $2, $3, $4::bigint[]) as r(id);

-- name: owned_by
-- Deployments the people own now (their health follows the person's details).
select deployment_id from metrics.current_owners where person_id = any($1::bigint[]);

-- name: live_deployments
-- Every non-retired deployment of the organization (a policy change, the TIME evaluator).
select id from steward.deployments where org_id = $1 and status <> 'RETIRED' order by id;

-- name: evaluate_org
-- The TIME evaluator's pass over one organization, inside a transaction scoped to it.
select count(*) from internals.record_health_changes(
    array(select id from steward.deployments where org_id = $1 and status <> 'RETIRED'), 'TIME');

-- name: organization_ids
-- Every organization's id, for the evaluator (a security-definer function: ids only).
select id from steward.organization_ids() as o(id);

-- name: events_by_id
-- Health events of organization $2 by id (row-level security applies too).
select * from steward.health_events where org_id = $2 and id = any($1::bigint[]);

-- name: acknowledgements_by_event
-- The acknowledgement of each event, if any.
select * from steward.health_event_acknowledgements where org_id = $2 and event_id = any($1::bigint[]);

-- name: event_for_acknowledgement
-- The event to acknowledge, with its deployment (so the deployment's health can be re-evaluated).
select id, org_id, deployment_id from steward.health_events where org_id = $2 and id = $1;

-- name: acknowledge
-- One acknowledgement per event: null when the event already has one.
insert into steward.health_event_acknowledgements (org_id, event_id, note, token_id, token_name, request_id)
values ($1, $2, $3, $4, $5, $6)
on conflict (org_id, event_id) do nothing
returning event_id;

-- name: lock_person
-- The escalation contact: it must exist and be active while the change commits.
select id, active from steward.persons where org_id = $2 and id = $1 for share;

-- name: set_escalation_contact
-- Name (or clear) a deployment's escalation contact; returns whether it changed.
with old as (select id, escalation_person_id from steward.deployments where org_id = $3 and id = $1 for update)
update steward.deployments d set escalation_person_id = $2
  from old where d.org_id = $3 and d.id = old.id
returning old.escalation_person_id is distinct from $2 as changed;
