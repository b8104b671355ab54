import pytest

from schema.relay import to_global_id

from .conftest import make_token
from .world import build_world


@pytest.fixture(scope="module")
async def world(module_db_url):
    return await build_world(module_db_url, deployments=12)


async def test_dashboard_query(api, world):
    token = await make_token(api.url, "acme")
    body = await api.gql("""
      { deployments(first: 5) { totalCount edges { node { key owner { name } health { status reasons { code } }
          metrics(window: {lastDays: 30}) { conversations addressableResolutionRate } } } } }
    """, token=token)
    assert "errors" not in body, body
    assert body["data"]["deployments"]["totalCount"] == 12
    first = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Deployment { key metrics { conversations addressable aiResolved reopened escalated } } } }",
        {"id": to_global_id("Deployment", world["deployments"][0])}, token)
    assert first["node"]["metrics"] == {"conversations": 7, "addressable": 5, "aiResolved": 3, "reopened": 1,
                                        "escalated": 1}
