"""Partitioned history (issue 16, item 2): conversations by month, keys unique across partitions,
partitions ahead, rows outside any month, retention that keeps the rollups (migration 0015,
sql/views/011 and 012, service/db/partitions.py)."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from service import ingest
from service.config import Settings
from service.db import migrate as migrator
from service.db import partitions
from service.db.pool import connect

from ..conftest import drop_database, with_database
from ..factory import Factory, at

UTC = UTC

PARTITIONS = """
select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
 where i.inhparent = 'steward.conversations'::regclass order by 1
"""


async def partition_of(conn: asyncpg.Connection, external_id: str) -> str:
    return await conn.fetchval("select tableoid::regclass::text from steward.conversations where external_id = $1",
                               external_id)


async def send(conn: asyncpg.Connection, org_id: int, rows: list[dict]) -> ingest.Result:
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()

    async def chunks():
        yield body

    return await ingest.ingest(conn, org_id, chunks(), "ndjson")


def row(ext: str, dep_key: str, started: datetime, outcome: str = "AI_RESOLVED") -> dict:
    return {"externalId": ext, "deploymentKey": dep_key, "topic": "order-status", "channel": "CHAT",
            "startedAt": started.isoformat(), "aiEngaged": True, "outcome": outcome}


async def daily(conn: asyncpg.Connection, dep: int) -> list[tuple]:
    return [tuple(r) for r in await conn.fetch(
        "select day, conversations, addressable, ai_resolved from steward.conversation_daily"
        " where deployment_id = $1 order by day", dep)]


async def tenant(factory: Factory) -> tuple[int, int, str, int]:
    org = await factory.org()
    dep = await factory.deployment(org, key="helpdesk")
    topic = await factory.topic(org, key="order-status")
    await factory.workflow(org, dep, topic)
    return org, dep, "helpdesk", topic


# --- partitions ahead ------------------------------------------------------------------------------

async def test_migrate_created_this_month_and_the_next_three(conn):
    names = {r["relname"] for r in await conn.fetch(PARTITIONS)}
    today = await conn.fetchval("select (now() at time zone 'UTC')::date")
    month = date(today.year, today.month, 1)
    for i in range(migrator.MONTHS_AHEAD + 1):
        m = date(month.year + (month.month - 1 + i) // 12, (month.month - 1 + i) % 12 + 1, 1)
        assert f"conversations_{m:%Y_%m}" in names
    assert "conversations_default" in names


async def test_the_periodic_pass_creates_months_as_time_moves_on(fresh_db_url):
    url = fresh_db_url
    conn = await connect(url)
    try:
        await conn.execute("alter database " + url.rsplit("/", 1)[1] + " set steward.now = '2031-05-17T00:00:00Z'")
        await conn.close()
        conn = await connect(url)
        first = await partitions.maintain(conn, 2, None)
        assert first == (["conversations_2031_05", "conversations_2031_06", "conversations_2031_07"], [])
        assert await partitions.maintain(conn, 2, None) == ([], [])   # idempotent
        # another process holds this pass: the second one skips, and creates nothing
        holder = await connect(url)
        try:
            tx = holder.transaction()
            await tx.start()
            assert await holder.fetchval("select pg_try_advisory_xact_lock($1)", partitions.LEADER_KEY)
            assert await partitions.maintain(conn, 6, None) is None
            await tx.rollback()
        finally:
            await holder.close()
    finally:
        await conn.close()


async def test_a_pass_behind_an_open_write_gives_up_instead_of_queueing(fresh_db_url, caplog):
    """A pass waits at most partitions.LOCK_TIMEOUT for its locks, then leaves the work to the next interval:
    waiting longer would queue every later reader of the tables behind its lock request."""
    url = fresh_db_url
    conn = await connect(url)
    await conn.execute("alter database " + url.rsplit("/", 1)[1] + " set steward.now = '2031-05-17T00:00:00Z'")
    await conn.close()
    writer = await connect(url)  # an open write transaction on a table the new partition's keys reference
    try:
        tx = writer.transaction()
        await tx.start()
        await writer.execute("lock table steward.deployments in row exclusive mode")
        started = time.monotonic()
        assert await asyncio.wait_for(partitions.tick(Settings(partition_months_ahead=2), url), 15) is None
        assert 1.5 <= time.monotonic() - started < 10
        assert any("LockNotAvailable" in r.getMessage() for r in caplog.records if r.name == "steward.partitions")
        await tx.rollback()
    finally:
        await writer.close()
    assert await partitions.tick(Settings(partition_months_ahead=2), url) == (
        ["conversations_2031_05", "conversations_2031_06", "conversations_2031_07"], [])


async def test_the_service_role_reaches_partitions_only_through_their_parent(conn):
    """The parent's row-level security applies to what is read through it; a partition itself is refused."""
    await conn.execute("set local role steward_app")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with conn.transaction():
            await conn.fetchval("select count(*) from steward.conversations_default")
    assert await conn.fetchval("select count(*) from steward.conversations") == 0   # no organization set


