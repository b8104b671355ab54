-- Idempotency keys (schema/idempotency.py), per organization and token.

-- name: claim
insert into steward.idempotency_keys (org_id, token_id, key, operation, request_hash)
values ($1, $2, $3, $4, $5)
on conflict (org_id, token_id, key) do nothing
returning key;

-- name: forget_expired
-- Lazy expiry of the token's old keys; rows another request is already deleting are skipped, not waited for.
delete from steward.idempotency_keys
 where org_id = $1 and (org_id, token_id, key) in (
       select org_id, token_id, key from steward.idempotency_keys
        where org_id = $1 and token_id = $2 and created_at < now() - $3::interval
          for update skip locked);

-- name: look_up
select operation, request_hash, response from steward.idempotency_keys
 where org_id = $1 and token_id = $2 and key = $3;

-- name: remember
update steward.idempotency_keys set response = $4::jsonb
 where org_id = $1 and token_id = $2 and key = $3;
