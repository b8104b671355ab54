-- Webhook reads and writes of the GraphQL API. They run as steward_app under row-level security:
-- the organization's own rows only, and never the signing secret (no privilege on that column).

-- name: webhooks
-- The organization's endpoints, oldest first (at most 20: steward.webhooks_limit).
select org_id, id, url, events, description, enabled, disabled_at, disabled_reason, consecutive_failures,
       created_at, updated_at
  from steward.webhooks
 where org_id = $1
 order by id;

-- name: webhook
select org_id, id, url, events, description, enabled, disabled_at, disabled_reason, consecutive_failures,
       created_at, updated_at
  from steward.webhooks
 where org_id = $2 and id = $1;

-- name: deliveries
-- One endpoint's deliveries (optionally of one status), newest first (by id); keyset $3-$8
-- (schema/relay.py keyset_args).
select id, webhook_id, message_id, event, payload::text as payload, status, attempts, next_attempt_at, created_at,
       delivered_at
  from steward.webhook_deliveries
 where org_id = $9 and webhook_id = $1 and ($2::text is null or status = $2)
   and ($3::text is null or (id, id) > ($3::text::bigint, $4::bigint))
   and ($5::text is null or (id, id) < ($5::text::bigint, $6::bigint))
 order by case when $7 then id end desc, id
 limit $8;

-- name: count_deliveries
select count(*) from steward.webhook_deliveries
 where org_id = $3 and webhook_id = $1 and ($2::text is null or status = $2);

-- name: delivery
select id, webhook_id, message_id, event, payload::text as payload, status, attempts, next_attempt_at, created_at,
       delivered_at
  from steward.webhook_deliveries
 where org_id = $2 and id = $1;

-- name: attempts
-- The latest attempts of each delivery ($2 at most per delivery), oldest first.
select delivery_id, attempt, attempted_at, status_code, latency_ms, error, next_retry_at
  from (select a.*, row_number() over (partition by delivery_id order by attempt desc, id desc) as newest
          from steward.webhook_attempts a
         where org_id = $3 and delivery_id = any($1::bigint[])) a
 where newest <= $2
 order by delivery_id, attempt, id;

-- name: create_webhook
insert into steward.webhooks (org_id, url, events, description, secret)
values ($1, $2, $3, $4, $5)
returning id;

-- name: update_webhook
-- Fields passed as null stay as they are ($2 url, $3 events, $4 description, $5 whether it was given, $6 enabled).
-- Enabling clears the failure count; returns whether this call disabled it.
update steward.webhooks w
   set url = coalesce($2, w.url),
       events = coalesce($3, w.events),
       description = case when $5 then $4 else w.description end,
       enabled = coalesce($6, w.enabled),
       disabled_at = case when $6 is null or $6 = w.enabled then w.disabled_at
                          when $6 then null else clock_timestamp() end,
       disabled_reason = case when $6 is null or $6 = w.enabled then w.disabled_reason
                              when $6 then null else 'MANUAL' end,
       consecutive_failures = case when $6 and not w.enabled then 0 else w.consecutive_failures end,
       updated_at = clock_timestamp()
  from (select id, enabled from steward.webhooks where org_id = $7 and id = $1 for no key update) before
 where w.org_id = $7 and w.id = before.id
returning w.org_id, w.id, w.url, w.description, w.disabled_at, w.consecutive_failures,
          before.enabled and not w.enabled as disabled_now;

-- name: delete_webhook
delete from steward.webhooks where org_id = $2 and id = $1 returning id;

-- name: webhook_enabled
select enabled from steward.webhooks where org_id = $2 and id = $1 for share;

-- name: test_delivery
-- A webhook.test event to one endpoint, through the same outbox; wakes the workers on commit.
with added as (
    insert into steward.webhook_deliveries (org_id, webhook_id, event, payload)
    values ($1, $2, 'WEBHOOK_TEST', $3::jsonb)
    returning id
)
select id, pg_notify('steward_webhooks', '') from added;

-- name: redeliver
-- Send a delivery again now, with the same webhook-id, and retry it for a whole window from now.
with again as (
    update steward.webhook_deliveries
       set status = 'PENDING', next_attempt_at = clock_timestamp(), retry_from = clock_timestamp(), lease = null
     where org_id = $2 and id = $1
    returning id, webhook_id
)
select again.id, again.webhook_id, pg_notify('steward_webhooks', '') from again;

-- name: enqueue
select steward.enqueue_webhook_event($1, $2, null, $3::jsonb);