# --- rows outside any month, keys across partitions -------------------------------------------------

async def test_an_old_and_a_far_future_conversation_are_ingested_then_moved_to_their_months(factory):
    conn = factory.conn
    org, dep, key, _ = await tenant(factory)
    old, future = datetime(2023, 11, 3, 9, tzinfo=UTC), datetime(2099, 7, 1, 9, tzinfo=UTC)
    result = await send(conn, org, [row("old-1", key, old), row("future-1", key, future)])
    assert (result.inserted, result.rejected) == (2, 0)
    assert await partition_of(conn, "old-1") == "steward.conversations_default"
    assert await partition_of(conn, "future-1") == "steward.conversations_default"
    before = await daily(conn, dep)
    assert [d for d, *_ in before] == [date(2023, 11, 3), date(2099, 7, 1)]

    created = [r["name"] for r in await conn.fetch("select internals.ensure_conversation_partitions(3) as name")]

    assert {"conversations_2023_11", "conversations_2099_07"} <= set(created)
    assert await partition_of(conn, "old-1") == "steward.conversations_2023_11"
    assert await partition_of(conn, "future-1") == "steward.conversations_2099_07"
    assert await conn.fetchval("select count(*) from steward.conversations_default") == 0
    assert await daily(conn, dep) == before          # moved below the triggers: rollups unchanged
    assert await conn.fetchval("select count(*) from steward.conversation_keys where org_id = $1", org) == 2


async def test_a_corrected_started_at_moves_the_row_and_keeps_one_conversation(factory):
    conn = factory.conn
    org, dep, key, _ = await tenant(factory)
    await conn.fetch("select internals.ensure_conversation_partitions(0, '2026-01-01')")
    first = await send(conn, org, [row("c-1", key, datetime(2026, 1, 31, 23, tzinfo=UTC))])
    again = await send(conn, org, [row("c-1", key, datetime(2026, 1, 31, 23, tzinfo=UTC))])
    moved = await send(conn, org, [row("c-1", key, datetime(2026, 2, 1, 1, tzinfo=UTC))])

    assert (first.inserted, again.unchanged, moved.updated, moved.inserted) == (1, 1, 1, 0)
    assert await conn.fetchval("select count(*) from steward.conversations where org_id = $1", org) == 1
    assert await partition_of(conn, "c-1") == "steward.conversations_2026_02"
    assert [tuple(r) for r in await conn.fetch(
        "select k.started_at = c.started_at, k.id = c.id from steward.conversation_keys k"
        " join steward.conversations c using (org_id, external_id) where k.org_id = $1", org)] == [(True, True)]
    assert await daily(conn, dep) == [(date(2026, 2, 1), 1, 1, 1)]   # the old day's rollup row went with it


