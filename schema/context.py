"""The per-request context: one connection, its loaders, the caller; and what a subscription needs from the runtime."""
from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import asyncpg
from starlette.requests import Request

from schema.loaders import Loaders
from service.auth import Principal
from service.config import Settings


class Db:
    """The request's one connection; queries from concurrent resolvers take turns on it."""

    def __init__(self, conn: asyncpg.Connection | None):
        self.conn: Any = conn
        self.statements = 0
        self._lock = asyncio.Lock()

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._lock:
            self.statements += 1
            return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._lock:
            self.statements += 1
            return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._lock:
            self.statements += 1
            return await self.conn.fetchval(sql, *args)

    async def close(self) -> None:
        """Before COMMIT: wait for the statement in flight, then refuse any later one.

        When a field fails, graphql-core cancels its siblings but not aiodataloader's batch
        tasks, which run on their own; one still running or starting during COMMIT would hit
        "another operation is in progress", or run on a connection already back in the pool.
        """
        async with self._lock:
            self.conn = _RequestOver()


class _RequestOver:
    """Stands in for the connection once the request's transaction ends."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the request is over: no statement may run on its connection")


class Notice(Protocol):
    id: int


class Subscriber(Protocol):
    async def next(self) -> Notice: ...


class Live(Protocol):
    """What a subscription needs from the runtime: its org's announcements, and a transaction to read them."""
    def subscribe(self, org_id: int, kinds: frozenset[str]) -> AbstractAsyncContextManager[Subscriber]: ...
    def org_transaction(self, org_id: int) -> AbstractAsyncContextManager[asyncpg.Connection]: ...


@dataclass
class Context:
    """What every resolver gets as `info.context`."""

    db: Db
    principal: Principal
    settings: Settings
    request: Request | None = None
    request_id: str = ""
    live: Live | None = None  # subscriptions only (service/http/websocket.py)
    loaders: Loaders = field(init=False)
    # today's date as the database sees it, read once per request (schema/windows.py)
    today: asyncio.Future[date] | None = field(default=None, init=False)
    # set by the first mutation of the request (schema/writes.py): its lock timeout, and steward.now pinned
    lock_timeout_set: bool = field(default=False, init=False)
    clock_pinned: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db, self.principal.org_id)

    def read_afresh(self, db: Db | None = None) -> None:
        """Forget what this request has read (after a write, or for a subscription's next event on `db`)."""
        if db is not None:
            self.db = db
        self.loaders = Loaders(self.db, self.principal.org_id)
        self.today = None
