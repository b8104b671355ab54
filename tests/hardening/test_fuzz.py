"""Property-based fuzzing through HTTP of what is not a valid operation: broken documents, documents with one
schema violation, random variables. (Valid operations of every root field: test_fuzz_schema.py.)

Whatever is sent, the answer is a JSON GraphQL response, never a 500, never a stack trace, never a masked
internal error (see fuzz.py).
"""
from __future__ import annotations

import os
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes, queries

from .conftest import FIGURES
from .fuzz import SCHEMA, SDL, Cases, assert_sound, send

EXAMPLES = int(os.environ.get("STEWARD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=os.environ.get("CI") == "true",
                suppress_health_check=list(HealthCheck))
CASES = Cases()  # shown in the run's "hardening figures"
FIGURES["fuzz invalid cases"] = CASES

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
DATES = {"Date": st.dates().map(date.isoformat).map(nodes.String),
         "DateTime": st.datetimes().map(lambda d: d.isoformat() + "Z").map(nodes.String)}
PUNCTUATION = ["{", "}", "(", ")", ":", "...", "on", "query", "mutation", "fragment", "@include(if: true)", "$v",
               "[", "]", "=", "!", "|", "&", "1", '"s"', "null", "__schema", "__type", "#", "\\", '"""', "\u0000"]
broken = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(PUNCTUATION + sorted(SCHEMA.query_type.fields)), max_size=40).map(" ".join),
    # a valid query with a slice cut or replaced
    st.tuples(queries(SDL, custom_scalars=DATES), st.integers(0, 400), st.integers(0, 20), st.text(max_size=5))
    .map(lambda t: t[0][:t[1]] + t[3] + t[0][t[1] + t[2]:]),
)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                                                   allow_infinity=False) | text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=30)
WITH_VARIABLES = ("query($f: DeploymentFilter, $n: Int, $w: WindowInput, $id: ID!) {"
                  " deployments(filter: $f, first: $n) { totalCount edges { node { key metrics(window: $w)"
                  " { conversations } } } } node(id: $id) { id } }")


@pytest.fixture(scope="module")
def token(world) -> str:
    return world.tokens["admin"]


@pytest.fixture(scope="module")
def secrets(world) -> list[str]:
    return world.secrets


@FUZZ
@given(document=broken)
async def test_generated_invalid_documents(api, token, secrets, document):
    CASES["invalid documents"] += 1
    assert_sound(await send(api, document, token=token), document, secrets=secrets)


@FUZZ
@given(document=from_schema(SDL, custom_scalars=DATES, mode=Mode.NEGATIVE))
async def test_generated_schema_violations(api, token, secrets, document):
    """hypothesis-graphql's negative mode: a query or mutation with one wrong argument type, missing argument, …"""
    CASES["schema violations"] += 1
    assert_sound(await send(api, document, token=token), document, secrets=secrets)


@FUZZ
@given(variables=st.dictionaries(st.sampled_from(["f", "n", "w", "id", "other"]), json_values, max_size=5))
async def test_generated_variables(api, token, secrets, variables):
    CASES["random variables"] += 1
    assert_sound(await send(api, WITH_VARIABLES, variables, token), WITH_VARIABLES, variables, secrets)
