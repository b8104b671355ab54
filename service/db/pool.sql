-- The statement that scopes a transaction (service/db/pool.py).

-- name: scope_transaction
-- Inside an open transaction: become role $1 (the app role), pin organization $2 ('' for none)
-- for row-level security, and bound each statement to $3 milliseconds.
select set_config('role', $1, true), set_config('app.org_id', $2, true), set_config('statement_timeout', $3, true);
