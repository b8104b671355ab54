"""The TIME evaluator: records health changes that time alone causes (14 days without an update → STALE).

Every `steward serve` replica runs one, every STEWARD_HEALTH_EVALUATOR_INTERVAL_S seconds
(0 disables it); only the leader works. Leadership is a session-level
`pg_try_advisory_lock` held on a dedicated connection, and the leader writes its events
on that same connection, so a process that lost the lock (its connection dropped) cannot
write any more: the lock and the writes die together, and another replica takes over at
its next tick. Even two evaluators at once would not record a change twice: the database
serializes each deployment's evaluation (internals.record_health_changes).

It walks every organization and works inside each one as steward_app under row-level
security, exactly as a request does; it learns the organizations' ids (nothing else)
from a security-definer function.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from schema.health.record import SQL
from service.config import Settings
from service.db import pool as db
from service.sql_files import load

log = logging.getLogger("steward.evaluator")

LEADER_KEY = 0x5E7A4E  # pg_try_advisory_lock key: one evaluator at a time per database (migrate uses 0x5E7A4D)
# One organization's pass may take longer than a request: at least this long before it is cancelled.
MIN_PASS_TIMEOUT_MS = 60_000
LEAD = load("service.events", "evaluator.sql")["try_lead"]
CONNECTION_LOST = (asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError, OSError, asyncio.TimeoutError)


class Evaluator:
    """Leader election and the passes; `run_forever` is the background task of the app's lifespan."""

    def __init__(self, settings: Settings, database_url: str):
        self.settings = settings
        self.url = database_url
        self.interval_s = settings.health_evaluator_interval_s
        self.conn: asyncpg.Connection | None = None  # held while leader
        self.passes = 0

    @property
    def is_leader(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()

    async def lead(self) -> bool:
        """Hold the leader lock on our own connection; False while another process holds it."""
        if self.is_leader:
            return True
        await self.close()
        conn = await db.connect(self.url, timeout=self.settings.db_connect_timeout_s)
        try:
            leader = await conn.fetchval(LEAD, LEADER_KEY)
        except BaseException:
            conn.terminate()
            raise
        if not leader:
            await conn.close()
            return False
        self.conn = conn
        log.info("health evaluator: this process is the leader")
        return True

    async def evaluate(self) -> int:
        """One pass over every organization's non-retired deployments (cause TIME); returns the events recorded."""
        conn = self.conn
        assert conn is not None
        timeout_ms = max(self.settings.statement_timeout_ms, MIN_PASS_TIMEOUT_MS)
        recorded = 0
        for row in await conn.fetch(SQL["organization_ids"]):
            org_id = row["id"]
            try:
                async with conn.transaction():
                    await db.scope_transaction(conn, org_id, timeout_ms)
                    recorded += await conn.fetchval(SQL["evaluate_org"], org_id)
            except asyncpg.PostgresError as exc:
                if conn.is_closed():
                    raise
                # one organization's failure (a timeout, bad data) does not hold the others back
                log.warning("health evaluator: organization %s skipped this pass: %s", org_id, type(exc).__name__)
        self.passes += 1
        return recorded

    async def tick(self) -> int | None:
        """Lead if possible and evaluate; the events recorded, or None when not the leader (or disconnected)."""
        try:
            if not await self.lead():
                return None
            return await self.evaluate()
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            log.warning("health evaluator: pass failed (%s); leadership is given up and retried next tick",
                        type(exc).__name__)
            await self.close()
            return None

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.tick()

    async def close(self) -> None:
        """Give up leadership (closing the session releases the lock)."""
        conn, self.conn = self.conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), self.settings.db_connect_timeout_s)
        except Exception:  # the database is gone: the lock went with the session
            conn.terminate()


@contextlib.asynccontextmanager
async def running(settings: Settings, database_url: str):
    """The evaluator as a background task for the app's lifespan (nothing when the interval is 0)."""
    if settings.health_evaluator_interval_s <= 0:
        yield None
        return
    evaluator = Evaluator(settings, database_url)
    task = asyncio.create_task(evaluator.run_forever(), name="steward-health-evaluator")
    try:
        yield evaluator
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await evaluator.close()
