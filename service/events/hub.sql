-- Statements of the event hub (service/events/hub.py); each but `ping` runs
-- as steward_app inside db.org_transaction, so row-level security scopes it to one organization.

-- name: latest_health_event_id
-- Where a first subscriber of an organization starts: after the latest event (0 when none).
select coalesce(max(id), 0) from steward.health_events;

-- name: health_event_ids_after
-- Events committed while the listener was away, oldest first; evaluator baselines are not announced.
select id from steward.health_events
 where id > $1 and not (status_before is null and cause = 'TIME')
 order by id
 limit $2;

-- name: ping
-- Is the listener connection still there? (A silent one is checked every few seconds.)
select 1;
