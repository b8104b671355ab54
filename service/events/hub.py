"""The process's one LISTEN connection, fanned out: events to subscribers by organization, wake-ups to watchers.

Every replica runs one hub, so every replica sees every committed event (NOTIFY is sent on
commit only: a rolled-back event is never announced). A notification on `steward_events` names
a row (`{org_id, id, kind}`) and carries no tenant data: subscribers read the row by id under
row-level security. The hub routes a notification only to subscribers of its `org_id`.

Watchers (the webhook worker) are told "look again" on each notification of a channel they
watch (`steward_webhooks`: a delivery was added) and after every (re)connection, since whatever
was announced while the hub was not listening was not heard.

Back-pressure: each subscriber has a bounded queue. One that falls `queue_size` events
behind is dropped (its next read raises `Overflow`), so a slow client neither blocks the
others nor grows memory without bound.

Gaps: if the listener connection drops, the hub reconnects with backoff and then reads,
for each organization with subscribers, the health events with an id above the highest it
had delivered (those committed while it was not listening), so subscribers miss nothing
but this: an event whose transaction took its id before the last delivered one yet
committed during the gap (ids are assigned at insert, not at commit). Duplicates between
the catch-up and live notifications are dropped by id.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg

from schema.health.record import HEALTH_CHANGED
from service import sql_files
from service.db import pool as db

log = logging.getLogger("steward.events")

CHANNEL = "steward_events"
DELIVERIES = "steward_webhooks"  # a webhook delivery was added or is due again: no payload
CHANNELS = (CHANNEL, DELIVERIES)
LISTENER = "steward-listener"  # application_name of the listener connection (pg_stat_activity)
SQL = sql_files.load("service.events", "hub.sql")
RECENT_IDS = 1024  # ids remembered per organization to drop duplicates after a catch-up
CATCH_UP_LIMIT = 1000  # events read per organization after a gap; beyond that, subscribers are dropped


@dataclass(frozen=True)
class Notice:
    """What the channel says: which row, of which organization, of which kind."""

    org_id: int
    id: int
    kind: str


class Overflow(Exception):
    """The subscriber fell too far behind and was dropped."""

    extensions = {"code": "SLOW_SUBSCRIBER"}  # shown to the client as the error's code


class Unavailable(Exception):
    """The listener is not connected (the database is away)."""

    extensions = {"code": "SERVICE_UNAVAILABLE"}


_DROPPED = object()  # put in a full queue in place of its contents


class Subscriber:
    """One subscription's bounded queue of notices of one organization."""

    def __init__(self, org_id: int, kinds: frozenset[str], queue_size: int):
        self.org_id, self.kinds, self.queue_size = org_id, kinds, queue_size
        self._queue: asyncio.Queue = asyncio.Queue(queue_size)
        self.dropped = False

    def offer(self, notice: Notice) -> None:
        if self.dropped or notice.kind not in self.kinds:
            return
        try:
            self._queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        """Forget what is queued and make the next read raise Overflow."""
        self.dropped = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_DROPPED)

    async def next(self) -> Notice:
        item = await self._queue.get()
        if item is _DROPPED:
            raise Overflow(f"this subscription fell more than {self.queue_size} events behind and was dropped; "
                           "subscribe again (and read healthEvents for what was missed)")
        return item


class _OrgState:
    def __init__(self, high: int):
        self.subscribers: set[Subscriber] = set()
        self.high = high  # highest health event id delivered (or current when the first subscriber came)
        self.recent: deque[tuple[str, int]] = deque(maxlen=RECENT_IDS)
        self.recent_set: set[tuple[str, int]] = set()

    def first_time(self, notice: Notice) -> bool:
        """False for a notice already delivered (ids are per kind: two tables)."""
        key = (notice.kind, notice.id)
        if key in self.recent_set:
            return False
        if len(self.recent) == self.recent.maxlen:
            self.recent_set.discard(self.recent[0])
        self.recent.append(key)
        self.recent_set.add(key)
        if notice.kind == HEALTH_CHANGED:
            self.high = max(self.high, notice.id)
        return True


