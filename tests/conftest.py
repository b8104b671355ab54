"""One migrated template database per session; cheap clones for modules and tests.

With DATABASE_URL set the tests use that server (its database is only used to
create and drop throwaway databases); otherwise an embedded PostgreSQL under
.steward/test-pgdata.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from service.db.embedded import EmbeddedPostgres
from service.db.migrate import migrate
from service.db.pool import connect

from .factory import Factory

ROOT = Path(__file__).resolve().parent.parent


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    port = int(os.environ.get("STEWARD_TEST_PORT", "54339"))
    embedded = EmbeddedPostgres(ROOT / ".steward" / "test-pgdata", port,
                                options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    yield embedded.start()
    if embedded.started_here:
        embedded.stop()


async def _admin(server_url: str) -> asyncpg.Connection:
    return await connect(server_url)


async def create_clone(server_url: str, template: str) -> str:
    name = f"steward_t_{uuid.uuid4().hex[:12]}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'create database "{name}" template "{template}"')
    finally:
        await admin.close()
    return name


async def drop_database(server_url: str, name: str) -> None:
    admin = await _admin(server_url)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def template_db(server_url: str) -> str:
    name = f"steward_tpl_{uuid.uuid4().hex[:12]}"
    admin = await _admin(server_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    conn = await connect(with_database(server_url, name))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield name
    await drop_database(server_url, name)


@pytest.fixture(scope="module")
async def module_db_url(server_url: str, template_db: str) -> str:
    """A database of this test module's own, cloned from the template."""
    name = await create_clone(server_url, template_db)
    yield with_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def fresh_db_url(server_url: str, template_db: str) -> str:
    """A database of this test's own, for tests that commit (concurrency, migrations)."""
    name = await create_clone(server_url, template_db)
    yield with_database(server_url, name)
    await drop_database(server_url, name)


@pytest.fixture
async def conn(module_db_url: str) -> asyncpg.Connection:
    """A superuser connection inside a transaction that is rolled back after the test."""
    connection = await connect(module_db_url)
    tx = connection.transaction()
    await tx.start()
    yield connection
    await tx.rollback()
    await connection.close()


@pytest.fixture
def factory(conn: asyncpg.Connection) -> Factory:
    return Factory(conn)
