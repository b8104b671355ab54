"""Read API behaviour over a hand-built world: dashboards, pagination, N+1 guard, bad input."""
import pytest

from schema.relay import to_global_id

from .conftest import make_token, run_schema
from .world import build_world

DASHBOARD = """
query Dashboard($first: Int!) {
  deployments(first: $first) {
    totalCount
    edges { node {
      key name
      owner { name function fteOnAi }
      health { status reasons { code message } }
      metrics(window: {lastDays: 30}) { conversations addressableResolutionRate workflowUpdates peakWeekUpdates }
      weeklyMetrics { weekStart metrics { addressableResolutionRate } }
    } }
  }
}
"""


@pytest.fixture(scope="module")
async def world(module_db_url):
    return await build_world(module_db_url, deployments=120)


@pytest.fixture(scope="module")
async def token(module_db_url, world):
    return await make_token(module_db_url, "acme")


async def test_dashboard_statement_count_does_not_grow_with_page_size(module_db_url, token):
    small, small_statements = await run_schema(module_db_url, token, DASHBOARD, {"first": 10})
    large, large_statements = await run_schema(module_db_url, token, DASHBOARD, {"first": 100})

    assert small.errors is None and large.errors is None
    assert len(large.data["deployments"]["edges"]) == 100
    assert len(large_statements) == len(small_statements)
    # page, count, today, owners, persons, health, metrics, weekly: one each
    assert len(large_statements) <= 8, "\n".join(large_statements)


async def test_dashboard_reads_owner_health_and_metrics(api, world, token):
    data = await api.data(DASHBOARD, {"first": 100}, token)

    nodes = [e["node"] for e in data["deployments"]["edges"]]
    assert data["deployments"]["totalCount"] == 120
    unowned = [n for n in nodes if n["owner"] is None]
    assert unowned and all(n["health"]["status"] == "UNOWNED" for n in unowned)
    assert all(len(n["weeklyMetrics"]) == 26 for n in nodes)
    assert all(n["metrics"]["workflowUpdates"] == 7 for n in nodes)  # one every 3 days, days 3..21


@pytest.mark.parametrize("order", [
    {"field": "NAME", "direction": "ASC"}, {"field": "NAME", "direction": "DESC"},
    {"field": "HEALTH", "direction": "ASC"}, {"field": "LAUNCHED_AT", "direction": "DESC"},
    {"field": "KEY", "direction": "ASC"},
])
async def test_pagination_visits_every_node_once_both_ways(api, token, order):
    query = """
      query($first: Int, $after: String, $last: Int, $before: String, $order: DeploymentOrder) {
        deployments(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
          edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        }
      }"""
    forward, after = [], None
    while True:
        page = (await api.data(query, {"first": 17, "after": after, "order": order}, token))["deployments"]
        forward += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backward, before = [], None
    while True:
        page = (await api.data(query, {"last": 23, "before": before, "order": order}, token))["deployments"]
        backward = [e["node"]["id"] for e in page["edges"]] + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]

    assert len(forward) == len(set(forward)) == 120
    assert backward == forward


