"""Generated documents (hypothesis-graphql) over the compiled part of the schema: both paths answer alike.

The documents are drawn once, derandomized (a fixed seed), from the schema cut down to the fields the
compiler holds (schema/compiled/fields.py), one root field at a time; each is sent to the app with the
compiler and to the app without it, and the answers must be equal (tests/api/differential.py).
"""
from __future__ import annotations

import os
import re
from datetime import date

import hypothesis_graphql
import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType, build_schema, print_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from schema import schema
from schema.compiled.fields import FIELDS

from . import differential
from .conftest import make_token
from .world import build_world

# documents per root field (STEWARD_FUZZ_EXAMPLES to change it)
EXAMPLES = int(os.environ.get("STEWARD_FUZZ_EXAMPLES", "400"))
ROOTS = ("deployments", "deployment", "ownershipSummary", "people", "workflowUpdates")
# the types of connections and their pages, compiled whole by schema/compiled/pages.py
PAGED = {"DeploymentConnection", "DeploymentEdge", "WorkflowUpdateConnection", "WorkflowUpdateEdge", "PersonConnection",
         "PersonEdge", "ReviewConnection", "ReviewEdge", "PageInfo"}


def compiled_schema():
    """The SDL's schema with only the fields the compiler holds (and no mutation or subscription)."""
    cut = build_schema(print_schema(schema._schema))
    for type_ in cut.type_map.values():
        if isinstance(type_, GraphQLInputObjectType):
            for name in [n for n in type_.fields if n in DROPPED_ARGUMENTS]:
                del type_.fields[name]
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__") or type_.name in PAGED:
            continue
        for name in [n for n in type_.fields if n not in FIELDS.get(type_.name, {})]:
            del type_.fields[name]
        for field in type_.fields.values():  # arguments that almost always draw an error: hand-written cases
            for name in [n for n in field.args if n in DROPPED_ARGUMENTS]:
                del field.args[name]
    cut.mutation_type = cut.subscription_type = None
    return cut


# arguments and input fields whose random values are NOT_FOUND or BAD_USER_INPUT (test_compiled.py has such cases)
DROPPED_ARGUMENTS = {"orgSlug", "after", "before", "ownerId", "id", "last", "from", "to"}
KEY = re.compile(r'key: "(?:[^"\\]|\\.)*"')
SIZE = re.compile(r"\b(first|last|lastDays): (-?\d+)")
WINDOW = re.compile(r"window: \{[^{}]*lastDays: -?\d[^{}]*\}")
LAST_DAYS = re.compile(r"lastDays: -?\d+")


def likely(document: str) -> str:
    """Arguments moved into range (an existing key, small page sizes and windows), so most documents compile."""
    document = KEY.sub('key: "bot-001"', document).replace("window: {}", "window: {lastDays: 7}")
    document = WINDOW.sub(lambda m: "window: {" + (LAST_DAYS.findall(m.group(0)) or [""])[0] + "}", document)
    return SIZE.sub(lambda m: f"{m.group(1)}: {abs(int(m.group(2))) % (400 if m.group(1) == 'lastDays' else 12) + 1}",
                    document)


def documents(root: str, count: int) -> list[str]:
    drawn: list[str] = []
    days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)).map(date.isoformat)
    scalars = {"Date": days.map(nodes.String), "DateTime": days.map(lambda d: nodes.String(d + "T00:00:00Z"))}
    strategy = hypothesis_graphql.queries(compiled_schema(), fields=[root], allow_x00=False, custom_scalars=scalars)

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(document: str) -> None:
        drawn.append(likely(document))

    draw()
    return drawn


@pytest.fixture(scope="module")
async def world(module_db_url):
    return await build_world(module_db_url, deployments=8)


@pytest.fixture(scope="module")
async def plain(module_db_url):
    api, lifespan = await differential.plain_app(module_db_url)
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


@pytest.mark.parametrize("root", ROOTS)
async def test_generated_documents_answer_alike(api, plain, module_db_url, world, root, caplog):
    headers = {"authorization": f"Bearer {await make_token(module_db_url, 'acme')}"}
    sent, compiler = 0, api.app.state.compiler
    taken = compiler.taken
    for document in documents(root, EXAMPLES):
        body = {"query": document}
        expected = await plain.client.post("/graphql", json=body, headers=headers)
        got = await api.client.post("/graphql", json=body, headers=headers)
        differential.assert_same(document, None, expected, got)
        sent += 1
    assert sent >= EXAMPLES // 2  # hypothesis may stop early on a small space, never near empty
    compiled = compiler.taken - taken
    print(f"{root}: {sent} documents, {compiled} compiled")  # the rest: refused before SQL, or Strawberry's
    # a compiled statement may fail only on purpose (a row the resolvers would report missing)
    assert not [r.message for r in caplog.records if "compiled" in r.name], "a compiled statement failed"
    assert compiled >= sent // 4  # `deployment` draws no key half the time: a BAD_USER_INPUT, Strawberry's
