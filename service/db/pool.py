"""Connection pool and the per-request transaction that scopes SQL to one organization."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from service.config import Settings
from service.sql_files import load

# Every session speaks UTC; JIT compilation costs more than it saves on these short queries.
SERVER_SETTINGS = {"timezone": "UTC", "jit": "off", "application_name": "steward"}

# The role the service acts as inside a request: no table ownership, so
# row-level security always applies.
APP_ROLE = "steward_app"
SQL = load("service.db", "pool.sql")


async def connect(url: str, **kwargs) -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings=SERVER_SETTINGS, **kwargs)


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection of its own (as `connect` makes it), closed on exit: what a command works on."""
    conn = await connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def create_pool(settings: Settings, url: str, min_size: int | None = None) -> asyncpg.Pool:
    """A pool of `url` sized by the settings; `min_size` 0 opens no connection until one is needed."""
    return await asyncpg.create_pool(
        url,
        min_size=settings.pool_min if min_size is None else min_size,
        max_size=settings.pool_max,
        timeout=settings.db_connect_timeout_s,
        command_timeout=settings.request_timeout_s,
        server_settings=SERVER_SETTINGS,
    )


async def scope_transaction(conn: asyncpg.Connection, org_id: int | None, statement_timeout_ms: int) -> None:
    """Inside an open transaction: become the app role and pin the organization."""
    await conn.execute(SQL["scope_transaction"], APP_ROLE, "" if org_id is None else str(org_id),
                       str(statement_timeout_ms))


@asynccontextmanager
async def org_transaction(
    pool: asyncpg.Pool, org_id: int | None, statement_timeout_ms: int = 5000
) -> AsyncIterator[asyncpg.Connection]:
    """One connection, one transaction, row-level security bound to `org_id`."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            await scope_transaction(conn, org_id, statement_timeout_ms)
            yield conn