async def test_people_and_workflow_updates_connections_page_fully(api, token):
    query = """query($after: String) { workflowUpdates(first: 100, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after, total = [], None, None
    while True:
        page = (await api.data(query, {"after": after}, token))["workflowUpdates"]
        total = page["totalCount"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == total == 120 * 7


async def test_nested_updates_are_batched_and_paged(module_db_url, token, world):
    query = """{ deployments(first: 50) { edges { node { workflowUpdates(first: 3) {
        totalCount edges { node { kind occurredAt author { name } } } pageInfo { hasNextPage } } } } } }"""
    result, statements = await run_schema(module_db_url, token, query)

    assert result.errors is None
    pages = [e["node"]["workflowUpdates"] for e in result.data["deployments"]["edges"]]
    assert all(p["totalCount"] == 7 and len(p["edges"]) == 3 and p["pageInfo"]["hasNextPage"] for p in pages)
    assert len(statements) <= 5, statements


async def test_deployment_by_key_and_by_id(api, world, token):
    by_key = await api.data('{ deployment(orgSlug: "acme", key: "bot-000") { id key } }', token=token)
    gid = to_global_id("Deployment", world["deployments"][0])
    assert by_key["deployment"] == {"id": gid, "key": "bot-000"}
    by_id = await api.data("query($id: ID!) { deployment(id: $id) { key } }", {"id": gid}, token)
    assert by_id["deployment"]["key"] == "bot-000"


@pytest.mark.parametrize("query, variables, code", [
    ("query($id: ID!) { node(id: $id) { id } }", {"id": to_global_id("Deployment", 999999)}, "NOT_FOUND"),
    ("query($id: ID!) { node(id: $id) { id } }", {"id": "not-a-global-id!"}, "BAD_USER_INPUT"),
    ("query($id: ID!) { deployment(id: $id) { id } }", {"id": to_global_id("Person", 1)}, "NOT_FOUND"),
    ('{ deployment(orgSlug: "acme", key: "nope") { id } }', None, "NOT_FOUND"),
    ('{ organization(slug: "globex") { id } }', None, "NOT_FOUND"),
    ("{ deployments(first: 1000) { totalCount } }", None, "BAD_USER_INPUT"),
    ("{ deployments(first: -1) { totalCount } }", None, "BAD_USER_INPUT"),
    ("{ deployments(first: 1, last: 1) { totalCount } }", None, "BAD_USER_INPUT"),
    ('{ deployments(after: "garbage") { totalCount } }', None, "BAD_USER_INPUT"),
    ('{ deployments(first: 1) { edges { node { metrics(window: {from: "2026-02-01", to: "2026-01-01"}) '
     '{ conversations } } } } }', None, "BAD_USER_INPUT"),
    ("{ deployments(first: 1) { edges { node { metrics(window: {lastDays: 0}) { conversations } } } } }",
     None, "BAD_USER_INPUT"),
    ("{ deployments(filter: {status: SLEEPING}) { totalCount } }", None, "GRAPHQL_VALIDATION_FAILED"),
    # a Date/DateTime literal that does not parse is bad input naming its argument (tests/api/test_instants.py)
    ('{ deployments(first: 1) { edges { node { metrics(window: {from: "yesterday", to: "2026-01-01"}) '
     '{ conversations } } } } }', None, "BAD_USER_INPUT"),
])
async def test_bad_input_gets_a_stable_code_and_no_stack(api, world, token, query, variables, code):
    response = await api.post(query, variables, token)
    body = response.json()

    assert response.status_code in (200, 400)
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert "Traceback" not in response.text and "File \"" not in response.text


async def test_other_orgs_ids_are_not_found(api, world, token):
    gid = to_global_id("Deployment", world["globex_deployment"])
    body = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": gid}, token)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["message"] == "Deployment not found"


async def test_a_missing_object_nulls_its_own_field_and_the_rest_of_the_answer_stands(api, world, token):
    response = await api.post('{ deployment(key: "nope") { id } organizations { slug } }', token=token)
    body = response.json()

    assert response.status_code == 200
    assert body["data"] == {"deployment": None, "organizations": [{"slug": "acme"}]}
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [("NOT_FOUND", ["deployment"])]


async def test_each_missing_root_object_is_null_with_its_own_error(api, world, token):
    found = to_global_id("Deployment", world["deployments"][0])
    body = await api.gql("""query($found: ID!, $missing: ID!, $theirs: ID!) {
        found: node(id: $found) { id }
        missing: node(id: $missing) { id }
        theirs: deployment(id: $theirs) { key }
        other: organization(slug: "globex") { id }
        acme: organization(slug: "acme") { slug }
        deployments(first: 1) { totalCount }
    }""", {"found": found, "missing": to_global_id("Review", 999999),
           "theirs": to_global_id("Deployment", world["globex_deployment"])}, token)

    assert body["data"] == {"found": {"id": found}, "missing": None, "theirs": None, "other": None,
                            "acme": {"slug": "acme"}, "deployments": {"totalCount": 120}}
    assert sorted((e["path"][0], e["extensions"]["code"]) for e in body["errors"]) == [
        ("missing", "NOT_FOUND"), ("other", "NOT_FOUND"), ("theirs", "NOT_FOUND")]


async def test_topic_opportunities_rank_uncovered_topics(api, world, token):
    gid = to_global_id("Deployment", world["deployments"][0])
    data = await api.data("""query($id: ID!) { deployment(id: $id) {
        topicOpportunities(first: 5) { rank uncovered uncoveredEscalated score topic { key } } } }""",
                          {"id": gid}, token)
    assert data["deployment"]["topicOpportunities"] == [
        {"rank": 1, "uncovered": 2, "uncoveredEscalated": 2, "score": 10.0, "topic": {"key": "topic-1"}}
    ]


async def test_ownership_summary_counts_health(api, world, token):
    data = await api.data("""{ ownershipSummary(window: {lastDays: 90}) {
        deployments unowned ownedShare byOwnership { bucket deploymentWeeks } } }""", token=token)
    summary = data["ownershipSummary"]
    assert summary["deployments"] == 120 and summary["unowned"] == 12
    assert summary["ownedShare"] == pytest.approx(108 / 120)


async def test_ids_and_cursors_are_standard_padded_base64(module_db_url, token):
    import base64

    result, _ = await run_schema(module_db_url, token,
                                 "{ deployments(first: 3) { edges { cursor node { id key } } } }")
    edges = result.data["deployments"]["edges"]
    for edge in edges:
        # the strict standard decoder: right alphabet, right padding
        assert base64.b64decode(edge["node"]["id"], validate=True).decode().startswith("Deployment:")
        assert base64.b64decode(edge["cursor"], validate=True).decode().startswith("[")

    # the URL-safe unpadded form IDs had before is still read
    first = edges[0]["node"]
    legacy = base64.urlsafe_b64encode(base64.b64decode(first["id"])).decode().rstrip("=")
    again, _ = await run_schema(module_db_url, token, "query($id: ID!) { node(id: $id) { id } }", {"id": legacy})
    assert again.errors is None and again.data["node"]["id"] == first["id"]
