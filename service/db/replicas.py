"""Read replicas (STEWARD_REPLICA_URLS): one pool per hot standby, each one's replay lag measured against
the primary's WAL a few times a second, and the connection a request runs on.

Writes always run on the primary. A read runs on a replica that is reachable, a standby, and within
STEWARD_REPLICA_MAX_LAG_MS of the primary; when it carries a consistency token (the WAL position of a
commit: service/http/consistency.py), only on one that has replayed that position. Otherwise the primary
serves it. With the primary unreachable, every reachable standby serves reads whatever its lag (it cannot
catch up anyway): Steward is then read-only, not dark; a token the standbys have not replayed still goes
to the primary (and gets a 503) rather than being answered without the write it names.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from service.config import Settings
from service.db import pool as db
from service.db.lag import PrimaryHistory, WalGeometry, format_lsn
from service.http.health import database_down  # the one definition of "the database is away"
from service.sql_files import load

log = logging.getLogger("steward.replicas")
SQL = load("service.db", "replicas.sql")

# Why a read ran on the primary (the reason label of steward_primary_reads).
NO_REPLICAS = "no_replicas"  # none configured
NO_USABLE_REPLICA = "no_usable_replica"  # every replica down, lagging, or not a standby
TOKEN_AHEAD = "token_ahead"  # no usable replica had replayed the request's consistency token
REPLICA_FAILED = "replica_failed"  # the replica chosen failed before or during the read: run again here


def display_name(url: str) -> str:
    """host:port/database of a URL: what /readyz and /metrics call a replica (never its credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


def failed(exc: BaseException) -> bool:
    """The server went away or did not answer in time (not a bug of ours, not a statement timeout)."""
    return isinstance(exc, TimeoutError) or database_down(exc)


class Probe:
    """A connection of the monitor's own to one server (never a pooled one: a busy pool must not look like a
    dead server), opened again after any failure."""

    def __init__(self, url: str, timeout_s: float):
        self.url, self.timeout_s = url, timeout_s
        self._conn: asyncpg.Connection | None = None

    async def fetchrow(self, statement: str) -> asyncpg.Record | None:
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._conn is None or self._conn.is_closed():
                    self._conn = await db.connect(self.url, timeout=self.timeout_s)
                return await self._conn.fetchrow(statement)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None


@dataclass
class Replica:
    name: str
    url: str
    probe: Probe
    pool: asyncpg.Pool | None = None
    # starting (not measured yet), up, lagging, down (unreachable), not_standby (not in recovery)
    state: str = "starting"
    usable: bool = False
    lag_ms: float | None = None
    replayed: int | None = None  # the WAL position it had replayed at the last check
    error: str | None = None
    reads: int = 0  # reads handed a connection of this replica

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "usable": self.usable,
                "lagMs": None if self.lag_ms is None else round(self.lag_ms, 1),
                "replayedLsn": None if self.replayed is None else format_lsn(self.replayed),
                "readsServed": self.reads, **({"error": self.error} if self.error else {})}


