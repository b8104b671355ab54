"""Partitioned history: monthly partitions of steward.conversations created ahead, and retention.

`steward migrate` creates the months ahead once (migrate.py); every `steward serve` process runs
`running()`, which repeats it every STEWARD_PARTITION_INTERVAL_S and, with STEWARD_RETENTION_MONTHS
set, drops the months older than that once their rollups are checked (sql/views/012). Only one
process works at a time: each pass runs in one transaction that first takes a transaction-level
advisory lock, so a second process skips its pass instead of waiting; the work is idempotent,
so which process does it does not matter. It connects as the login role (the tables' owner),
since creating and dropping partitions is DDL.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from service.config import Settings
from service.db import pool as db
from service.sql_files import load

log = logging.getLogger("steward.partitions")

LEADER_KEY = 0x5E7A4F  # migrate 0x5E7A4D, the health evaluator 0x5E7A4E
# Creating or dropping a partition locks steward.conversations and the tables its keys reference;
# queued behind a long transaction, that lock request would hold up every read after it. A pass
# that cannot get its locks in this time gives up (LockNotAvailable, logged) and runs next interval.
LOCK_TIMEOUT = "2s"
SQL = load("service.db", "partitions.sql")


Pass = tuple[list[str], list[str]]  # partitions created, partitions dropped


async def maintain(conn: asyncpg.Connection, months_ahead: int, retention_months: int | None) -> Pass | None:
    """One pass: (partitions created, partitions dropped), or None when another process holds the pass."""
    async with conn.transaction():
        if not await conn.fetchval(SQL["try_lead"], LEADER_KEY):
            return None
        await conn.execute(SQL["lock_timeout"], LOCK_TIMEOUT)
        created = [r["name"] for r in await conn.fetch(SQL["ensure"], months_ahead)]
        dropped = [r["name"] for r in await conn.fetch(SQL["drop_old"], retention_months)] if retention_months else []
    return created, dropped


async def tick(settings: Settings, database_url: str) -> Pass | None:
    """Connect, run one pass, log what changed; failures are logged and retried next interval."""
    try:
        conn = await db.connect(database_url, timeout=settings.db_connect_timeout_s)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        log.warning("partitions: cannot connect (%s); retried next interval", type(exc).__name__)
        return None
    try:
        done = await maintain(conn, settings.partition_months_ahead, settings.retention_months)
    except asyncpg.PostgresError as exc:
        log.warning("partitions: pass failed (%s: %s); retried next interval", type(exc).__name__, exc)
        return None
    finally:
        await conn.close()
    if done and (done[0] or done[1]):
        log.info("partitions: created %s; dropped %s", ", ".join(done[0]) or "none", ", ".join(done[1]) or "none")
    return done


@contextlib.asynccontextmanager
async def running(settings: Settings, database_url: str):
    """The periodic pass as a background task of the app's lifespan (nothing when the interval is 0)."""
    if settings.partition_interval_s <= 0:
        yield None
        return

    async def forever() -> None:
        while True:
            await tick(settings, database_url)
            await asyncio.sleep(settings.partition_interval_s)

    task = asyncio.create_task(forever(), name="steward-partitions")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
