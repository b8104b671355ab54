"""GraphQL over HTTP by the spec: media types, status codes, malformed requests; never a 500."""
from __future__ import annotations

import json
import random
from urllib.parse import quote

import pytest

from service.config import Settings

from .conftest import codes

GRAPHQL_RESPONSE = "application/graphql-response+json"
QUERY = "{ deployments { totalCount } }"


def auth(token: str, **headers: str) -> dict:
    return {"authorization": f"Bearer {token}"} | headers


@pytest.mark.parametrize("accept, media_type", [
    (None, "application/json"),  # no Accept: application/json (graphql-http audit 80D8)
    (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    ("application/json", "application/json"),
    (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
    (f"{GRAPHQL_RESPONSE};q=0.5, application/json", "application/json"),
    ("application/json, */*;q=0.1", "application/json"),
    ("*/*", "application/json"),  # graphql-http audit 47DE
    ("application/*", "application/json"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
])
async def test_response_media_type_follows_accept(api, token, accept, media_type):
    headers = auth(token) | ({"accept": accept} if accept else {})
    response = await api.client.post("/graphql", json={"query": QUERY}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.json() == {"data": {"deployments": {"totalCount": 3}}}


async def test_unacceptable_accept_is_406_with_a_json_body(api, token):
    response = await api.client.post("/graphql", json={"query": QUERY}, headers=auth(token, accept="text/plain"))
    assert response.status_code == 406
    assert codes(response.json()) == ["NOT_ACCEPTABLE"]


@pytest.mark.parametrize("query, code", [
    ("{ deployments { totalCount }", "GRAPHQL_PARSE_FAILED"),
    ("{ deployments { nope } }", "GRAPHQL_VALIDATION_FAILED"),
    ("query A { __typename } query B { __typename }", None),  # operation cannot be determined
])
@pytest.mark.parametrize("accept, status", [(GRAPHQL_RESPONSE, 400), ("application/json", 200)])
async def test_request_errors_are_400_or_200_by_media_type(api, token, query, code, accept, status):
    response = await api.client.post("/graphql", json={"query": query}, headers=auth(token, accept=accept))
    body = response.json()
    assert response.status_code == status
    assert body["errors"] and "data" not in body
    if code:
        assert codes(body) == [code]


async def test_unknown_operation_name_is_a_request_error(api, token):
    response = await api.client.post("/graphql", json={"query": "query A { __typename }", "operationName": "B"},
                                     headers=auth(token, accept=GRAPHQL_RESPONSE))
    assert response.status_code == 400 and "data" not in response.json()
    assert codes(response.json()) == ["OPERATION_RESOLUTION_FAILURE"]


async def test_variables_that_do_not_coerce_are_a_request_error(api, token):
    response = await api.client.post("/graphql", json={
        "query": "query($n: Int!) { deployments(first: $n) { totalCount } }", "variables": {"n": "ten"}},
        headers=auth(token, accept=GRAPHQL_RESPONSE))
    body = response.json()
    assert response.status_code == 400 and "data" not in body
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_operation_name_selects_the_operation(api, token):
    response = await api.client.post("/graphql", json={"query": "query A { __typename } query B { organizations "
                                                                 "{ slug } }", "operationName": "B"},
                                     headers=auth(token))
    assert response.json() == {"data": {"organizations": [{"slug": "acme"}]}}


async def test_field_errors_keep_data_and_200(api, token):
    response = await api.client.post("/graphql", json={"query": '{ deployment(key: "nope") { name } }'},
                                     headers=auth(token, accept=GRAPHQL_RESPONSE))
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {"deployment": None} and codes(body) == ["NOT_FOUND"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_405(api, token, method):
    response = await api.client.request(method, "/graphql", json={"query": QUERY}, headers=auth(token))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert codes(response.json()) == ["METHOD_NOT_ALLOWED"]


@pytest.mark.parametrize("query, operation_name", [
    ("mutation { __typename }", None),
    ("query Q { __typename } mutation M { __typename }", "M"),
])
async def test_mutations_are_refused_over_get(api, token, query, operation_name):
    params = {"query": query} | ({"operationName": operation_name} if operation_name else {})
    before = api.app.state.pool.acquired
    response = await api.client.get("/graphql", params=params, headers=auth(token))
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert codes(response.json()) == ["METHOD_NOT_ALLOWED"]
    assert api.app.state.pool.acquired == before


async def test_get_queries_run_with_variables(api, token):
    params = {"query": "query($n: Int) { deployments(first: $n) { edges { node { key } } } }",
              "variables": json.dumps({"n": 1})}
    response = await api.client.get("/graphql", params=params, headers=auth(token))
    assert response.status_code == 200
    assert len(response.json()["data"]["deployments"]["edges"]) == 1
    # per-organization data: private to the browser, never kept by a shared cache
    assert response.headers["cache-control"] == "private, no-cache"
    assert {"accept", "authorization"} <= {v.strip().lower() for v in response.headers["vary"].split(",")}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/graphql"])
async def test_unsupported_media_types_are_415(api, token, content_type):
    headers = auth(token) | ({"content-type": content_type} if content_type else {})
    response = await api.client.post("/graphql", content=QUERY.encode(), headers=headers)
    assert response.status_code == 415
    assert codes(response.json()) == ["UNSUPPORTED_MEDIA_TYPE"]


async def test_charset_parameter_is_accepted(api, token):
    response = await api.client.post("/graphql", content=json.dumps({"query": QUERY}).encode(),
                                     headers=auth(token, **{"content-type": "application/json; charset=utf-8"}))
    assert response.status_code == 200


async def test_oversized_bodies_are_413(apps, token):
    api = await apps(Settings(max_body_bytes=10_000))
    limit = api.app.state.settings.max_body_bytes
    big = json.dumps({"query": QUERY, "variables": {"pad": "x" * limit}})
    response = await api.client.post("/graphql", content=big.encode(),
                                     headers=auth(token, **{"content-type": "application/json"}))
    assert response.status_code == 413
    assert codes(response.json()) == ["PAYLOAD_TOO_LARGE"]

    async def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    response = await api.client.post("/graphql", content=chunks(),
                                     headers=auth(token, **{"content-type": "application/json"}))
    assert response.status_code == 413
    response = await api.client.get("/graphql", params={"query": "{" + " " * (limit // 3) + "__typename }",
                                                        "variables": json.dumps({"pad": "x" * limit})},
                                    headers=auth(token))
    assert response.status_code == 413


@pytest.mark.parametrize("body", [
    b"", b"NONSENSE", b'{"query":', b"[1, 2]", b"null", b'"{ __typename }"', b"\xff\xfe\x00",
    b'{"qeury": "{ __typename }"}', b'{"query": 42}', b'{"query": ""}', b'{"query": null}',
    b'{"query": "{ __typename }", "variables": [7]}', b'{"query": "{ __typename }", "variables": "{}"}',
    b'{"query": "{ __typename }", "operationName": 3}', b'{"query": "{ __typename }", "extensions": []}',
])
async def test_malformed_post_bodies_are_400(api, token, body):
    response = await api.client.post("/graphql", content=body,
                                     headers=auth(token, **{"content-type": "application/json"}))
    assert response.status_code == 400, response.text
    assert codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize("params", [
    {}, {"query": ""}, {"query": "{ __typename }", "variables": "{not json"},
    {"query": "{ __typename }", "variables": "[1]"}, {"query": "{ __typename }", "extensions": "1"},
])
async def test_malformed_get_parameters_are_400(api, token, params):
    response = await api.client.get("/graphql", params=params, headers=auth(token, accept="application/json"))
    assert response.status_code == 400
    assert response.json()["errors"]


async def test_random_byte_bodies_never_500(api, token):
    rng = random.Random(6)
    statuses = set()
    for size in [0, 1, 2, 7, 64, 512, 4096, 65536] * 8:
        for content_type in ("application/json", "application/octet-stream"):
            body = rng.randbytes(size)
            response = await api.client.post("/graphql", content=body,
                                             headers=auth(token, **{"content-type": content_type}))
            statuses.add(response.status_code)
            assert response.status_code < 500, (body[:50], response.text)
            assert response.json()["errors"]
    assert statuses <= {400, 415}


@pytest.mark.parametrize("depth", [10, 500, 5000, 40_000])
async def test_deeply_nested_json_variables_never_500(apps, token, depth):
    roomy = await apps(Settings(max_body_bytes=1_000_000))
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        nested = opening * depth + "1" + closing * depth
        body = '{"query": "query($f: DeploymentFilter) { deployments(filter: $f) { totalCount } }",' \
               f' "variables": {{"f": {nested}}}}}'
        response = await roomy.client.post("/graphql", content=body.encode(),
                                           headers=auth(token, **{"content-type": "application/json"}))
        assert response.status_code in (200, 400), response.text
        assert response.json()["errors"]
        assert codes(response.json()) in (["BAD_USER_INPUT"], ["BAD_REQUEST"])
        if len(quote(nested)) < 60_000:  # httpx refuses longer URLs
            response = await roomy.client.get("/graphql", params={"query": "{ __typename }", "variables": nested},
                                              headers=auth(token))
            assert response.status_code in (200, 400, 413), response.text


async def test_missing_token_is_401_before_anything_else_runs(api):
    before = api.app.state.pool.acquired
    response = await api.client.post("/graphql", json={"query": QUERY})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert api.app.state.pool.acquired == before


async def test_cors_allows_only_the_configured_origins(apps, api):
    dashboards = await apps(Settings(cors_origins=("https://dash.example.com",)))
    preflight = {"access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"}
    allowed = await dashboards.client.options("/graphql", headers={"origin": "https://dash.example.com"} | preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = await dashboards.client.options("/graphql", headers={"origin": "https://evil.example"} | preflight)
    assert "access-control-allow-origin" not in refused.headers
    assert refused.status_code == 400 and "origin" in refused.text.lower()
    closed = await api.client.options("/graphql", headers={"origin": "https://dash.example.com"} | preflight)
    assert "access-control-allow-origin" not in closed.headers
    assert closed.status_code == 204 and closed.headers["allow"] == "GET, POST, OPTIONS"
