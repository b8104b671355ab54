-- Statements of `steward org` and `steward token list` (service/orgs.py). They run as the
-- database owner the CLI connects as; `list_tokens` pins the organization for row-level security.

-- name: create_org
-- A new organization (its default health policy comes with it, by trigger).
insert into steward.organizations (slug, name, vertical) values ($1, $2, $3)
returning id, slug, name, vertical, created_at;

-- name: list_orgs
-- Every organization, with its number of active (unrevoked) tokens.
select o.id, o.slug, o.name, o.vertical, o.created_at,
       (select count(*) from steward.api_tokens t where t.org_id = o.id and t.revoked_at is null) as tokens
  from steward.organizations o
 order by o.slug;

-- name: org_id
-- The organization of a slug (no row: none has it).
select id from steward.organizations where slug = $1;

-- name: pin_org
-- Inside a transaction: row-level security binds the rest of it to organization $1 (as text).
select set_config('app.org_id', $1, true);

-- name: list_tokens
-- An organization's tokens: never the secret (it is not stored) nor its hash.
select id, name, scopes, created_at, last_used_at, revoked_at
  from steward.api_tokens
 where org_id = $1
 order by id;
