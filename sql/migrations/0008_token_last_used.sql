-- When each API token was last used, for `steward token list`. The request that
-- authenticates never writes it: the service remembers its tokens' use in memory
-- and records it from a background task, at most once a minute per token, so a
-- read-only request stays read-only (and could run on a replica one day).
alter table steward.api_tokens add column last_used_at timestamptz
    constraint api_tokens_last_used_at_in_range check (steward.instant_in_range(last_used_at));
comment on column steward.api_tokens.last_used_at is
    'Last successful authentication with this token, to the minute (null: never used).';

-- The service may record a token's use and change nothing else of a token;
-- row-level security keeps it to the organization it is scoped to.
grant update (last_used_at) on steward.api_tokens to steward_app;
