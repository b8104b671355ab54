"""Property-based fuzzing through HTTP: generated valid queries, broken documents, random variables.

Valid queries are drawn from the schema's own type map (hypothesis-graphql is not a
dependency): a few fields per selection set, arguments of the right types (required
ones always), sub-selections down to MAX_DEPTH, inline fragments on abstract types.
Whatever is sent, the answer is a JSON GraphQL response, never a 500, never a stack trace,
never a masked internal error.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date, datetime, timezone

import pytest
from graphql import (
    GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType,
    GraphQLScalarType, GraphQLUnionType, get_named_type,
)
from graphql.pyutils import Undefined
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema import schema

from .conftest import FIGURES, codes

SCHEMA = schema._schema
MAX_DEPTH = 3
EXAMPLES = int(os.environ.get("STEWARD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=os.environ.get("CI") == "true",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
class Cases(Counter):
    def __str__(self) -> str:
        return f"{sum(self.values())} ({', '.join(f'{kind} {n}' for kind, n in self.items())})"


CASES = Cases()  # shown in the run's "hardening figures"
FIGURES["fuzz generated cases"] = CASES
KNOWN_IDS: list[str] = []  # real global IDs of the world, filled by the `ids` fixture


@pytest.fixture(scope="module", autouse=True)
async def ids(api, token):
    body = await api.gql("{ deployments { edges { node { id owner { id } currentOwnership { id } } } } }",
                         token=token)
    for edge in body["data"]["deployments"]["edges"]:
        node = edge["node"]
        KNOWN_IDS.extend(i for i in (node["id"], (node["owner"] or {}).get("id"),
                                     (node["currentOwnership"] or {}).get("id")) if i)


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
SCALARS = {
    "Int": st.integers(-3, 130).map(str),
    "Float": st.floats(-1e3, 1e3, allow_nan=False).map(repr),
    "String": text.map(json.dumps),
    "Boolean": st.sampled_from(["true", "false"]),
    # deferred: the world's IDs are only known once the `ids` fixture ran
    "ID": st.one_of(st.deferred(lambda: st.sampled_from(KNOWN_IDS or ["none"])), text).map(json.dumps),
    # well-formed dates (any order, any span): nonsense ones are the variables test's job
    "Date": st.dates(date(2015, 1, 1), date(2030, 12, 31)).map(date.isoformat).map(json.dumps),
    "DateTime": st.datetimes(datetime(2015, 1, 1), datetime(2030, 12, 31), timezones=st.just(timezone.utc))
    .map(datetime.isoformat).map(json.dumps),
}


def literal(type_, depth: int = 0) -> st.SearchStrategy[str]:
    """A GraphQL literal of `type_` (mostly well-typed; Date/ID/String contents may be nonsense)."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type, depth)
    inner = _literal(type_, depth)
    return st.one_of(st.just("null"), inner) if depth < 2 else inner


def _literal(type_, depth: int) -> st.SearchStrategy[str]:
    if isinstance(type_, GraphQLList):
        return st.lists(literal(type_.of_type, depth + 1), max_size=3).map(lambda xs: f"[{', '.join(xs)}]")
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(list(type_.values))
    if isinstance(type_, GraphQLScalarType):
        return SCALARS.get(type_.name, text.map(json.dumps))
    if isinstance(type_, GraphQLInputObjectType):
        return arguments(type_.fields, depth + 1).map(lambda args: "{" + args + "}")
    raise TypeError(type_)


def arguments(fields: dict, depth: int) -> st.SearchStrategy[str]:
    """`a: 1, b: "x"`: every required argument, a random subset of the optional ones."""
    required = [n for n, f in fields.items() if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined]
    optional = [n for n in fields if n not in required]

    @st.composite
    def build(draw):
        names = required + draw(st.lists(st.sampled_from(optional), unique=True, max_size=3) if optional
                                else st.just([]))
        return ", ".join(f"{n}: {draw(literal(fields[n].type, depth))}" for n in names)
    return build()


@st.composite
def selection_set(draw, type_, depth: int = 1) -> str:
    """`{ … }` for an object, interface or union type."""
    parts = []
    if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)) and depth <= MAX_DEPTH:
        names = draw(st.lists(st.sampled_from(sorted(type_.fields)), min_size=1, max_size=4, unique=True))
        for name in names:
            field = type_.fields[name]
            args = draw(arguments(field.args, 0)) if field.args else ""
            target = get_named_type(field.type)
            sub = draw(selection_set(target, depth + 1)) if not isinstance(
                target, (GraphQLScalarType, GraphQLEnumType)) else ""
            parts.append(f"{name}{f'({args})' if args else ''} {sub}".strip())
    parts.append("__typename")
    if isinstance(type_, (GraphQLInterfaceType, GraphQLUnionType)) and depth <= MAX_DEPTH:
        for possible in draw(st.lists(st.sampled_from(SCHEMA.get_possible_types(type_)), max_size=2, unique=True)):
            parts.append(f"... on {possible.name} {draw(selection_set(possible, depth + 1))}")
    return "{ " + " ".join(parts) + " }"


def query() -> st.SearchStrategy[str]:
    return selection_set(SCHEMA.query_type)


PUNCTUATION = ["{", "}", "(", ")", ":", "...", "on", "query", "mutation", "fragment", "@include(if: true)", "$v",
               "[", "]", "=", "!", "|", "&", "1", '"s"', "null", "__schema", "__type", "#", "\\", '"""', "\u0000"]
broken = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(PUNCTUATION + sorted(SCHEMA.query_type.fields)), max_size=40).map(" ".join),
    st.tuples(query(), st.integers(0, 400), st.integers(0, 20), st.text(max_size=5))
    .map(lambda t: t[0][:t[1]] + t[3] + t[0][t[1] + t[2]:]),  # a valid query with a slice cut or replaced
)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                                                   allow_infinity=False) | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=30)
WITH_VARIABLES = ("query($f: DeploymentFilter, $n: Int, $w: WindowInput, $id: ID!) {"
                  " deployments(filter: $f, first: $n) { totalCount edges { node { key metrics(window: $w)"
                  " { conversations } } } } node(id: $id) { id } }")


def assert_sound(response) -> None:
    assert response.status_code in (200, 400), response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    body = response.json()
    assert "data" in body or body.get("errors"), body
    assert "INTERNAL_SERVER_ERROR" not in codes(body), body


@FUZZ
@given(document=query())
async def test_generated_valid_queries(api, token, document):
    CASES["valid queries"] += 1
    response = await api.post(document, token=token)
    assert_sound(response)
    refused = {"QUERY_TOO_COSTLY", "QUERY_TOO_DEEP", "TOO_MANY_TOKENS"}
    if not set(codes(response.json())) & refused:
        assert "GRAPHQL_VALIDATION_FAILED" not in codes(response.json()), (document, response.json())


@FUZZ
@given(document=broken)
async def test_generated_invalid_documents(api, token, document):
    CASES["invalid documents"] += 1
    assert_sound(await api.post(document, token=token))


@FUZZ
@given(variables=st.dictionaries(st.sampled_from(["f", "n", "w", "id", "other"]), json_values, max_size=5))
async def test_generated_variables(api, token, variables):
    CASES["random variables"] += 1
    assert_sound(await api.post(WITH_VARIABLES, variables, token=token))
