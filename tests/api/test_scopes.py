"""The `read` scope through HTTP: without it, a mutation's answer shows its payload and ids, nothing more.

The matrix: scope sets × every root field of the schema (Query and Mutation, read from the
schema, so a new field is covered without a new line here) × what the selection reaches.
A refused request is a 403 FORBIDDEN naming the first field it may not see, before any SQL
but the token lookup runs, and it writes nothing.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLNamedType,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_required_argument,
    is_required_input_field,
    parse,
    validate,
)

from schema import schema
from schema.relay import to_global_id
from service.auth import Principal
from service.db.pool import connect
from service.http.scopes import refusal

from .automation import periods, seed
from .conftest import _asyncpg_internal, make_token

SCHEMA = schema._schema
AUTHENTICATE = "select * from steward.authenticate($1)"

# scope set -> the scopes of its token
SCOPE_SETS = {
    "read": "read",
    "write:owners": "write:owners",
    "write:activity": "write:activity",
    "admin": "admin",
    "write:owners+write:activity": "write:owners,write:activity",
    "read+write:owners": "read,write:owners",
}
PAYLOAD_SCALAR, OBJECT_ID, OBJECT_SCALAR, CONNECTION = ("payload scalar", "nested object id", "nested object scalar",
                                                        "nested connection")
KINDS = (PAYLOAD_SCALAR, OBJECT_ID, OBJECT_SCALAR, CONNECTION)


def sees_everything(scopes: str) -> bool:
    return bool({"read", "admin"} & set(scopes.split(",")))


# --- selections, built from the schema ----------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    text: str
    path: tuple[str, ...]  # field names down to the deepest field selected


def _members(t: GraphQLNamedType) -> list:
    """Where a selection on `t` may look: an interface's own fields, then its types (a payload's success first)."""
    if is_abstract_type(t):
        own = [t] if getattr(t, "fields", None) else []
        return own + sorted(SCHEMA.get_possible_types(t), key=lambda m: m.name.endswith("Error"))
    return [t]


def _on(t, member, selection: Selection) -> Selection:
    return selection if member is t else Selection(f"... on {member.name} {{ {selection.text} }}", selection.path)


def _plain_fields(t):
    """Fields that need no argument, in schema order."""
    return [(name, f) for name, f in getattr(t, "fields", {}).items()
            if not any(is_required_argument(a) for a in f.args.values())]


def _is_connection(t) -> bool:
    return {"edges", "pageInfo"} <= set(getattr(t, "fields", {}))


def _is_wrapper(t) -> bool:
    """A connection or one of its edges: a way to objects, not an object."""
    return _is_connection(t) or {"node", "cursor"} <= set(getattr(t, "fields", {}))


def payload_scalar(t) -> Selection | None:
    for member in _members(t):
        for name, f in _plain_fields(member):
            if is_leaf_type(get_named_type(f.type)):
                return _on(t, member, Selection(name, (name,)))
    return None


def object_id(u) -> Selection | None:
    return Selection("id", ("id",)) if "id" in getattr(u, "fields", {}) else None


def object_scalar(u) -> Selection | None:
    if _is_wrapper(u):
        return None
    for member in _members(u):
        for name, f in _plain_fields(member):
            if name != "id" and is_leaf_type(get_named_type(f.type)):
                return _on(u, member, Selection(name, (name,)))
    return None


def connection(u, through: int = 1) -> Selection | None:
    """A connection held by `u`, or by an object `u` references (`through` levels down)."""
    if _is_wrapper(u):
        return None
    for member in _members(u):
        for name, f in _plain_fields(member):
            if _is_connection(get_named_type(f.type)):
                return _on(u, member, Selection(f"{name} {{ totalCount }}", (name,)))
    for member in _members(u) if through else ():
        for name, f in _plain_fields(member):
            v = get_named_type(f.type)
            inner = None if is_leaf_type(v) else connection(v, through - 1)
            if inner is not None:
                return _on(u, member, Selection(f"{name} {{ {inner.text} }}", (name,) + inner.path))
    return None


def nested(t, want, wrappers: int) -> Selection | None:
    """`f { … }` for the first object `t` references that has what `want` selects.

    `wrappers` levels of connections and edges may be crossed on the way: queries only, since a
    mutation payload's referenced objects are where the rule stops.
    """
    for member in _members(t):
        for name, f in _plain_fields(member):
            u = get_named_type(f.type)
            if is_leaf_type(u):
                continue
            inner = want(u)
            if inner is None and wrappers and _is_wrapper(u):
                inner = nested(u, want, wrappers - 1)
            if inner is not None:
                return _on(t, member, Selection(f"{name} {{ {inner.text} }}", (name,) + inner.path))
    return None


def selections(t, is_query: bool) -> dict[str, Selection]:
    wrappers = 2 if is_query else 0
    found = {PAYLOAD_SCALAR: payload_scalar(t), OBJECT_ID: nested(t, object_id, wrappers),
             OBJECT_SCALAR: nested(t, object_scalar, wrappers), CONNECTION: nested(t, connection, wrappers)}
    return {kind: s for kind, s in found.items() if s is not None}


@dataclass(frozen=True)
class Case:
    scopes: str
    operation: str  # "query" or "mutation"
    field: str
    kind: str
    selection: Selection

    @property
    def refused(self) -> bool:
        return not sees_everything(SCOPE_SETS[self.scopes]) and (self.operation == "query"
                                                                  or self.kind in (OBJECT_SCALAR, CONNECTION))

    @property
    def refused_path(self) -> str:
        # a query: its root field; a mutation: the first field below an object the payload references
        return self.field if self.operation == "query" else ".".join((self.field,) + self.selection.path[:2])


def matrix() -> list[Case]:
    cases = []
    for operation, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        for field, definition in root.fields.items():
            found = selections(get_named_type(definition.type), operation == "query")
            assert PAYLOAD_SCALAR in found, f"{operation} {field}: no scalar to select"
            for scopes in SCOPE_SETS:
                cases += [Case(scopes, operation, field, kind, s) for kind, s in found.items()]
    return cases


CASES = matrix()


# --- arguments, built from the schema -----------------------------------------------------------

ROOT_ARGS = {"deployment": {"key": "bot-0"}}  # optional arguments that make the answer a real object


def argument_value(type_, name: str, holder: str, org):
    """A value of `type_` for the argument or input field `name` (of `holder`) that validation accepts."""
    t = get_nullable_type(type_)
    if is_list_type(t):
        return [argument_value(t.of_type, name, holder, org)]
    if isinstance(t, GraphQLInputObjectType):
        return {n: argument_value(f.type, n, t.name, org) for n, f in t.fields.items() if is_required_input_field(f)}
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if t is GraphQLID:
        about_person = any(w in name.lower() for w in ("person", "author", "reviewer", "owner"))
        return org.person(1) if about_person or (name == "id" and "Person" in holder) else org.deployment(0)
    if t is GraphQLInt:
        return 1
    if t is GraphQLFloat:
        return 0.5
    if t is GraphQLBoolean:
        return False
    if t.name == "DateTime":
        return datetime.now(timezone.utc).isoformat()
    if t.name == "Date":
        return date.today().isoformat()
    return {"slug": org.slug, "key": "bot-0"}.get(name, "scope matrix")


def document(case: Case, org) -> tuple[str, dict]:
    definition = (SCHEMA.query_type if case.operation == "query" else SCHEMA.mutation_type).fields[case.field]
    declared, passed, variables = [], [], {}
    for name, arg in definition.args.items():
        if is_required_argument(arg):
            value = argument_value(arg.type, name, case.field, org)
        elif name in ROOT_ARGS.get(case.field, {}):
            value = ROOT_ARGS[case.field][name]
        else:
            continue
        declared.append(f"${name}: {arg.type}")
        passed.append(f"{name}: ${name}")
        variables[name] = value
    header = f"{case.operation}({', '.join(declared)})" if declared else case.operation
    arguments = f"({', '.join(passed)})" if passed else ""
    return f"{header} {{ {case.field}{arguments} {{ {case.selection.text} }} }}", variables


# --- the app, its statements, the organization --------------------------------------------------

class StatementLog:
    """Wraps the app's pool: records every statement run on a connection it hands out."""

    def __init__(self, pool):
        self.pool = pool
        self.statements: list[str] = []

    def acquire(self, *args, **kwargs):
        return _Logged(self, self.pool.acquire(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self.pool, name)


class _Logged:
    def __init__(self, log: StatementLog, acquiring):
        self.log, self.acquiring = log, acquiring

    def record(self, query) -> None:
        if not _asyncpg_internal(query.query):
            self.log.statements.append(query.query)

    async def __aenter__(self):
        self.conn = await self.acquiring.__aenter__()
        self.conn.add_query_logger(self.record)
        return self.conn

    async def __aexit__(self, *exc):
        self.conn.remove_query_logger(self.record)
        return await self.acquiring.__aexit__(*exc)


@pytest.fixture(scope="module")
async def logged(api):
    log = api.app.state.pool = StatementLog(api.app.state.pool)
    yield log
    api.app.state.pool = log.pool


@pytest.fixture(scope="module")
async def org(module_db_url, api):
    return await seed(module_db_url, persons=3, deployments=1, owner=0, slug="scopes-org")


@pytest.fixture(scope="module")
async def tokens(module_db_url, org) -> dict[str, str]:
    return {name: await make_token(module_db_url, org.slug, scopes) for name, scopes in SCOPE_SETS.items()}


TENANT_TABLES = ("persons", "deployments", "ownership_assignments", "ownership_changes", "workflow_updates",
                 "performance_reviews", "idempotency_keys", "health_policies")


async def written(org) -> dict[str, str]:
    """A digest of every tenant row of the organization: equal means nothing was written."""
    conn = await connect(org.db_url)
    try:
        return {table: await conn.fetchval(f"select count(*) || ':' || md5(coalesce(string_agg(t::text, ','"
                                           f" order by t::text), '')) from steward.{table} t where org_id = $1",
                                           org.id)
                for table in TENANT_TABLES}
    finally:
        await conn.close()


async def post(api, logged, query: str, variables: dict | None, token: str):
    """POST a document; return the response and the statements it ran."""
    logged.statements.clear()
    response = await api.post(query, variables, token)
    await asyncio.sleep(0)  # asyncpg calls query loggers soon after the statement, not during it
    return response, list(logged.statements)


def assert_refused(response, statements: list[str], field: str) -> None:
    body = response.json()
    assert response.status_code == 403, body
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "scope": "read", "field": field}, error
    assert f"`{field}`" in error["message"] and "'read'" in error["message"]
    assert statements == [AUTHENTICATE]  # the token lookup, nothing else