async def test_one_merge_fires_each_statement_trigger_once_even_when_a_row_moves(factory):
    """Two new conversations and one moved to another month: one INSERT and one UPDATE statement on the
    parent, so the rollup refresh runs twice (not per partition, not per row) and stays exact."""
    conn = factory.conn
    org, dep, key, _ = await tenant(factory)
    await conn.fetch("select internals.ensure_conversation_partitions(0, '2026-01-01')")
    await send(conn, org, [row("c-1", key, datetime(2026, 1, 20, tzinfo=UTC))])
    await conn.execute("set local track_functions = 'pl'")

    await send(conn, org, [row("c-1", key, datetime(2026, 2, 20, tzinfo=UTC)),
                           row("c-2", key, datetime(2026, 2, 20, 1, tzinfo=UTC)),
                           row("c-3", key, datetime(2026, 3, 5, tzinfo=UTC))])

    calls = {r["funcname"]: r["calls"] for r in await conn.fetch(
        "select funcname, calls from pg_stat_xact_user_functions where schemaname = 'internals'")}
    assert calls["conversations_changed"] == 2
    assert (calls["conversation_keys_inserted"], calls["conversation_keys_updated"]) == (1, 1)
    assert await daily(conn, dep) == [(date(2026, 2, 20), 2, 2, 2), (date(2026, 3, 5), 1, 1, 1)]


async def test_the_same_external_id_twice_is_refused_by_the_key_table_whoever_inserts(factory):
    conn = factory.conn
    org, dep, _, topic = await tenant(factory)
    await factory.conversation(org, dep, topic, at("2026-03-02"), external_id="dup")
    with pytest.raises(asyncpg.UniqueViolationError, match="conversation_keys_pkey"):
        async with conn.transaction():
            await factory.conversation(org, dep, topic, at("2025-06-02"), external_id="dup")


async def test_a_request_with_an_external_id_twice_keeps_the_last_on_stored_rows_too(factory):
    conn = factory.conn
    org, dep, key, _ = await tenant(factory)
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    await send(conn, org, [row("c-1", key, start)])
    result = await send(conn, org, [row("c-1", key, start, "ESCALATED"), row("c-1", key, start, "ABANDONED")])

    assert (result.updated, result.rejected) == (1, 1)
    assert [e.line for e in result.errors] == [1]
    assert await conn.fetchval("select outcome from steward.conversations where external_id = 'c-1'") == "ABANDONED"


# --- retention -------------------------------------------------------------------------------------

async def old_history(factory: Factory) -> tuple[int, int, list[tuple]]:
    """Conversations in 2025-01, 2025-02 and 2026-03; the clock pinned to 2026-04-15."""
    conn = factory.conn
    org, dep, key, _ = await tenant(factory)
    await factory.set_now(at("2026-04-15"))
    await conn.fetch("select internals.ensure_conversation_partitions(0, '2025-01-01')")
    rows = [row(f"c-{i}", key, datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=9 * i, hours=3),
                "AI_RESOLVED" if i % 3 else "ESCALATED") for i in range(7)]
    rows.append(row("recent", key, datetime(2026, 3, 10, tzinfo=UTC)))
    await send(conn, org, rows)
    window = await conn.fetchrow("select conversations, addressable, ai_resolved, escalated"
                                 " from metrics.deployment_window(array[$1::bigint], '2025-01-01', '2025-03-01')", dep)
    return org, dep, [tuple(window)]


async def test_retention_drops_whole_old_months_and_the_rollups_answer_for_them(factory):
    conn = factory.conn
    org, dep, before = await old_history(factory)
    rollup = await daily(conn, dep)

    dropped = [r["name"] for r in await conn.fetch("select internals.drop_conversation_partitions(12) as name")]

    assert "conversations_2025_01" in dropped and "conversations_2025_02" in dropped
    assert not [n for n in dropped if n >= "conversations_2025_04"]    # 2025-04 is not wholly older than 12 months
    names = {r["relname"] for r in await conn.fetch(PARTITIONS)}
    assert "conversations_2025_01" not in names and "conversations_2026_03" in names
    assert await conn.fetchval("select count(*) from steward.conversations where org_id = $1", org) == 1
    assert await conn.fetchval("select count(*) from steward.conversation_keys where org_id = $1", org) == 1
    after = await conn.fetchrow("select conversations, addressable, ai_resolved, escalated"
                                " from metrics.deployment_window(array[$1::bigint], '2025-01-01', '2025-03-01')", dep)
    assert [tuple(after)] == before and before[0][0] == 7
    assert await daily(conn, dep) == rollup

    # a change that recomputes every day of the deployment (a reopen window) leaves the dropped months' rollups
    await conn.execute("update steward.health_policies set reopen_window = interval '48 hours' where org_id = $1", org)
    assert await daily(conn, dep) == rollup