@dataclass
class ReplicaSet:
    """The primary's pool, the replicas, and the monitor that measures them."""

    settings: Settings
    primary: Callable[[], asyncpg.Pool]  # the app's pool of the primary, as it is now (tests wrap it)
    primary_url: str
    replicas: list[Replica] = field(default_factory=list)
    primary_up: bool = True  # as the monitor last saw it (always True with no replicas: nothing measures it)
    primary_reads: Counter[str] = field(default_factory=Counter)
    history: PrimaryHistory = field(default_factory=PrimaryHistory)

    def __post_init__(self) -> None:
        timeout = self.settings.db_connect_timeout_s
        self.replicas = [Replica(display_name(url), url, Probe(url, timeout)) for url in self.settings.replicas.urls]
        self._primary_probe = Probe(self.primary_url, timeout)
        self._geometry: WalGeometry | None = None
        self._turn = itertools.count()

    async def open(self) -> None:
        """One pool per replica, empty until used: a replica down at start-up must not stop the service."""
        for replica in self.replicas:
            replica.pool = await db.create_pool(self.settings, replica.url, min_size=0)

    async def close(self) -> None:
        self._primary_probe.close()
        for replica in self.replicas:
            replica.probe.close()
            if replica.pool is not None:
                try:
                    await asyncio.wait_for(replica.pool.close(), self.settings.request_timeout_s)
                except TimeoutError:
                    replica.pool.terminate()

    async def monitor(self) -> None:
        """Measure every replica each STEWARD_REPLICA_CHECK_MS, for ever (the lifespan's task)."""
        while True:
            try:
                await self.check()
            except Exception:  # a bug here must not stop the measuring: reads would stick to stale states
                log.exception("replica check failed")
            await asyncio.sleep(self.settings.replicas.check_interval_s)

    async def check(self) -> None:
        """One round: the primary's WAL position, then every replica's replay position, at once."""
        was_up = self.primary_up
        try:
            if self._geometry is None:
                row = await self._primary_probe.fetchrow(SQL["wal_geometry"])
                assert row is not None
                self._geometry = WalGeometry(row["block_size"], row["segment_size"])
            row = await self._primary_probe.fetchrow(SQL["primary_position"])
            assert row is not None
            self.history.add(self._geometry.record_end(row[0]))
            self.primary_up = True
        except Exception as exc:
            if not failed(exc) and not isinstance(exc, asyncpg.PostgresError):
                raise
            self.primary_up = False
            if was_up:
                log.warning("primary unreachable (%s): reads go to the replicas, writes fail with 503",
                            type(exc).__name__)
        if self.primary_up and not was_up:
            log.warning("primary reachable again")
        await asyncio.gather(*(self._check(replica) for replica in self.replicas))

    async def _check(self, replica: Replica) -> None:
        before = replica.state
        try:
            row = await replica.probe.fetchrow(SQL["standby_position"])
            assert row is not None
        except Exception as exc:
            if not failed(exc) and not isinstance(exc, asyncpg.PostgresError):
                raise
            replica.state, replica.usable, replica.lag_ms, replica.error = "down", False, None, type(exc).__name__
        else:
            replica.error = None
            replica.replayed = row["replayed"]
            if not row["in_recovery"] or replica.replayed is None:
                replica.state, replica.usable, replica.lag_ms = "not_standby", False, None
            elif not self.primary_up:
                replica.state, replica.usable, replica.lag_ms = "up", True, None  # lag cannot be measured now
            else:
                if replica.replayed < (self.history.latest or 0):
                    # a write landed between the two readings: ask again at once for a tighter bound
                    again = await replica.probe.fetchrow(SQL["standby_position"])
                    if again is not None and again["replayed"] is not None:
                        replica.replayed = again["replayed"]
                lag = self.history.lag_ms(replica.replayed)
                if lag is None and row["replay_age_ms"] is not None:
                    lag = float(row["replay_age_ms"])  # behind every reading kept: its own clock says how far
                replica.lag_ms = lag
                replica.usable = lag is not None and lag <= self.settings.replicas.max_lag_ms
                replica.state = "up" if replica.usable else "lagging"
        if replica.state != before:
            level = logging.INFO if replica.state == "up" else logging.WARNING
            log.log(level, "replica %s: %s -> %s (lag %s ms)", replica.name, before, replica.state,
                    None if replica.lag_ms is None else round(replica.lag_ms))

    def lost(self, replica: Replica, exc: BaseException) -> None:
        """A read saw `replica` fail: no more reads there until a check finds it answering again."""
        replica.state, replica.usable, replica.error = "down", False, type(exc).__name__
        log.warning("replica %s failed a read (%s): reads go elsewhere until it answers again", replica.name,
                    type(exc).__name__)

    def _pick(self, after: int | None) -> tuple[Replica | None, str]:
        if not self.replicas:
            return None, NO_REPLICAS
        usable = [r for r in self.replicas if r.usable and r.pool is not None]
        if not usable:
            return None, NO_USABLE_REPLICA
        if after is not None:  # one the monitor already saw past the token needs no check on the way
            usable = [r for r in usable if r.replayed is not None and r.replayed >= after] or usable
        return usable[next(self._turn) % len(usable)], ""

    async def _on_replica(self, replica: Replica, after: int | None, timeout: float
                          ) -> tuple[asyncpg.Connection | None, str]:
        """A connection of `replica` for a read after `after`, or None and why not."""
        assert replica.pool is not None
        conn = None
        try:
            conn = await replica.pool.acquire(timeout=timeout)
            if (after is None or (replica.replayed is not None and replica.replayed >= after)
                    or await conn.fetchval(SQL["replayed"], format_lsn(after))):
                return conn, ""
        except Exception as exc:
            if conn is not None:
                await replica.pool.release(conn)
            if not failed(exc):
                raise
            self.lost(replica, exc)
            return None, REPLICA_FAILED
        await replica.pool.release(conn)
        return None, TOKEN_AHEAD

    @asynccontextmanager
    async def connection(self, read: bool, after: int | None, timeout: float, replicas: bool = True
                         ) -> AsyncIterator[tuple[asyncpg.Connection, Replica | None]]:
        """A pooled connection for one request, and the replica it belongs to (None: the primary).

        Writes, and reads with `replicas` False (a read run again after its replica failed), take the primary.
        """
        reason = REPLICA_FAILED
        if after is not None:
            after = (self._geometry or WalGeometry()).record_end(after)
        if read and replicas:
            replica, reason = self._pick(after)
            if replica is not None:
                conn, reason = await self._on_replica(replica, after, timeout)
                if conn is not None:
                    assert replica.pool is not None
                    replica.reads += 1
                    try:
                        yield conn, replica
                    finally:
                        await replica.pool.release(conn)
                    return
        if read:
            self.primary_reads[reason] += 1
        async with self.primary().acquire(timeout=timeout) as conn:
            yield conn, None

    def read_pool(self) -> asyncpg.Pool:
        """A pool to read shared data from (registered documents): a usable replica's while the primary is
        unreachable, else the primary's."""
        if not self.primary_up:
            for replica in self.replicas:
                if replica.usable and replica.pool is not None:
                    return replica.pool
        return self.primary()


async def commit_position(conn: asyncpg.Connection) -> int:
    """Right after a commit on `conn`: a WAL position at or past the commit record (its consistency token)."""
    return await conn.fetchval(SQL["commit_position"])


@contextlib.asynccontextmanager
async def monitoring(replica_set: ReplicaSet) -> AsyncIterator[ReplicaSet]:
    """Open the replicas' pools and measure them in the background until the block ends (the app's lifespan)."""
    await replica_set.open()
    task = None
    if replica_set.replicas:
        await replica_set.check()  # the first reading before the first request
        task = asyncio.create_task(replica_set.monitor(), name="steward-replica-monitor")
    try:
        yield replica_set
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await replica_set.close()
