"""A slow statement gets a clear TIMEOUT and gives its connection back; so does a slow request."""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from service.config import Settings
from service.db.pool import connect

from .conftest import codes

QUERY = "{ deployments { totalCount } }"


@asynccontextmanager
async def deployments_locked(db_url: str):
    """Hold an exclusive lock on the deployments table: any read of it waits (a stand-in for a slow query)."""
    locker = await connect(db_url)
    tx = locker.transaction()
    await tx.start()
    await locker.execute("lock table steward.deployments in access exclusive mode")
    try:
        yield
    finally:
        await tx.rollback()
        await locker.close()


async def waiting_backends(db_url: str) -> int:
    """Steward's sessions still waiting on a lock (a timed-out statement must not be one)."""
    conn = await connect(db_url)
    try:
        return await conn.fetchval("select count(*) from pg_stat_activity where application_name = 'steward'"
                                   " and wait_event_type = 'Lock' and datname = current_database()")
    finally:
        await conn.close()


async def assert_pool_recovered(api, token) -> None:
    pool = api.app.state.pool
    assert pool.get_idle_size() == pool.get_size(), "the timed-out request kept its connection"
    assert (await api.post(QUERY, token=token)).json() == {"data": {"deployments": {"totalCount": 3}}}


async def test_statement_timeout_is_a_timeout_error(apps, token, world_url):
    api = await apps(Settings(statement_timeout_ms=300, pool_min=1, pool_max=2, partition_interval_s=0))
    async with deployments_locked(world_url):
        started = time.monotonic()
        response = await api.post(QUERY, token=token)
        elapsed = time.monotonic() - started
        assert await waiting_backends(world_url) == 0
    body = response.json()
    assert codes(body) == ["TIMEOUT"], body
    assert body["errors"][0]["path"] == ["deployments"] and body["errors"][0]["extensions"]["requestId"]
    assert "statement timeout" in body["errors"][0]["message"]
    assert response.status_code == 200 and body["data"] is None  # a field error: the spec's 200
    assert 0.3 <= elapsed < 2
    await assert_pool_recovered(api, token)


async def test_request_timeout_cancels_the_request(apps, token, world_url):
    api = await apps(Settings(statement_timeout_ms=60_000, request_timeout_s=0.5, pool_min=1, pool_max=2,
                                partition_interval_s=0))
    async with deployments_locked(world_url):
        started = time.monotonic()
        response = await api.post(QUERY, token=token)
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.2)  # the cancel request reaches the server asynchronously
        assert await waiting_backends(world_url) == 0, "the cancelled statement is still running"
    assert response.status_code == 504
    assert codes(response.json()) == ["TIMEOUT"]
    assert 0.5 <= elapsed < 1.5
    await assert_pool_recovered(api, token)
