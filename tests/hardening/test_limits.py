"""Each abuse limit at its default: just under runs, just over is refused with one coded error and no SQL."""
from __future__ import annotations

import pytest
from graphql import get_introspection_query

from service.config import Settings
from service.http.limits import count_tokens

from .conftest import codes

DEFAULTS = Settings()


def deep(levels: int) -> str:
    """A query `levels` deep (wrappers not counted) through deployment ⇄ currentOwnership, inside a connection."""
    inner = "name"
    for level in range(levels - 1, 1, -1):
        inner = f"{'currentOwnership' if level % 2 == 0 else 'deployment'} {{ {inner} }}"
    return f"{{ deployments(first: 2) {{ edges {{ node {{ {inner} }} }} }} }}"


def aliases(n: int) -> str:
    return "{ " + " ".join(f"a{i}: organizations {{ slug }}" for i in range(n)) + " }"


def directives(n: int) -> str:
    return "{ organizations { " + "slug @include(if: true) " * n + "} }"


def tokens(n: int) -> str:
    """Exactly `n` tokens; inline fragments, because ~1000 identical sibling fields are slow to validate."""
    query = "{ organizations { " + "... on Organization { slug } " * ((n - 5) // 6) + "} }"
    query = query[:-4] + " slug" * (n - count_tokens(query, 10 * n)) + " } }"
    assert count_tokens(query, 10 * n) == n
    return query


def cost(n: int) -> str:
    """Cost exactly `n` (≥ 4902): 2 + 100 (nodes) + 100 × 48 (their fields), plus top-level fields."""
    node_fields = "__typename " * 48
    return f"{{ deployments(first: 100) {{ edges {{ node {{ {node_fields}}} }} }} {'__typename ' * (n - 4902)}}}"


CASES = [
    pytest.param(deep, DEFAULTS.max_depth, "QUERY_TOO_DEEP", id="depth"),
    pytest.param(aliases, DEFAULTS.max_aliases, "TOO_MANY_ALIASES", id="aliases"),
    pytest.param(directives, DEFAULTS.max_directives, "TOO_MANY_DIRECTIVES", id="directives"),
    pytest.param(tokens, DEFAULTS.max_tokens, "TOO_MANY_TOKENS", id="tokens"),
    pytest.param(cost, DEFAULTS.max_cost, "QUERY_TOO_COSTLY", id="cost"),
]


def test_defaults_are_no_looser_than_graphql_armor():
    # Depth is 6 with Relay's edges/node levels not counted (see service/http/limits.py).
    assert (DEFAULTS.max_depth, DEFAULTS.max_aliases, DEFAULTS.max_directives, DEFAULTS.max_tokens,
            DEFAULTS.max_cost) == (6, 15, 50, 1000, 5000)
    assert Settings.from_env({}).max_depth == 6


@pytest.mark.parametrize("build, limit, code", CASES)
async def test_just_under_the_limit_runs(api, token, build, limit, code):
    before = api.app.state.pool.acquired
    response = await api.post(build(limit), token=token)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.json()
    assert api.app.state.pool.acquired == before + 1


@pytest.mark.parametrize("build, limit, code", CASES)
async def test_just_over_the_limit_is_refused_before_any_sql(api, token, build, limit, code):
    before = api.app.state.pool.acquired
    response = await api.post(build(limit + 1), token=token, headers={"accept": "application/graphql-response+json"})
    body = response.json()
    assert response.status_code == 400  # graphql-response+json: the document was refused
    assert codes(body) == [code], body
    assert body["errors"][0]["extensions"]["limit"] == limit
    assert "data" not in body
    assert api.app.state.pool.acquired == before, "a refused document must not reach the database"


async def test_relay_wrappers_are_free_but_every_other_level_counts(api, token):
    assert deep(DEFAULTS.max_depth).count("{") == DEFAULTS.max_depth + 2  # edges and node: two raw levels more
    # `node` is a wrapper only right under `edges`: the root `node` field is a level like any other.
    query = ('{ node(id: "x") { ... on Deployment { currentOwnership { deployment { currentOwnership {'
             ' deployment { currentOwnership { validFrom } } } } } } } }')
    body = (await api.post(query, token=token)).json()
    assert codes(body) == ["QUERY_TOO_DEEP"] and body["errors"][0]["extensions"]["actual"] == 7


async def test_cost_multiplies_page_sizes_from_variables_and_defaults(api, token):
    nested = ("query($n: Int) { deployments(first: $n) { edges { node {"
              " workflowUpdates(last: $n) { edges { node { __typename } } } } } } }")
    before = api.app.state.pool.acquired
    refused = (await api.post(nested, {"n": 100}, token=token)).json()
    assert codes(refused) == ["QUERY_TOO_COSTLY"]
    assert refused["errors"][0]["extensions"]["actual"] == 1 + 1 + 100 * 3 + 100 * 100 * 2
    assert api.app.state.pool.acquired == before
    assert "errors" not in (await api.post(nested, {"n": 10}, token=token)).json()
    # Absent `first`/`last`: the default page of 20 (20 × 20 inner nodes × 13 fields > 5000).
    defaults = ("{ deployments { edges { node { workflowUpdates { edges { node {"
                + " __typename" * 12 + " } } } } } } }")
    assert codes((await api.post(defaults, token=token)).json()) == ["QUERY_TOO_COSTLY"]
    # A variable's default value counts as well.
    with_default = nested.replace("$n: Int)", "$n: Int = 100)")
    assert codes((await api.post(with_default, token=token)).json()) == ["QUERY_TOO_COSTLY"]


async def test_fragments_are_expanded_when_counting(api, token):
    query = ("{ ...A } fragment A on Query { " + " ".join(f"a{i}: organizations {{ ...B }}" for i in range(8))
             + " } fragment B on Organization { " + " ".join(f"b{i}: slug" for i in range(8)) + " }")
    body = (await api.post(query, token=token)).json()
    assert codes(body) == ["TOO_MANY_ALIASES"]  # 16 aliases as written, 8 + 8 × 8 = 72 when expanded
    assert body["errors"][0]["extensions"]["actual"] == 72


async def test_limits_are_configurable(apps, token):
    strict = await apps(Settings.from_env({"STEWARD_MAX_DEPTH": "3", "STEWARD_MAX_COST": "10"}))
    assert codes((await strict.post(deep(4), token=token)).json()) == ["QUERY_TOO_DEEP"]
    assert "errors" not in (await strict.post("{ deployments(first: 2) { edges { node { name } } } }",
                                              token=token)).json()
    assert codes((await strict.post("{ deployments(first: 5) { edges { node { name } } } }",
                                    token=token)).json()) == ["QUERY_TOO_COSTLY"]


async def test_introspection_runs_when_enabled(api, token):
    query = get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                    schema_description=True, input_value_deprecation=True, one_of=True)
    body = (await api.post(query, token=token)).json()
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_cannot_nest_lists_without_bound(api, token):
    bomb = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    body = (await api.post(bomb, token=token)).json()
    assert codes(body) == ["QUERY_TOO_DEEP"]


async def test_introspection_refused_when_disabled(apps, token):
    closed = await apps(Settings(introspection=False))
    before = closed.app.state.pool.acquired
    for query in ("{ __schema { types { name } } }", '{ __type(name: "Deployment") { name } }',
                  "query { ...F } fragment F on Query { __schema { queryType { name } } }"):
        response = await closed.post(query, token=token)
        assert codes(response.json()) == ["INTROSPECTION_DISABLED"], query
    assert closed.app.state.pool.acquired == before
    assert (await closed.post("{ __typename }", token=token)).json() == {"data": {"__typename": "Query"}}


async def test_no_field_suggestions(api, token):
    validation = (await api.post("{ deployments { totalCont } }", token=token)).json()
    assert codes(validation) == ["GRAPHQL_VALIDATION_FAILED"]
    coercion = (await api.post("query($f: DeploymentFilter) { deployments(filter: $f) { totalCount } }",
                               {"f": {"status": "ACTIV"}}, token=token)).json()
    assert coercion["errors"]
    for body in (validation, coercion):
        for error in body["errors"]:
            assert "did you mean" not in error["message"].lower(), error
