"""The API through HTTP (httpx ASGITransport against the real app and a real database)."""
from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from service.app import create_app
from service.auth import create_token
from service.config import Settings
from service.db.pool import connect

from . import differential


@dataclass
class Api:
    client: httpx.AsyncClient
    url: str
    app: object
    # STEWARD_TEST_DIFFERENTIAL=1: every query is also answered by an app with the compiler off (Strawberry
    # alone), and both answers must be equal (tests/api/differential.py)
    plain: httpx.AsyncClient | None = None

    async def post(self, query: str, variables: dict | None = None, token: str | None = None,
                   headers: dict | None = None) -> httpx.Response:
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        body = {"query": query} | ({"variables": variables} if variables is not None else {})
        if self.plain is not None and differential.is_query(query):
            expected = await self.plain.post("/graphql", json=body, headers=all_headers)
            compiler = self.app.state.compiler  # type: ignore[attr-defined]
            taken = compiler.taken
            response = await self.client.post("/graphql", json=body, headers=all_headers)
            differential.assert_same(query, variables, expected, response)
            differential.COMPARED["suite"] += 1
            differential.COMPARED["suite_compiled"] += compiler.taken - taken
            return response
        return await self.client.post("/graphql", json=body, headers=all_headers)

    async def gql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        """POST a query and return the JSON body (errors included)."""
        return (await self.post(query, variables, token)).json()

    async def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        """POST a query that must succeed and return its data."""
        body = await self.gql(query, variables, token)
        assert "errors" not in body, body.get("errors")
        return body["data"]


class CountingPool:
    """Wraps the app's asyncpg pool and counts acquisitions: no acquisition means no SQL ran."""

    def __init__(self, pool):
        self.pool = pool
        self.acquired = 0

    def acquire(self, *args, **kwargs):
        self.acquired += 1
        return self.pool.acquire(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.pool, name)


# The apps of the tests send thousands of requests from one token: no rate limit unless a test sets one
# (tests/hardening/test_rate_limit.py does).
TEST_SETTINGS = Settings(rate_limit=None)


async def start_api(db_url: str, settings: Settings | None = None):
    app = create_app(settings or TEST_SETTINGS, db_url)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://steward.test")
    return Api(client, db_url, app), lifespan


@pytest.fixture(scope="module")
async def api(module_db_url: str) -> Api:
    api, lifespan = await start_api(module_db_url)
    plain = await differential.plain_app(module_db_url) if differential.enabled() else None
    if plain is not None:
        api.plain = plain[0].client
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)
    if plain is not None:
        await plain[0].client.aclose()
        await plain[1].__aexit__(None, None, None)


async def make_token(db_url: str, org_slug: str, scopes: str = "read") -> str:
    conn = await connect(db_url)
    try:
        return (await create_token(conn, org_slug, scopes.split(","), "test"))[1]
    finally:
        await conn.close()


async def run_schema(db_url: str, token: str, query: str, variables: dict | None = None):
    """Execute through the schema on one scoped connection; return (result, SQL statements run)."""
    from schema import schema
    from schema.context import Context, Db
    from service.auth import authenticate
    from service.db.pool import scope_transaction

    settings = Settings()
    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, token)
        statements: list[str] = []
        async with conn.transaction(readonly=True):
            await scope_transaction(conn, principal.org_id, settings.statement_timeout_ms)
            conn.add_query_logger(lambda record: statements.append(record.query))
            # asyncpg's own one-off type introspection is not the resolvers' doing
            statements_of_resolvers = statements
            context = Context(db=Db(conn), principal=principal, settings=settings)
            result = await schema.execute(query, variable_values=variables, context_value=context)
        return result, [s for s in statements_of_resolvers if not _asyncpg_internal(s)]
    finally:
        await conn.close()


def _asyncpg_internal(statement: str) -> bool:
    """asyncpg's one-off type introspection (and the JIT toggle around it)."""
    return "typeinfo_tree" in statement or "current_setting('jit')" in statement


def pytest_terminal_summary(terminalreporter) -> None:
    if differential.enabled():
        c = differential.COMPARED
        terminalreporter.write_line(f"differential: {c['requests']} queries answered alike by both paths; of the "
                                    f"suite's own (Api.post), {c['suite']}, of which the compiler took "
                                    f"{c['suite_compiled']}")
