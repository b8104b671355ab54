"""/healthz and /readyz."""
from __future__ import annotations

from service.config import Settings
from service.db.pool import connect


async def test_healthz_answers_without_the_database(api):
    response = await api.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_is_ready_on_a_migrated_database(api):
    response = await api.client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready", response.json()


async def test_readyz_is_not_ready_while_migrations_are_pending(api, world_url):
    conn = await connect(world_url)
    try:
        checksum = await conn.fetchval("select checksum from steward_meta.views_state")
        await conn.execute("update steward_meta.views_state set checksum = 'stale'")
        response = await api.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["viewsStale"] is True
    finally:
        await conn.execute("update steward_meta.views_state set checksum = $1", checksum)
        await conn.close()
    assert (await api.client.get("/readyz")).status_code == 200


async def test_readyz_is_ready_while_every_pooled_connection_is_busy(apps):
    """A saturated pool says nothing about the database: the check runs on a connection of its own."""
    api = await apps(Settings(pool_min=1, pool_max=2, db_connect_timeout_s=1.0))
    pool = api.app.state.pool
    async with pool.acquire(), pool.acquire():
        busy = await api.client.get("/readyz")
    assert busy.status_code == 200, busy.json()
    assert busy.json() == {"status": "ready", "database": "reachable", "pool": "saturated"}
    idle = await api.client.get("/readyz")
    assert idle.json() == {"status": "ready", "database": "reachable", "pool": "ok"}
