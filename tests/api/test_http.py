"""GraphQL over HTTP through the ASGI app."""
import pytest

from .conftest import make_token
from .world import build_world


@pytest.fixture(scope="module")
async def token(module_db_url):
    await build_world(module_db_url, deployments=3)
    return await make_token(module_db_url, "acme")


async def test_post_returns_data(api, token):
    response = await api.client.post("/graphql", json={"query": "{ deployments { totalCount } }"},
                                     headers={"authorization": f"Bearer {token}", "accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"deployments": {"totalCount": 3}}}
    assert response.headers["x-request-id"]


async def test_get_runs_queries(api, token):
    response = await api.client.get("/graphql", params={"query": "{ deployments { totalCount } }"},
                                    headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["data"]["deployments"]["totalCount"] == 3


async def test_get_refuses_mutations(api, token):
    response = await api.client.get("/graphql", params={"query": "mutation { __typename }"},
                                    headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_browsers_get_graphiql(api):
    response = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"authorization": "Bearer stw_not-a-real-token"}, 401),
    ({"authorization": "Basic dXNlcjpwYXNz"}, 401),
])
async def test_missing_or_bad_tokens_are_401_with_a_graphql_body(api, headers, status):
    response = await api.client.post("/graphql", json={"query": "{ organizations { slug } }"}, headers=headers)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_request_id_is_echoed(api, token):
    response = await api.client.post("/graphql", json={"query": "{ organizations { slug } }"},
                                     headers={"authorization": f"Bearer {token}", "x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("content, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"query": 42}', "application/json", 400),
    (b'{"query": "{ organizations { slug } }", "variables": [1]}', "application/json", 400),
    (b"query { organizations { slug } }", "text/plain", 415),
])
async def test_malformed_requests(api, token, content, content_type, status):
    response = await api.client.post("/graphql", content=content,
                                     headers={"authorization": f"Bearer {token}", "content-type": content_type})
    assert response.status_code == status
    assert response.json()["errors"][0]["message"]
