"""The webhook worker: sends the outbox (steward.webhook_deliveries), at least once, inside `steward serve`.

Every replica may run one. A worker claims due deliveries with `for update skip locked` and a
lease (so replicas share the work and, normally, never send a delivery twice), sends them
outside any transaction, then records each attempt: delivered, or due again after an
exponential backoff with jitter, or FAILED once the retry window (24 h) is over. A run of
failed attempts disables the endpoint, and that is itself an event (WEBHOOK_DISABLED).

It wakes at once when the process's event hub (service/events/hub.py, the one LISTEN
connection) hears `steward_webhooks`, sent whenever a delivery is added or is due again, or
reconnects; otherwise it polls every few seconds. A worker given no hub runs one of its own.
A worker that dies mid-send leaves its claims to expire: after the lease another worker sends
them again, with the same `webhook-id`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from schema.webhooks.payloads import disabled_payload
from service.config import Settings
from service.db import pool as db
from service.events import webhook_sender
from service.events.hub import DELIVERIES, EventHub
from service.http.health import database_down
from service.sql_files import load

log = logging.getLogger("steward.webhooks")

SQL = load("service.events", "webhook_worker.sql")
RECONNECT_S = (0.5, 10.0)  # first and longest pause between tries when the database is away


def backoff(attempt: int, base_s: float, max_s: float) -> float:
    """Seconds before the next try after `attempt` failed ones: base × 2^(attempt-1), capped, "equal jitter"."""
    delay = min(max_s, base_s * 2 ** min(attempt - 1, 40))
    return delay / 2 + random.uniform(0, delay / 2)


class Worker:
    """One delivery worker: start() in the app's lifespan, stop() at shutdown."""

    def __init__(self, settings: Settings, database_url: str, hub: EventHub | None = None):
        self.settings = settings
        self.hooks = settings.webhooks
        self.url = database_url
        self.hub = hub
        self._own_hub: EventHub | None = None  # started here when given none
        self._unwatch: Callable[[], None] | None = None
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None
        self._pool: asyncpg.Pool | None = None
        self._http: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="steward-webhooks")

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop claiming; give sends in flight `drain_s` to finish and be recorded, then cancel the rest.

        A cancelled send stays claimed until its lease ends, then is sent again (same webhook-id).
        """
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._unwatch is not None:
            self._unwatch()
        if self._own_hub is not None:
            await self._own_hub.stop()
        if self._inflight and drain_s > 0:
            await asyncio.wait(self._inflight, timeout=drain_s)
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
        if self._pool is not None:
            self._pool.terminate()

    # --- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        self._http = webhook_sender.client(self.hooks)
        pause = RECONNECT_S[0]
        while True:
            try:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.url, min_size=0, max_size=2, timeout=self.settings.db_connect_timeout_s,
                        command_timeout=self.settings.request_timeout_s, server_settings=db.SERVER_SETTINGS)
                if self._unwatch is None:
                    self._unwatch = self._watch(self._pool)
                await self._work_once()
                pause = RECONNECT_S[0]
            except Exception as exc:  # the database away (or a bug): log, pause, go on; never die
                level = logging.WARNING if database_down(exc) else logging.ERROR
                log.log(level, "webhook worker: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_S[1])

    def _watch(self, pool: asyncpg.Pool) -> Callable[[], None]:
        """Be woken by the hub on each added delivery (and after each of its reconnections)."""
        hub = self.hub
        if hub is None:  # on its own (no app around it): a hub of its own, which only wakes it
            hub = self._own_hub = EventHub(self.url, pool, queue_size=1,
                                           statement_timeout_ms=self.settings.statement_timeout_ms,
                                           connect_timeout_s=self.settings.db_connect_timeout_s)
            hub.start()
        return hub.watch(DELIVERIES, self._wake.set)

    async def _work_once(self) -> None:
        """Claim what is due (as many as there are free slots), then sleep until woken or something is due."""
        free = self.hooks.concurrency - len(self._inflight)
        claimed = await self._claim(free) if free > 0 else []
        for row in claimed:
            task = asyncio.create_task(self._deliver(row))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        if free > 0 and len(claimed) == free:
            return  # maybe more due: claim again at once
        wait = self.hooks.poll_s
        if free > 0:
            due_in = await self._transaction(lambda c: c.fetchval(SQL["seconds_until_due"]))
            if due_in is not None:
                wait = min(wait, max(due_in, 0.0) + 0.005)
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    def _done(self, task: asyncio.Task) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery not recorded: %r", task.exception())

    async def _transaction(self, work):
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute(SQL["scope"], str(int(self.settings.statement_timeout_ms)))
                return await work(conn)

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        lease = timedelta(seconds=self.hooks.lease_s)
        return await self._transaction(lambda c: c.fetch(SQL["claim"], limit, lease, uuid.uuid4()))

    # --- one delivery ----------------------------------------------------------------------------

    async def _deliver(self, row: asyncpg.Record) -> None:
        attempted_at = datetime.now(UTC)
        if self._http is None:  # _run opens the client before it claims anything
            raise RuntimeError("webhook delivery before the HTTP client was opened")
        outcome = await webhook_sender.send(self._http, self.hooks, row["url"], row["secret"], row["message_id"],
                                            row["body"])
        delay = timedelta(seconds=backoff(row["attempts"], self.hooks.retry_base_s, self.hooks.retry_max_s))
        window = timedelta(seconds=self.hooks.retry_window_s)
        for pause in (0.2, 1.0, 5.0, None):  # the result is worth a few tries if the database blinks
            try:
                await self._transaction(lambda c: self._record(c, row, attempted_at, outcome, delay, window))
                return
            except Exception as exc:
                if pause is None or not database_down(exc):
                    raise
                await asyncio.sleep(pause)

    async def _record(self, conn: asyncpg.Connection, row, attempted_at: datetime, outcome, delay: timedelta,
                      window: timedelta) -> None:
        settled = await conn.fetchrow(SQL["settle"], row["id"], row["lease"], outcome.ok, delay, window,
                                      row["org_id"])
        next_retry = settled["next_attempt_at"] if settled is not None and not outcome.ok else None
        await conn.execute(SQL["record_attempt"], row["org_id"], row["id"], row["attempts"], attempted_at,
                           outcome.status_code, outcome.latency_ms, outcome.error, next_retry)
        if outcome.ok:
            await conn.execute(SQL["succeeded"], row["webhook_id"], row["org_id"])
            return
        failed = await conn.fetchrow(SQL["failed"], row["webhook_id"], self.hooks.max_failures, row["org_id"])
        if failed is not None and failed["disabled_now"]:
            log.warning("webhook %s disabled after %s failed attempts in a row", failed["id"],
                        failed["consecutive_failures"])
            await conn.fetchval(SQL["enqueue"], failed["org_id"], "WEBHOOK_DISABLED",
                                json.dumps(disabled_payload(failed, "FAILURES")))

