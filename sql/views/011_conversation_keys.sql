-- steward.conversation_keys (sql/migrations/0015) holds one row per conversation: the global
-- uniqueness of (org_id, external_id) that the month-partitioned conversations table cannot hold
-- itself, and where the row lives (id, started_at). These statement triggers keep it exact for
-- every writer, one set-based statement per writing statement: a second conversation with the
-- same external id fails on conversation_keys_pkey, whoever inserts it.

create function internals.conversation_keys_inserted() returns trigger
language plpgsql
as $$
begin
    insert into steward.conversation_keys (org_id, external_id, id, started_at)
    select org_id, external_id, id, started_at from new_rows;
    return null;
end $$;

-- A corrected started_at moves the row to another partition; its key follows it.
create function internals.conversation_keys_updated() returns trigger
language plpgsql
as $$
begin
    update steward.conversation_keys k
       set external_id = n.external_id, started_at = n.started_at
      from old_rows o
      join new_rows n on n.org_id = o.org_id and n.id = o.id
     where k.org_id = o.org_id and k.external_id = o.external_id
       and (n.external_id, n.started_at) is distinct from (o.external_id, o.started_at);
    return null;
end $$;

create function internals.conversation_keys_deleted() returns trigger
language plpgsql
as $$
begin
    delete from steward.conversation_keys k
     using old_rows o
     where k.org_id = o.org_id and k.external_id = o.external_id and k.id = o.id;
    return null;
end $$;

-- TRUNCATE has no transition table: it empties the table, so the keys go whole (bench/ingest_bench.py).
create function internals.conversation_keys_truncated() returns trigger
language plpgsql
as $$
begin
    truncate steward.conversation_keys;
    return null;
end $$;

create trigger conversations_keys_insert after insert on steward.conversations
    referencing new table as new_rows for each statement execute function internals.conversation_keys_inserted();
create trigger conversations_keys_update after update on steward.conversations
    referencing old table as old_rows new table as new_rows
    for each statement execute function internals.conversation_keys_updated();
create trigger conversations_keys_delete after delete on steward.conversations
    referencing old table as old_rows for each statement execute function internals.conversation_keys_deleted();
create trigger conversations_keys_truncate after truncate on steward.conversations
    for each statement execute function internals.conversation_keys_truncated();