# --- the matrix ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.scopes}-{c.field}-{c.kind.replace(' ', '_')}")
async def test_scope_matrix(api, logged, org, tokens, case):
    query, variables = document(case, org)
    assert validate(SCHEMA, parse(query)) == [], query
    before = await written(org) if case.refused else None

    response, statements = await post(api, logged, query, variables, tokens[case.scopes])

    if case.refused:
        assert_refused(response, statements, case.refused_path)
        assert await written(org) == before
    else:
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        assert case.field in body["data"], body
        assert len(statements) > 1  # it ran


def test_the_matrix_covers_every_root_field_and_scope_set():
    fields = {(c.operation, c.field) for c in CASES}
    assert fields == ({("query", f) for f in SCHEMA.query_type.fields}
                      | {("mutation", f) for f in SCHEMA.mutation_type.fields})
    assert {c.scopes for c in CASES} == set(SCOPE_SETS)
    by_kind = {kind: sum(c.kind == kind for c in CASES) for kind in KINDS}
    # every mutation payload but setHealthPolicy's (a policy: no id, no list) references an object with an id
    assert by_kind[OBJECT_ID] >= (len(SCHEMA.mutation_type.fields) - 1) * len(SCOPE_SETS)
    assert all(by_kind.values()), by_kind
    assert sum(c.refused for c in CASES) and sum(not c.refused for c in CASES)


