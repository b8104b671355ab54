-- Trusted documents: the GraphQL operations a production frontend may send,
-- registered ahead of time by `steward documents import` (Relay's
-- persisted_queries.json or Apollo's persisted query manifest). They hold no
-- tenant data (the text of a query, not its answers), so they are one shared
-- table, like a Citus reference table; the service may only read them.
create table steward.trusted_documents (
    id              text primary key check (length(id) between 1 and 200),
    sha256          text not null unique check (sha256 ~ '^[0-9a-f]{64}$'),
    body            text not null check (length(body) between 1 and 1000000),
    operation_name  text,
    source          text not null,
    imported_at     timestamptz not null default now()
                    constraint trusted_documents_imported_at_in_range check (steward.instant_in_range(imported_at))
);
comment on table steward.trusted_documents is
    'GraphQL documents registered for STEWARD_TRUSTED_DOCUMENTS=only, by client id (Relay/Apollo) and SHA-256.';

grant select on steward.trusted_documents to steward_app;
