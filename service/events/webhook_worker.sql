-- The webhook worker's statements. They run as steward_webhook_worker, which sees the outbox
-- of every organization (and the signing secrets); see sql/migrations/0012_webhooks.sql.

-- name: scope
-- Inside an open transaction: act as the worker's role, each statement bounded to $1 milliseconds.
select set_config('role', 'steward_webhook_worker', true), set_config('statement_timeout', $1, true);

-- name: claim
-- Take up to $1 due deliveries of enabled endpoints for this worker: rows another worker holds
-- are skipped, not waited for, and a taken row is not due again before the lease ($2) ends.
with due as (
    select d.id
      from steward.webhook_deliveries d
      join steward.webhooks w on w.org_id = d.org_id and w.id = d.webhook_id
     where d.status = 'PENDING' and d.next_attempt_at <= clock_timestamp() and w.enabled
     order by d.next_attempt_at, d.id
     limit $1
       for update of d skip locked
)
update steward.webhook_deliveries d
   set next_attempt_at = clock_timestamp() + $2::interval, lease = $3::uuid, attempts = d.attempts + 1
  from due, steward.webhooks w
 where d.id = due.id and w.org_id = d.org_id and w.id = d.webhook_id
returning d.org_id, d.id, d.webhook_id, d.message_id, d.lease, d.payload::text as body, d.attempts, w.url, w.secret;

-- name: seconds_until_due
-- How long until the next pending delivery of an enabled endpoint is due (null: none pending).
select extract(epoch from min(d.next_attempt_at) - clock_timestamp())::float8
  from steward.webhook_deliveries d
  join steward.webhooks w on w.org_id = d.org_id and w.id = d.webhook_id
 where d.status = 'PENDING' and w.enabled;

-- name: settle
-- After an attempt by the holder of lease $2: delivered ($3), or due again after the backoff ($4),
-- or FAILED once the next try would fall outside the retry window ($5) from retry_from.
-- No row: the lease ended and another worker holds the delivery now. $6: its organization (from the
-- claim), so that under Citus the statement goes to one shard.
with clock as (select clock_timestamp() as now)
update steward.webhook_deliveries d
   set status = case when $3 then 'DELIVERED'
                     when clock.now + $4::interval > d.retry_from + $5::interval then 'FAILED'
                     else 'PENDING' end,
       next_attempt_at = case when $3 or clock.now + $4::interval > d.retry_from + $5::interval then null
                              else clock.now + $4::interval end,
       delivered_at = case when $3 then clock.now else d.delivered_at end,
       lease = null
  from clock
 where d.org_id = $6 and d.id = $1 and d.lease = $2::uuid
returning d.status, d.next_attempt_at;

-- name: record_attempt
insert into steward.webhook_attempts (org_id, delivery_id, attempt, attempted_at, status_code, latency_ms, error,
                                      next_retry_at)
values ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: succeeded
-- A success ends the endpoint's run of failures ($2: its organization).
update steward.webhooks set consecutive_failures = 0 where org_id = $2 and id = $1 and consecutive_failures <> 0;

-- name: failed
-- One more failure in a row; the failure that makes $2 disables the endpoint (disabled_now). $3: its
-- organization.
update steward.webhooks w
   set consecutive_failures = w.consecutive_failures + 1,
       enabled = w.enabled and w.consecutive_failures + 1 < $2,
       disabled_at = case when w.enabled and w.consecutive_failures + 1 >= $2 then clock_timestamp()
                          else w.disabled_at end,
       disabled_reason = case when w.enabled and w.consecutive_failures + 1 >= $2 then 'FAILURES'
                              else w.disabled_reason end
  from (select id, enabled from steward.webhooks where org_id = $3 and id = $1 for no key update) before
 where w.org_id = $3 and w.id = before.id
returning w.org_id, w.id, w.url, w.description, w.disabled_at, w.consecutive_failures,
          before.enabled and not w.enabled as disabled_now;

-- name: enqueue
-- An event that is not in a log (WEBHOOK_DISABLED): into the outbox of the organization's endpoints.
select steward.enqueue_webhook_event($1, $2, null, $3::jsonb);