class EventHub:
    """Started by the app's lifespan; connects on the first subscription and stays connected."""

    def __init__(self, database_url: str, pool: asyncpg.Pool, *, queue_size: int, statement_timeout_ms: int,
                 connect_timeout_s: float, check_interval_s: float = 10.0):
        self.url, self.pool = database_url, pool
        self.queue_size, self.statement_timeout_ms = queue_size, statement_timeout_ms
        self.connect_timeout_s, self.check_interval_s = connect_timeout_s, check_interval_s
        self.orgs: dict[int, _OrgState] = {}
        self.listening = asyncio.Event()
        self.connections = 0  # listener connections made so far (a reconnect adds one)
        self.watchers: dict[str, set[Callable[[], None]]] = {channel: set() for channel in CHANNELS}
        self._wanted = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None

    @property
    def subscriber_count(self) -> int:
        return sum(len(state.subscribers) for state in self.orgs.values())

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="steward-event-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for state in self.orgs.values():
            for subscriber in state.subscribers:
                subscriber.drop()

    @contextlib.asynccontextmanager
    async def subscribe(self, org_id: int, kinds: frozenset[str], wait_s: float) -> AsyncIterator[Subscriber]:
        """Register a subscriber once the hub listens (at most `wait_s`); unregister on exit."""
        self._wanted.set()
        try:
            async with asyncio.timeout(wait_s):  # (3.11's wait_for may swallow a cancellation)
                await self.listening.wait()
        except TimeoutError:
            raise Unavailable("the live event feed is not connected to the database; retry shortly") from None
        state = self.orgs.get(org_id)
        if state is None:
            high = await self._latest_id(org_id)
            state = self.orgs.setdefault(org_id, _OrgState(high))
        subscriber = Subscriber(org_id, kinds, self.queue_size)
        state.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            state.subscribers.discard(subscriber)
            if not state.subscribers and self.orgs.get(org_id) is state:
                del self.orgs[org_id]

    def watch(self, channel: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` on each notification on `channel` and after each (re)connection; returns the unwatch."""
        self.watchers[channel].add(wake)
        self._wanted.set()
        return lambda: self.watchers[channel].discard(wake)

    def deliver(self, notice: Notice) -> None:
        state = self.orgs.get(notice.org_id)
        if state is None or not state.first_time(notice):
            return
        for subscriber in list(state.subscribers):
            subscriber.offer(notice)

    # The listener ---------------------------------------------------------------------------------

    def _on_notify(self, _conn: asyncpg.Connection, _pid: int, channel: str, payload: str) -> None:
        self._wake(channel)
        if channel != CHANNEL:
            return
        try:
            message = json.loads(payload)
            notice = Notice(int(message["org_id"]), int(message["id"]), str(message["kind"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed notification on %s", CHANNEL)
            return
        self.deliver(notice)

    def _wake(self, *channels: str) -> None:
        for channel in channels:
            for wake in list(self.watchers[channel]):
                wake()

    async def _run(self) -> None:
        await self._wanted.wait()
        delay, had_gap = 0.1, False
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.url, timeout=self.connect_timeout_s,
                                             server_settings=db.SERVER_SETTINGS | {"application_name": LISTENER})
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in CHANNELS:
                    await conn.add_listener(channel, self._on_notify)
                self._conn, self.connections = conn, self.connections + 1
                self.listening.set()
                log.info("listening on %s", ", ".join(CHANNELS))
                self._wake(*CHANNELS)  # what was announced before the hub listened
                if had_gap:
                    await self._catch_up()
                delay = 0.1
                await self._watch(conn, lost)
            except asyncio.CancelledError:
                await self._close()
                raise
            except Exception as exc:  # the database is down or went away: retry, never give up
                log.warning("event listener lost its connection (%s: %s); reconnecting in %.1fs",
                            type(exc).__name__, exc, delay)
            self.listening.clear()
            had_gap = True
            await self._close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is gone: closed by the server, or silent for a check interval."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.check_interval_s):
                    await lost.wait()
            if not lost.is_set():
                await conn.execute(SQL["ping"], timeout=self.connect_timeout_s)
        raise ConnectionError("the listener connection was closed")

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _latest_id(self, org_id: int) -> int:
        async with db.org_transaction(self.pool, org_id, self.statement_timeout_ms) as conn:
            return await conn.fetchval(SQL["latest_health_event_id"])

    async def _catch_up(self) -> None:
        """Deliver the health events committed while the hub was not listening."""
        for org_id, state in list(self.orgs.items()):
            async with db.org_transaction(self.pool, org_id, self.statement_timeout_ms) as conn:
                ids = await conn.fetch(SQL["health_event_ids_after"], state.high, CATCH_UP_LIMIT + 1)
            if len(ids) > CATCH_UP_LIMIT:
                for subscriber in list(state.subscribers):
                    subscriber.drop()
                continue
            for row in ids:
                self.deliver(Notice(org_id, row["id"], HEALTH_CHANGED))
            log.info("caught up %d health events of organization %d after a gap", len(ids), org_id)
