-- Tokens (service/auth.py). The authenticate statement is the only SQL of a refused request, and the
-- scope tests compare its text: it carries no comment of its own. It returns the principal of a token
-- by the SHA-256 of its secret, and no row when the token is unknown or revoked.

-- name: authenticate
select * from steward.authenticate($1)

-- name: organization_id
-- The organization a new token belongs to, by its slug.
select id from steward.organizations where slug = $1;

-- name: create_token
-- A new token: only the hash of its secret is stored.
insert into steward.api_tokens (org_id, name, token_hash, scopes) values ($1, $2, $3, $4) returning id;

-- name: revoke_token
-- Revoke a token once; a second revocation changes nothing (and says so: 0 rows).
update steward.api_tokens set revoked_at = now() where id = $1 and revoked_at is null;