# --- the issue's document, and what automation still gets -----------------------------------------

ISSUE = """mutation($input: AssignOwnerInput!) { assignOwner(input: $input) {
  ... on AssignOwnerSuccess { changed deployment { organization {
    people { edges { node { email } } }
    ownershipSummary { deployments } } } } } }"""


async def test_the_issue_document_is_refused_and_runs_nothing(api, logged, org, tokens):
    before = await written(org)
    variables = {"input": {"deploymentId": org.deployment(0), "personId": org.person(2), "reason": "leak"}}

    response, statements = await post(api, logged, ISSUE, variables, tokens["write:owners"])

    assert_refused(response, statements, "assignOwner.deployment.organization")
    assert await written(org) == before
    assert [p["person_id"] for p in await periods(org.db_url, org.deployments[0])][-1] != org.persons[2]


async def test_automation_without_read_gets_ids_typenames_and_error_messages(api, logged, org, tokens):
    token = tokens["write:owners"]
    done = await api.gql("""mutation($input: AssignOwnerInput!) { assignOwner(input: $input) {
        __typename ... on AssignOwnerSuccess { changed replayed deployment { id __typename }
          assignment { id } endedAssignment { id } change { id __typename } }
        ... on UserError { message field } } }""",
                         {"input": {"deploymentId": org.deployment(0), "personId": org.person(2),
                                    "reason": "ids only", "idempotencyKey": "ids-only"}}, token)
    missing = await api.gql("""mutation($input: UnassignOwnerInput!) { unassignOwner(input: $input) {
        __typename ... on UserError { message field } } }""",
                            {"input": {"deploymentId": to_global_id("Deployment", 2**40), "reason": "x"}}, token)

    result = done["data"]["assignOwner"]
    assert "errors" not in done, done
    assert result["__typename"] == "AssignOwnerSuccess" and result["changed"] is True
    assert result["deployment"] == {"id": org.deployment(0), "__typename": "Deployment"}
    assert result["change"]["__typename"] == "OwnershipChange" and result["assignment"]["id"]
    assert (await periods(org.db_url, org.deployments[0]))[-1]["person_id"] == org.persons[2]
    assert missing == {"data": {"unassignOwner": {"__typename": "NotFoundError", "message": "Deployment not found",
                                                  "field": "deploymentId"}}}


