"""Compiled reads (schema/compiled): the same answers as Strawberry alone, in one statement, inside the org."""
from __future__ import annotations

import json

import pytest
from graphql import parse

from bench.load import STEWARD
from schema.relay import to_global_id
from service.auth import authenticate
from service.config import Settings
from service.db.pool import connect, scope_transaction
from service.http import compiled
from service.http.operation import Operation, selected_operation

from . import differential
from .conftest import make_token
from .world import build_world

FRAGMENTS = """
query Shapes($skip: Boolean!, $order: DeploymentOrder, $last: Int, $before: String) {
  ...Top
  again: deployments(first: 3, orderBy: $order) { edges { cursor node { __typename name } } }
  back: deployments(last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { node { key } }
  }
}
fragment Top on Query {
  deployments(first: 5, filter: {unowned: false, channel: EMAIL}) {
    __typename totalCount
    edges { node { ... on Deployment { id k: key } ...Owner @skip(if: $skip) } }
    pageInfo { __typename hasNextPage endCursor }
  }
}
fragment Owner on Node { ... on Deployment { owner { id name email title function fteOnAi active deactivatedAt
  workflowUpdates(first: 2) { totalCount edges { node { kind occurredAt } } } } } }
"""

DETAIL_MORE = """
query More($id: ID!, $after: String) {
  deployment(id: $id) {
    launchedAt channels vendor integrations
    health { status lastUpdateAt lastReviewAt reasons { __typename code message } }
    weeklyMetrics(from: "2026-01-05", to: "2026-03-02") { weekStart metrics { window { from to } reviews } }
    workflowUpdates(first: 3, after: $after, kind: CONFIG_CHANGE, window: {lastDays: 60}) {
      totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id summary author { id } } }
    }
    topicOpportunities(first: 2, window: {lastDays: 10}) {
      rank escalationCost score topic { id key name escalationCost }
    }
    ownershipHistory { id isCurrent assignedBy validTo person { name } }
  }
}"""

PEOPLE = """{ people(first: 3) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
  id name email title function fteOnAi active deactivatedAt ownedDeployments { key name health { status } }
  workflowUpdates(first: 2) { totalCount edges { node { summary } } } } } } }"""
UPDATES = """query Updates($kind: WorkflowUpdateKind, $last: Int) {
  workflowUpdates(last: $last, filter: {kind: $kind, window: {lastDays: 90}}) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id kind summary occurredAt author { name } } }
  }
}"""
REVIEWS = """{ deployments(first: 2) { edges { node { reviews(first: 2) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id reviewedAt notes decisions briefWeek reviewer { name } } } } } } } }"""


@pytest.fixture(scope="module")
async def world(module_db_url, api, plain):
    """The world, with the database's clock stopped once it is built: both apps answer at the same instant
    (a value "until now", ownershipGapDays, moves by 0.01 every 14.4 minutes, between two requests too)."""
    built = await build_world(module_db_url, deployments=30)
    conn = await connect(module_db_url)
    try:
        name = await conn.fetchval("select current_database()")
        await conn.execute(f"alter database \"{name}\" set steward.now = '{await conn.fetchval('select now()')}'")
    finally:
        await conn.close()
    for app in (api.app, plain.app):
        await app.state.pool.expire_connections()  # new sessions read the database's settings
    return built


@pytest.fixture(scope="module")
async def plain(module_db_url):
    api, lifespan = await differential.plain_app(module_db_url)
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


@pytest.fixture(scope="module")
async def token(module_db_url, world):
    return await make_token(module_db_url, "acme")


def cases(world: dict) -> list[tuple[str, dict]]:
    first = to_global_id("Deployment", world["deployments"][0])
    other = to_global_id("Deployment", world["globex_deployment"])
    return [
        (STEWARD["dashboard"], {}), (STEWARD["bi"], {"after": None}), (STEWARD["summary"], {}),
        (STEWARD["detail"], {"id": first}),
        (FRAGMENTS, {"skip": False, "order": {"field": "HEALTH", "direction": "DESC"}, "last": 4, "before": None}),
        (FRAGMENTS, {"skip": True, "order": {"field": "LAUNCHED_AT", "direction": "ASC"}, "last": 2,
                     "before": "WyJCb3QgNSIsIDEwXQ=="}),
        (DETAIL_MORE, {"id": first, "after": None}),
        (PEOPLE, {}), (UPDATES, {"kind": "CONFIG_CHANGE", "last": None}), (UPDATES, {"kind": None, "last": 3}),
        (REVIEWS, {}),
        # errors: the compiled path leaves them to Strawberry, which answers as always
        (STEWARD["detail"], {"id": other}),  # another organization's deployment: NOT_FOUND
        (STEWARD["detail"], {"id": "nope"}),  # BAD_USER_INPUT
        (STEWARD["bi"], {"after": "not a cursor"}),
        ("{ deployments(first: 101) { totalCount } }", {}),
        ("{ ownershipSummary(window: {lastDays: 0}) { deployments } }", {}),
        ("{ ownershipSummary(orgSlug: \"globex\") { deployments } }", {}),
        ("{ deployment(key: \"bot-001\") { name metrics(window: {from: \"2026-01-01\", to: \"2026-02-01\"}) { "
         "conversations daysSinceLastReview weeksReviewed ownershipGapDays } } }", {}),
        ("{ deployment(key: \"missing\") { name } }", {}),
    ]


