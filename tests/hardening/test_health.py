"""/healthz and /readyz."""
from __future__ import annotations

from service.db import connect


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
