-- name: touch_tokens
-- Token use remembered by token_usage.py ($1 token ids, $2 when each was last seen): written a minute
-- after the recorded use at the earliest, so several processes (and a burst of requests) write each
-- token at most about once a minute.
update steward.api_tokens t set last_used_at = u.used_at
  from unnest($1::bigint[], $2::timestamptz[]) as u(id, used_at)
 where t.id = u.id and (t.last_used_at is null or t.last_used_at < u.used_at - interval '1 minute');