async def test_compiled_answers_equal_strawberry_alone(api, plain, world, token, caplog):
    assert api.app.state.compiler is not None and plain.app.state.compiler is None
    for query, variables in cases(world):
        body = {"query": query, "variables": variables}
        headers = {"authorization": f"Bearer {token}"}
        expected = await plain.client.post("/graphql", json=body, headers=headers)
        got = await api.client.post("/graphql", json=body, headers=headers)
        differential.assert_same(query, variables, expected, got)
    assert not [r.message for r in caplog.records if r.name == "steward.compiled"]


async def test_bi_walk_pages_equal(api, plain, world, token):
    headers, after, pages = {"authorization": f"Bearer {token}"}, None, 0
    while True:
        body = {"query": STEWARD["bi"].replace("first: 100", "first: 7"), "variables": {"after": after}}
        expected = await plain.client.post("/graphql", json=body, headers=headers)
        got = await api.client.post("/graphql", json=body, headers=headers)
        differential.assert_same(body["query"], body["variables"], expected, got)
        info = got.json()["data"]["deployments"]["pageInfo"]
        pages += 1
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == 5  # 30 deployments, 7 a page


async def compiled_statements(db_url: str, token: str, app, query: str, variables: dict) -> tuple[bytes | None, list]:
    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, token)
        statements: list = []  # asyncpg's logged queries: .query, .args
        conn.add_query_logger(statements.append)
        document = parse(query)
        operation = Operation(query, variables, None, document, selected_operation(document, None))
        assert operation.selected is not None
        body = await compiled.answer(app.state, conn, operation, operation.selected, principal)
        return body, statements
    finally:
        await conn.close()


async def test_the_cases_without_errors_are_compiled(api, module_db_url, world, token):
    for query, variables in cases(world)[:11]:
        body, _ = await compiled_statements(module_db_url, token, api.app, query, variables)
        assert body is not None, query


async def test_a_compiled_request_runs_one_statement(api, module_db_url, world, token):
    first = to_global_id("Deployment", world["deployments"][0])
    for name, variables in (("dashboard", {}), ("detail", {"id": first}), ("bi", {}), ("summary", {})):
        body, statements = await compiled_statements(module_db_url, token, api.app, STEWARD[name], variables)
        assert body is not None and json.loads(body)["data"]
        reads = [s.query for s in statements if s.query.strip().upper() not in ("BEGIN READ ONLY;", "COMMIT;")
                 and "set_config" not in s.query and "typeinfo_tree" not in s.query]
        assert len(reads) == 1, statements


async def compiled_plan(db_url: str, token: str, app, query: str, variables: dict) -> str:
    """EXPLAIN of the operation's compiled statement, run as the service runs it (role, organization)."""
    body, statements = await compiled_statements(db_url, token, app, query, variables)
    assert body is not None
    read = next(s for s in statements if s.query.lstrip().startswith("select ("))
    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, token)
        await conn.execute("analyze steward.workflow_updates")  # as autovacuum would: estimates, not defaults
        async with conn.transaction(readonly=True):
            await scope_transaction(conn, principal.org_id, 10_000)
            # index scans wherever one is possible: the test is which conditions can use an index at all
            await conn.execute("set local enable_seqscan = off; set local enable_bitmapscan = off")
            return "\n".join(r[0] for r in await conn.fetch("explain " + read.query, *read.args))
    finally:
        await conn.close()


async def test_a_nested_list_reads_its_parent_rows_through_the_index(api, module_db_url, world, token):
    # A deployment's updates: with its id as $4 in `$4 is null or t.deployment_id = $4`, the planner kept
    # the is-null branch and read the whole organization's updates for each deployment.
    first = to_global_id("Deployment", world["deployments"][0])
    plan = await compiled_plan(module_db_url, token, api.app, STEWARD["detail"], {"id": first})
    lines = plan.splitlines()
    conditions = [lines[i + 1] for i, line in enumerate(lines) if "on workflow_updates" in line]
    assert conditions and all("Index Cond" in c and "deployment_id" in c for c in conditions), plan


async def test_compiled_reads_stay_inside_the_organization(api, module_db_url, world):
    globex = await make_token(module_db_url, "globex")
    data = (await api.post(STEWARD["dashboard"], {}, globex)).json()["data"]
    assert data["deployments"]["totalCount"] == 1
    assert [e["node"]["key"] for e in data["deployments"]["edges"]] == ["secret-bot"]
    acme_id = to_global_id("Deployment", world["deployments"][0])
    body, _ = await compiled_statements(module_db_url, globex, api.app, STEWARD["detail"], {"id": acme_id})
    assert body is None  # the row is not visible: the statement fails and Strawberry says NOT_FOUND
    answer = (await api.post(STEWARD["detail"], {"id": acme_id}, globex)).json()
    assert answer["data"] == {"deployment": None}
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_compile_can_be_switched_off():
    assert Settings.from_env({"STEWARD_COMPILE": "0"}).compile is False
    assert Settings.from_env({}).compile is True


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_compiled_get_keeps_the_headers_of_the_resolver_path(api, plain, world, token, accept):
    params = {"query": STEWARD["summary"]}
    headers = {"authorization": f"Bearer {token}", "accept": accept}
    got = await api.client.get("/graphql", params=params, headers=headers)
    expected = await plain.client.get("/graphql", params=params, headers=headers)
    differential.assert_same(STEWARD["summary"], None, expected, got)
    for name in ("content-type", "cache-control", "vary"):
        assert got.headers.get(name) == expected.headers.get(name), name
    assert got.headers["x-request-id"]
    assert got.content.startswith(b'{"data":')
