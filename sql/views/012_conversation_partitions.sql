-- Monthly partitions of steward.conversations (sql/migrations/0015): created ahead by
-- `steward migrate` and the periodic task (service/partitions.py), dropped by retention.
-- Both run as the tables' owner (the login role of migrate and serve), never as steward_app.

create function internals.conversation_partition(p_month date) returns text
language sql immutable
as $$ select 'conversations_' || to_char(p_month, 'YYYY_MM') $$;

-- Create the partition of each month in [current month, + p_months_ahead] (from p_from's month when
-- given: a bulk load creates its months before it copies, bench/generate.py) and of each month that
-- has rows in the DEFAULT partition (an old- or future-dated ingest), moving those rows into it.
-- A new partition is built aside and attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent
-- (reads and writes go on), and a lock on DEFAULT only (kept small by this very function).
-- The rows move by partition, below the parent's triggers: ids and started_at are unchanged, so
-- neither the keys nor the rollups change. Returns the partitions created.
create function internals.ensure_conversation_partitions(p_months_ahead integer, p_from date default null)
returns setof text
language plpgsql
as $$
declare
    m date;
    part text;
    lo timestamptz;
    hi timestamptz;
begin
    for m in
        select generate_series(date_trunc('month', least(p_from, (steward.clock() at time zone 'UTC')::date)),
                               date_trunc('month', steward.clock() at time zone 'UTC')
                               + make_interval(months => greatest(p_months_ahead, 0)),
                               interval '1 month')::date
        union
        select distinct date_trunc('month', started_at at time zone 'UTC')::date
          from steward.conversations_default
         where steward.instant_in_range(started_at)
           -- months retention dropped stay there: their rollup rows are kept as they were
           and started_at >= internals.utc(internals.conversations_kept_from())
        order by 1
    loop
        part := internals.conversation_partition(m);
        if to_regclass(format('steward.%I', part)) is not null then
            continue;
        end if;
        lo := m::timestamp at time zone 'UTC';
        hi := (m + interval '1 month')::timestamp at time zone 'UTC';
        execute format('create table steward.%I (like steward.conversations including defaults including constraints)',
                       part);
        execute format('insert into steward.%I select * from steward.conversations_default'
                       ' where started_at >= %L and started_at < %L', part, lo, hi);
        execute format('delete from steward.conversations_default where started_at >= %L and started_at < %L', lo, hi);
        execute format('alter table steward.conversations attach partition steward.%I for values from (%L) to (%L)',
                       part, lo, hi);
        return next part;
    end loop;
end $$;

-- Retention: detach and drop each monthly partition entirely older than p_keep_months whole
-- months before the current one, but only when conversation_daily holds, for every
-- (deployment, day) of its rows, a rollup row counting exactly those conversations; a month that
-- fails the check stays (WARNING) and so does every later one. The keys of the dropped rows go
-- with them (a re-sent one is a new conversation), and conversations_kept_from() moves past
-- the month, so no refresh recomputes the kept rollup rows. Returns the partitions dropped.
create function internals.drop_conversation_partitions(p_keep_months integer)
returns setof text
language plpgsql
as $$
declare
    cutoff date := (date_trunc('month', steward.clock() at time zone 'UTC')
                    - make_interval(months => p_keep_months))::date;
    part record;
    missing bigint;
begin
    if p_keep_months is null or p_keep_months < 1 then
        raise exception 'retention must keep at least one month, not %', p_keep_months;
    end if;
    for part in
        select c.oid::regclass as rel, c.relname,
               to_date(substr(c.relname, length('conversations_') + 1), 'YYYY_MM') as month
          from pg_inherits i
          join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'steward.conversations'::regclass and c.relname ~ '^conversations_\d{4}_\d{2}$'
         order by 3
    loop
        exit when (part.month + interval '1 month')::date > cutoff;
        execute format($q$
            select count(*) from (
                select c.org_id, c.deployment_id, (c.started_at at time zone 'UTC')::date as day, count(*) as n
                  from %s c group by 1, 2, 3
            ) k
            where not exists (select 1 from steward.conversation_daily d
                               where d.org_id = k.org_id and d.deployment_id = k.deployment_id
                                 and d.day = k.day and d.conversations = k.n)$q$, part.rel)
            into missing;
        if missing > 0 then
            raise warning 'retention: % kept: % (deployment, day) rollup rows missing or not matching its conversations',
                          part.relname, missing;
            exit;
        end if;
        execute format('alter table steward.conversations detach partition %s', part.rel);
        execute format('delete from steward.conversation_keys k using %s c'
                       ' where k.org_id = c.org_id and k.external_id = c.external_id and k.id = c.id', part.rel);
        execute format('drop table %s', part.rel);
        insert into steward.conversation_retention (kept_from) values ((part.month + interval '1 month')::date)
        on conflict (singleton) do update set kept_from = greatest(steward.conversation_retention.kept_from,
                                                                   excluded.kept_from),
                                              updated_at = now();
        return next part.relname::text;
    end loop;
end $$;
