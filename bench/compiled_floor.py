"""The compiled-statement floor: each read operation's ONE compiled statement (schema/compiled), replayed
through bare asyncpg under the same scope as Steward's (role steward_app, app.org_id, statement timeout).

Steward's ratio to it is what HTTP, authentication, parsing and validation cost. The statements are
compiled once per operation instance, as `steward serve` would (same document, variables, organization);
a bi walk compiles each page with its `after` cursor, read from the previous page's own answer.
"""
from __future__ import annotations

import json

from graphql import parse

from bench.load import STATEMENT_TIMEOUT_MS, STEWARD, Floor, OpError, Org, to_global_id
from service.db.pool import connect, scope_transaction


class CompiledFloor(Floor):
    name = "compiled"

    async def capture(self) -> None:
        for org in self.world.orgs:
            self.captured[("dashboard", org.id)] = [await compiled(self.world.db_url, org, STEWARD["dashboard"])]
            self.captured[("summary", org.id)] = [await compiled(self.world.db_url, org, STEWARD["summary"])]
            pages, after = [], None
            while True:
                statements = await compiled(self.world.db_url, org, STEWARD["bi"], {"after": after})
                pages.append(statements)
                info = json.loads(await run_once(self.world.db_url, org, statements))["deployments"]["pageInfo"]
                if not info["hasNextPage"]:
                    break
                after = info["endCursor"]
            self.captured[("bi", org.id)] = pages
        for org, dep in self.world.detail:
            self.captured[("detail", dep)] = [await compiled(
                self.world.db_url, org, STEWARD["detail"], {"id": to_global_id("Deployment", dep)})]
        for (op, _), txs in self.captured.items():
            self.statement_counts.setdefault(op, []).append(sum(len(t) for t in txs))


async def compiled(db_url: str, org: Org, query: str, variables: dict | None = None) -> list[tuple[str, tuple]]:
    """The operation's one statement and its parameters, compiled for the organization's read token."""
    from schema import schema
    from schema.compiled import compile_query
    from service.auth import authenticate
    from service.config import Settings

    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, org.read_token)
    finally:
        await conn.close()
    document = parse(query)
    plan = compile_query(schema._schema, document, document.definitions[0], variables, principal, Settings())
    if plan is None:
        raise OpError("the compiler declined a bench document: it no longer covers every field")
    return [(plan.statement, plan.params)]


async def run_once(db_url: str, org: Org, statements: list[tuple[str, tuple]]) -> str:
    conn = await connect(db_url)
    try:
        async with conn.transaction(readonly=True):
            await scope_transaction(conn, org.id, STATEMENT_TIMEOUT_MS)
            statement, params = statements[0]
            return await conn.fetchval(statement, *params)
    finally:
        await conn.close()