async def test_a_refused_later_mutation_stops_the_earlier_ones_too(api, logged, org, tokens):
    before = await written(org)
    response, statements = await post(api, logged, """mutation($d: ID!, $p: ID!) {
        first: createPerson(input: {name: "Ada", email: "ada@scopes.test", function: CX}) { __typename }
        second: assignOwner(input: {deploymentId: $d, personId: $p, reason: "x"}) {
          ... on AssignOwnerSuccess { deployment { id owner { id } } } } }""",
                                      {"d": org.deployment(0), "p": org.person(1)}, tokens["write:owners"])

    assert_refused(response, statements, "assignOwner.deployment.owner")
    assert await written(org) == before


async def test_a_query_without_read_names_its_first_field(api, logged, org, tokens):
    response, statements = await post(api, logged, "query Q { ...Roots } fragment Roots on Query "
                                      "{ organizations { slug } }", None, tokens["write:activity"])

    assert_refused(response, statements, "organizations")


async def test_introspection_in_a_mutation(api, logged, org, tokens):
    typename = await api.gql("mutation { __typename }", None, tokens["write:owners"])
    schema_field = await api.post("mutation { __schema { types { name } } }", None, tokens["write:owners"],
                                  headers={"accept": "application/graphql-response+json"})

    assert typename == {"data": {"__typename": "Mutation"}}
    assert schema_field.status_code == 400  # a validation failure, before any token is looked up
    assert [e["extensions"]["code"] for e in schema_field.json()["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


# --- the rule on documents: aliases, fragments, __typename (no database) --------------------------

WRITER = Principal(token_id=1, org_id=1, org_slug="x", scopes=frozenset({"write:owners", "write:activity"}))
READER = Principal(token_id=1, org_id=1, org_slug="x", scopes=frozenset({"read"}))
RECORD = 'recordReview(input: {deploymentId: "x", reviewerId: "y"})'


@pytest.mark.parametrize("query, refused", [
    # allowed: the payload's own fields, errors' message/field, ids and __typename of what it references
    (f"mutation {{ {RECORD} {{ __typename ... on RecordReviewSuccess {{ replayed review {{ id }} }} }} }}", None),
    (f"mutation {{ {RECORD} {{ ... on UserError {{ message field }} }} }}", None),
    (f"mutation {{ r: {RECORD} {{ ... on RecordReviewSuccess {{ d: deployment {{ key: id t: __typename }} }} }} }}",
     None),
    (f"mutation {{ {RECORD} {{ ...P }} }} fragment P on RecordReviewSuccess {{ deployment {{ ...N }} }} "
     "fragment N on Node { id }", None),
    (f"mutation {{ {RECORD} {{ ... on RecordReviewSuccess {{ deployment {{ ... on Deployment {{ id }} }} }} }} }}",
     None),
    ("mutation { __typename }", None),
    # refused: an alias is judged by its field, not its name
    (f"mutation {{ {RECORD} {{ ... on RecordReviewSuccess {{ deployment {{ id: name }} }} }} }}",
     "recordReview.deployment.name"),
    # named fragments, at the payload and inside a referenced object, nested
    (f"mutation {{ {RECORD} {{ ...P }} }} fragment P on RecordReviewSuccess {{ review {{ id }} deployment {{ ...D }} }}"
     " fragment D on Deployment { id ...E } fragment E on Deployment { key }", "recordReview.deployment.key"),
    # inline fragments inside a referenced object
    (f"mutation {{ {RECORD} {{ ... on RecordReviewSuccess {{ deployment {{ ... on Deployment {{ owner {{ id }} }} }}"
     " } } }", "recordReview.deployment.owner"),
    # an object's id is an id; its objects' ids are not
    (f"mutation {{ {RECORD} {{ ... on RecordReviewSuccess {{ review {{ reviewer {{ id }} }} }} }} }}",
     "recordReview.review.reviewer"),
    # @skip is not evaluated: what may be selected counts
    (f"mutation {{ {RECORD} {{ ... on RecordReviewSuccess {{ deployment {{ name @skip(if: true) }} }} }} }}",
     "recordReview.deployment.name"),
    # the first offending field, in document order
    (f"mutation {{ a: {RECORD} {{ __typename }} b: {RECORD} {{ ... on RecordReviewSuccess {{ review {{ notes }}"
     " deployment { name } } } }", "recordReview.review.notes"),
    # a query needs read, even for __typename
    ("{ __typename }", "__typename"),
])
def test_the_rule_looks_through_aliases_and_fragments(query, refused):
    parsed = parse(query)
    assert validate(SCHEMA, parsed) == [], query
    operation = parsed.definitions[0]

    found = refusal(parsed, operation, WRITER)

    assert (found and ".".join(found.path)) == refused
    assert refusal(parsed, operation, READER) is None  # `read` sees everything
