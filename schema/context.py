"""The per-request context: one connection, its loaders, the caller."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from starlette.requests import Request

from service.auth import Principal
from service.config import Settings


class Db:
    """The request's one connection; queries from concurrent resolvers take turns on it."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn
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


@dataclass
class Context:
    db: Db
    principal: Principal
    settings: Settings
    request: Request | None = None
    loaders: Any = None
    request_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.loaders is None:
            from schema.loaders import Loaders

            self.loaders = Loaders(self.db)