async def test_retention_keeps_a_month_whose_rollup_does_not_match(factory):
    conn = factory.conn
    _, dep, _ = await old_history(factory)
    await conn.execute("delete from steward.conversation_daily where deployment_id = $1 and day = '2025-01-10'", dep)

    dropped = [r["name"] for r in await conn.fetch("select internals.drop_conversation_partitions(12) as name")]

    assert dropped == []   # January fails the check, so nothing after it goes either
    assert "conversations_2025_01" in {r["relname"] for r in await conn.fetch(PARTITIONS)}
    assert await conn.fetchval("select count(*) from steward.conversation_retention") == 0


async def test_retention_unset_keeps_everything(fresh_db_url):
    conn = await connect(fresh_db_url)
    try:
        await conn.execute("select internals.ensure_conversation_partitions(0, '2020-01-01')")
        names = {r["relname"] for r in await conn.fetch(PARTITIONS)}
        assert await partitions.maintain(conn, 3, None) == ([], [])
        assert {r["relname"] for r in await conn.fetch(PARTITIONS)} == names
    finally:
        await conn.close()


# --- converting an existing table ------------------------------------------------------------------

async def test_migration_0015_converts_existing_rows_and_keeps_the_rollups_as_they_are(server_url):
    name = "steward_t_p0015"
    admin = await connect(server_url)
    await admin.execute(f"drop database if exists {name}")
    await admin.execute(f"create database {name}")
    await admin.close()
    url = with_database(server_url, name)
    conn = await connect(url)
    try:
        await conn.execute(migrator.SQL["bookkeeping"])
        before_0015 = [m for m in migrator.migrations() if m.version < "0015"]
        for m in before_0015:
            await conn.execute(m.sql)
            await conn.execute(migrator.SQL["record_migration"], m.version, m.name, m.checksum)
        # the views were last built with today's rollup rules: the migrator must not recompute
        await conn.execute(migrator.SQL["record_views"], "built-before-0015", migrator.rollup_checksum())
        org = await conn.fetchval("insert into steward.organizations (slug, name) values ('o', 'O') returning id")
        dep = await conn.fetchval("insert into steward.deployments (org_id, key, name, channels)"
                                  " values ($1, 'd', 'D', '{CHAT}') returning id", org)
        topic = await conn.fetchval("insert into steward.topics (org_id, key, name) values ($1, 't', 'T') returning id",
                                    org)
        await conn.execute(
            "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
            " ai_engaged, outcome) select $1, 'e-' || i, $2, $3, 'CHAT',"
            " timestamptz '2024-01-15' + i * interval '20 days', true, 'ESCALATED' from generate_series(1, 30) i",
            org, dep, topic)
        # a marker no recompute would produce: the rollup rows must come through untouched
        await conn.execute(
            "insert into steward.conversation_daily values ($1, $2, '2024-02-04', 999, 0, 0, 0, 0, 0, 0)", org, dep)
        rows = [tuple(r) for r in await conn.fetch("select * from steward.conversations order by id")]

        report = await migrator.migrate(conn)

        # 0015 and the migrations after it (they must keep the rows and the rollups as they are too)
        assert report.applied == [f"{m.version}_{m.name}" for m in migrator.migrations() if m.version >= "0015"]
        assert report.applied[0] == "0015_partitioned_conversations"
        assert [tuple(r) for r in await conn.fetch("select * from steward.conversations order by id")] == rows
        kind = await conn.fetchval("select relkind::text from pg_class where oid = 'steward.conversations'::regclass")
        assert kind == "p"
        assert await conn.fetchval("select count(*) from steward.conversations_default") == 0
        assert await conn.fetchval("select count(*) from steward.conversation_keys") == 30
        assert [tuple(r) for r in await conn.fetch("select day, conversations from steward.conversation_daily")] \
            == [(date(2024, 2, 4), 999)]
        new_id = await conn.fetchval(
            "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
            " ai_engaged, outcome) values ($1, 'new', $2, $3, 'CHAT', now(), true, 'OPEN') returning id",
            org, dep, topic)
        assert new_id > max(r[1] for r in rows)
    finally:
        await conn.close()
        await drop_database(server_url, name)
