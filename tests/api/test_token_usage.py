"""api_tokens.last_used_at: requests never write it; the background flush does, at most once a minute per token."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from service.auth import Principal, create_token
from service.config import Settings
from service.db.pool import SERVER_SETTINGS, connect, scope_transaction
from service.http.token_usage import TokenUsage

from .automation import seed, sql

QUERY = "{ organizations { slug } }"
TIMEOUTS = (Settings().db_connect_timeout_s, Settings().statement_timeout_ms)


@pytest.fixture(scope="module")
async def orgs(module_db_url):
    return [await seed(module_db_url, persons=1, deployments=1, slug=slug) for slug in ("usage-a", "usage-b")]


async def new_token(db_url: str, slug: str) -> tuple[int, str]:
    conn = await connect(db_url)
    try:
        return await create_token(conn, slug, ["read"], "usage")
    finally:
        await conn.close()


async def last_used(db_url: str, token_id: int) -> datetime | None:
    return (await sql(db_url, "select last_used_at from steward.api_tokens where id = $1", token_id))[0][0]


@pytest.fixture
async def pool(module_db_url):
    pool = await asyncpg.create_pool(module_db_url, min_size=1, max_size=2, server_settings=SERVER_SETTINGS)
    yield pool
    await pool.close()


async def test_a_request_writes_nothing_and_the_flush_records_its_use(api, orgs, pool):
    token_id, token = await new_token(api.url, "usage-a")
    usage: TokenUsage = api.app.state.token_usage

    response = await api.post(QUERY, token=token)
    recorded_by_the_request = await last_used(api.url, token_id)
    flushed = await usage.flush(pool, *TIMEOUTS)

    assert response.status_code == 200
    assert recorded_by_the_request is None
    assert flushed >= 1
    assert datetime.now(timezone.utc) - await last_used(api.url, token_id) < timedelta(seconds=30)


async def test_a_token_is_written_at_most_once_a_minute(api, orgs, pool):
    token_id, _ = await new_token(api.url, "usage-a")
    principal = Principal(token_id, orgs[0].id, "usage-a", frozenset({"read"}))
    recent = datetime.now(timezone.utc) - timedelta(seconds=30)
    await sql(api.url, "update steward.api_tokens set last_used_at = $2 where id = $1", token_id, recent)
    usage = TokenUsage()

    usage.seen(principal)
    await usage.flush(pool, *TIMEOUTS)
    within_the_minute = await last_used(api.url, token_id)
    await sql(api.url, "update steward.api_tokens set last_used_at = last_used_at - interval '1 minute'"
                       " where id = $1", token_id)
    usage.seen(principal)
    await usage.flush(pool, *TIMEOUTS)
    after_the_minute = await last_used(api.url, token_id)

    assert within_the_minute == recent
    assert after_the_minute > recent
    assert await usage.flush(pool, *TIMEOUTS) == 0  # nothing seen since: no statement at all


async def test_a_failed_flush_keeps_the_uses_for_the_next_one(api, orgs, module_db_url):
    token_id, _ = await new_token(api.url, "usage-b")
    usage = TokenUsage()
    usage.seen(Principal(token_id, orgs[1].id, "usage-b", frozenset({"read"})))
    closed = await asyncpg.create_pool(module_db_url, min_size=0, max_size=1)
    await closed.close()

    with pytest.raises(asyncpg.InterfaceError):
        await usage.flush(closed, *TIMEOUTS)
    retried = await asyncpg.create_pool(module_db_url, min_size=0, max_size=1, server_settings=SERVER_SETTINGS)
    try:
        assert await usage.flush(retried, *TIMEOUTS) == 1
    finally:
        await retried.close()

    assert await last_used(api.url, token_id) is not None


async def test_the_service_role_may_record_use_and_change_nothing_else(api, orgs):
    mine, _ = await new_token(api.url, "usage-a")
    theirs, _ = await new_token(api.url, "usage-b")
    conn = await connect(api.url)
    try:
        async with conn.transaction():
            await scope_transaction(conn, orgs[0].id, 5000)
            touched_mine = await conn.execute("update steward.api_tokens set last_used_at = now() where id = $1", mine)
            touched_theirs = await conn.execute(
                "update steward.api_tokens set last_used_at = now() where id = $1", theirs)
        for column, value in (("scopes", ["admin"]), ("revoked_at", None), ("name", "renamed")):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await scope_transaction(conn, orgs[0].id, 5000)
                    await conn.execute(f"update steward.api_tokens set {column} = $2 where id = $1", mine, value)
    finally:
        await conn.close()

    assert touched_mine == "UPDATE 1"
    assert touched_theirs == "UPDATE 0"  # row-level security: another organization's token is invisible
    assert await last_used(api.url, theirs) is None
