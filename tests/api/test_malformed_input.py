"""Malformed input (issue 10, point 5): refused as BAD_USER_INPUT naming the argument, never a 500.

The cases are generated from the schema, so a new connection, sort order or string argument
is covered without touching this file:
- cursors: the issue's well-formed-but-wrong cursors on every connection field (root, and on
  every Node type through `node(id:)`), in every sort order of its `orderBy` enums, as
  `after` and as `before`;
- text: NUL and a lone surrogate in every String/ID/Date/DateTime leaf of every argument and
  input field of every root field, mutation and Node field, as a literal, as the whole
  argument in a variable, and as a variable in the leaf's place;
- the request body itself (`operationName`, object keys) and bulk ingest rows.
Each refused request must run no SQL (for text) or write nothing (for cursors), and its body
must hold no stack trace and no SQL.
"""
from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import datetime
from typing import Any, Iterator

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from graphql.pyutils import Undefined

from schema import schema
from schema.relay import to_global_id
from service.db.pool import connect

from .conftest import Api, CountingPool, make_token
from .world import build_world

SCHEMA = schema._schema
NUL, SURROGATE = "\u0000", "\ud800"
# A valid value per scalar, to fill required arguments; a new scalar needs one here (KeyError otherwise).
SAMPLES: dict[str, Any] = {"String": "x", "ID": "x", "Int": 1, "Float": 0.5, "Boolean": True,
                           "Date": "2026-01-01", "DateTime": "2026-01-01T00:00:00Z"}
TEXT_SCALARS = {name for name, sample in SAMPLES.items() if isinstance(sample, str)}
LEAKS = ("Traceback", 'File "', "asyncpg", "select ", "insert ", "update steward", "psycopg", "postgres")
CASES: Counter = Counter()  # requests sent per kind, printed by the last test


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


# The issue's cursors, and their neighbours. Values a text sort may hold are valid there only.
TEXT_VALID = "text"
CURSORS: dict[str, tuple[str, str | None]] = {
    'issue ["x", 1]': ("WyJ4IiwgMV0=", TEXT_VALID),
    "offset overflows year 1": (b64('["0001-01-01T00:00:00+14:00", 1]'), TEXT_VALID),
    "naive timestamp": (b64('["2026-01-01T00:00:00", 1]'), TEXT_VALID),
    "value Infinity": (b64("[Infinity, 1]"), None),
    "value -Infinity": (b64("[-Infinity, 1]"), None),
    "value NaN": (b64("[NaN, 1]"), None),
    "value {}": (b64("[{}, 1]"), None),
    "value []": (b64("[[], 1]"), None),
    "value true": (b64("[true, 1]"), None),
    "value null": (b64("[null, 1]"), None),
    "value 1e29": (b64("[1e29, 1]"), None),
    "value 2**63": (b64(f"[{2**63}, 1]"), None),
    "value -2**63-1": (b64(f"[{-2**63 - 1}, 1]"), None),
    "value 1.5": (b64("[1.5, 1]"), None),
    "value NUL": (b64('["\\u0000", 1]'), None),
    "value lone surrogate": (b64('["\\ud800", 1]'), None),
    "value NUL in a timestamp": (b64('["2026-01-01T00:00:00\\u0000+00:00", 1]'), None),
    'key 1e29 (["x", 1e29])': (b64('["x", 1e29]'), None),
    "key 2**63": (b64(f'["x", {2**63}]'), None),
    "key 0": (b64('["x", 0]'), None),
    "key -1": (b64('["x", -1]'), None),
    "key true": (b64('["x", true]'), None),
    "key string": (b64('["x", "1"]'), None),
    "three elements": (b64('["x", 1, 2]'), None),
    "an object": (b64('{"x": 1}'), None),
    "[ x 5000 (RecursionError)": (b64("[" * 5000), None),
    "[ x 3000 (within the length bound)": (b64("[" * 3000), None),
    "not base64": ("%%%", None),
    "not JSON": (b64("nope"), None),
    "not UTF-8": (base64.urlsafe_b64encode(b'["\xff", 1]').decode(), None),
    "too long": ("A" * 5000, None),
}


# ---------------------------------------------------------------- the schema, walked

def is_required(field) -> bool:
    return isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined


class Enum(str):
    """An enum value: printed bare in a literal, as a string in variables."""


class Var(str):
    """A variable reference in a literal."""


def fill(type_: GraphQLInputType) -> Any:
    """A valid value of `type_`: required fields filled, nothing else."""
    if isinstance(type_, GraphQLNonNull):
        return fill(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [fill(type_.of_type)]
    if isinstance(type_, GraphQLInputObjectType):
        return {name: fill(f.type) for name, f in type_.fields.items() if is_required(f)}
    if isinstance(type_, GraphQLEnumType):
        return Enum(next(iter(type_.values)))
    return SAMPLES[type_.name]


def text_leaves(type_: GraphQLInputType, path: tuple = (), seen: frozenset = frozenset()) -> Iterator[tuple]:
    """(path, leaf type) of every text-typed leaf under `type_`; list items are index 0."""
    nullable = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(nullable, GraphQLList):
        yield from text_leaves(nullable.of_type, path + (0,), seen)
    elif isinstance(nullable, GraphQLInputObjectType):
        if nullable.name in seen:
            return
        for name, f in nullable.fields.items():
            yield from text_leaves(f.type, path + (name,), seen | {nullable.name})
    elif isinstance(nullable, GraphQLScalarType) and nullable.name in TEXT_SCALARS:
        yield path, type_


def build(type_: GraphQLInputType, path: tuple, leaf: Any) -> Any:
    """A valid value of `type_` except at `path`, which holds `leaf`."""
    if isinstance(type_, GraphQLNonNull):
        return build(type_.of_type, path, leaf)
    if not path:
        return leaf
    if isinstance(type_, GraphQLList):
        return [build(type_.of_type, path[1:], leaf)]
    value = fill(type_)
    value[path[0]] = build(type_.fields[path[0]].type, path[1:], leaf)
    return value


def literal(value: Any) -> str:
    if isinstance(value, Var):
        return f"${value}"
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return json.dumps(value)  # strings (escapes are GraphQL's too), numbers, booleans


def path_name(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def selection(type_) -> str:
    named = get_named_type(type_)
    composite = (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)
    return " { __typename }" if isinstance(named, composite) else ""


def node_types_with(predicate) -> Iterator[tuple[str, str, Any]]:
    """(parent type, field name, field) over the roots and every Node type, where predicate(field)."""
    node = SCHEMA.get_type("Node")
    parents = [SCHEMA.query_type, SCHEMA.mutation_type] + [
        t for t in SCHEMA.type_map.values() if isinstance(t, GraphQLObjectType) and node in t.interfaces]
    for parent in parents:
        for name, f in parent.fields.items():
            if predicate(f):
                yield parent.name, name, f


def operation(parent: str, body: str, variables: str, ids: dict[str, str]) -> str:
    """A document running `body` on `parent`: a root type, or a Node type reached through `node(id:)`."""
    head = f"({variables})" if variables else ""
    if parent == "Mutation":
        return f"mutation{head} {{ {body} }}"
    if parent == "Query":
        return f"query{head} {{ {body} }}"
    return f'query{head} {{ node(id: "{ids[parent]}") {{ ... on {parent} {{ {body} }} }} }}'


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
async def world(api: Api) -> dict:
    world = await build_world(api.url, deployments=3)
    world["token"] = await make_token(api.url, "acme", "admin")
    # one ownership change through the API, so the audit log connections have a row
    body = await api.gql("mutation($i: AssignOwnerInput!) { assignOwner(input: $i) { __typename } }",
                         {"i": {"deploymentId": to_global_id("Deployment", world["deployments"][0]),
                                "personId": to_global_id("Person", world["owners"][1]), "reason": "setup"}},
                         world["token"])
    assert body["data"]["assignOwner"]["__typename"] == "AssignOwnerSuccess", body
    world["ids"] = {"Deployment": to_global_id("Deployment", world["deployments"][0]),
                    "Person": to_global_id("Person", world["owners"][1]),
                    "Organization": to_global_id("Organization", world["acme"])}
    api.app.state.pool = CountingPool(api.app.state.pool)
    yield world
    api.app.state.pool = api.app.state.pool.pool


async def fingerprint(db_url: str) -> dict[str, str]:
    """Every steward table's rows, hashed: equal before and after means nothing was written."""
    conn = await connect(db_url)
    try:
        tables = await conn.fetch("select tablename from pg_tables where schemaname = 'steward' order by 1")
        return {t["tablename"]: await conn.fetchval(
            f"select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') "
            f"from steward.{t['tablename']} t") for t in tables}
    finally:
        await conn.close()


async def send(api: Api, token: str, query: str, variables: dict | None = None,
               operation_name: str | None = None) -> tuple[int, dict, str]:
    """POST with the body as ASCII JSON, so lone surrogates travel as `\\ud800` escapes.

    Accepting application/graphql-response+json makes a request the server refused a 400.
    """
    body = {"query": query} | ({"variables": variables} if variables is not None else {})
    if operation_name is not None:
        body["operationName"] = operation_name
    response = await api.client.post("/graphql", content=json.dumps(body).encode(),
                                     headers={"authorization": f"Bearer {token}", "content-type": "application/json",
                                              "accept": "application/graphql-response+json"})
    return response.status_code, response.json(), response.text


def problems(status: int, body: dict, text: str, field: str | None, codes=("BAD_USER_INPUT",)) -> list[str]:
    """What is wrong with a refusal: [] if it is a typed error naming `field`, with nothing leaked."""
    found = []
    if status >= 500:
        found.append(f"status {status}")
    errors = body.get("errors") or []
    got = [e.get("extensions", {}).get("code") for e in errors]
    if not errors or any(c not in codes for c in got):
        found.append(f"codes {got}, want {codes}")
    if field is not None and errors and errors[0].get("extensions", {}).get("field") != field:
        found.append(f"field {errors[0].get('extensions', {}).get('field')!r}, want {field!r}")
    found += [f"leaks {leak!r}" for leak in LEAKS if leak in text]
    return found


# ---------------------------------------------------------------- cursors

def connections() -> list[tuple[str, str, dict]]:
    """(parent, field, orderBy value or None) for every connection field and sort order."""
    out = []
    for parent, name, f in node_types_with(lambda f: {"after", "before"} <= f.args.keys()):
        order = f.args.get("orderBy")
        if order is None:
            out.append((parent, name, None))
            continue
        fields = get_named_type(order.type).fields
        for value in get_named_type(fields["field"].type).values:
            for direction in get_named_type(fields["direction"].type).values:
                out.append((parent, name, {"field": Enum(value), "direction": Enum(direction)}))
    return out


def connection_query(parent: str, name: str, order: dict | None, ids: dict, args: str) -> str:
    order_arg = f", orderBy: {literal(order)}" if order else ""
    return operation(parent, f"{name}({args}{order_arg}) {{ edges {{ cursor }} }}", "$c: String", ids)


def sort_kind(cursor: str) -> str:
    """What the list sorts by, told from a cursor it issued: text, timestamp or integer."""
    value = json.loads(base64.urlsafe_b64decode(cursor))[0]
    if isinstance(value, int):
        return "integer"
    try:
        datetime.fromisoformat(value)
        return "timestamp"
    except ValueError:
        return TEXT_VALID


CONNECTIONS = connections()


def test_every_connection_and_sort_order_is_found():
    names = {(p, n) for p, n, _ in CONNECTIONS}
    assert {("Query", "deployments"), ("Query", "people"), ("Query", "workflowUpdates"), ("Query", "auditLog"),
            ("Deployment", "reviews"), ("Person", "workflowUpdates")} <= names
    assert sum(1 for p, n, _ in CONNECTIONS if (p, n) == ("Query", "deployments")) == 8  # 4 keys x 2 directions


@pytest.mark.parametrize("parent, name, order", CONNECTIONS,
                         ids=[f"{p}.{n}-{o['field']}-{o['direction']}" if o else f"{p}.{n}" for p, n, o in CONNECTIONS])
async def test_malformed_cursors_are_bad_user_input_on_every_connection_and_order(api, world, parent, name, order):
    token, ids = world["token"], world["ids"]
    before = await fingerprint(api.url)
    # the list's own cursors still work, both ways: the checks must accept what encode_cursor writes
    status, body, _ = await send(api, token, connection_query(parent, name, order, ids, "first: 2, after: $c"))
    assert "errors" not in body, body
    edges = (body["data"]["node"] if parent != "Query" else body["data"])[name]["edges"]
    assert edges, f"{parent}.{name} has no rows in the test world: the cursor checks would prove nothing"
    kind = sort_kind(edges[-1]["cursor"])
    for argument, page in (("after", "first: 2, after: $c"), ("before", "last: 2, before: $c")):
        query = connection_query(parent, name, order, ids, page)
        status, body, _ = await send(api, token, query, {"c": edges[-1]["cursor"]})
        assert "errors" not in body, (argument, body)
        failures = []
        for case, (cursor, valid_for) in CURSORS.items():
            CASES["cursor"] += 1
            status, body, text = await send(api, token, query, {"c": cursor})
            if valid_for == kind:
                if "errors" in body:
                    failures.append(f"{case}: a valid {kind} position was refused: {body['errors']}")
                continue
            found = problems(status, body, text, argument)
            if found:
                failures.append(f"{case}: {found}: {text[:300]}")
        assert not failures, f"{argument} on {parent}.{name} {order}:\n" + "\n".join(failures)
    assert await fingerprint(api.url) == before


async def test_cursor_as_a_literal_too(api, world):
    query = '{ deployments(after: "%s", orderBy: {field: LAUNCHED_AT}) { edges { cursor } } }' % "WyJ4IiwgMV0="
    CASES["cursor"] += 1
    assert problems(*await send(api, world["token"], query), "after") == []


# ---------------------------------------------------------------- text in arguments

def text_targets() -> list[tuple[str, str, str, tuple, Any]]:
    """(parent, field, argument, path inside it, leaf type) for every text leaf of every argument."""
    out = []
    for parent, name, f in node_types_with(lambda f: bool(f.args)):
        for arg_name, arg in f.args.items():
            for path, leaf_type in text_leaves(arg.type):
                out.append((parent, name, arg_name, path, leaf_type))
    return out


TEXT_TARGETS = text_targets()


def text_request(parent: str, name: str, argument: str, path: tuple, leaf_type, bad: str, form: str,
                 ids: dict) -> tuple[str, dict | None]:
    """The document and variables putting `bad` at argument.path, as a literal or through a variable."""
    field = (SCHEMA.query_type if parent == "Query" else SCHEMA.mutation_type if parent == "Mutation"
             else SCHEMA.get_type(parent)).fields[name]
    args = {a: fill(arg.type) for a, arg in field.args.items() if is_required(arg)}
    variables, declared = None, ""
    if form == "literal":
        args[argument] = build(field.args[argument].type, path, bad)
    elif form == "argument variable":
        args[argument] = Var("v")
        variables = {"v": json.loads(json.dumps(build(field.args[argument].type, path, bad)))}
        declared = f"$v: {field.args[argument].type}"
    else:  # the leaf itself is a variable, inside literal objects and lists
        args[argument] = build(field.args[argument].type, path, Var("v"))
        variables, declared = {"v": bad}, f"$v: {leaf_type}"
    rendered = ", ".join(f"{k}: {literal(v)}" for k, v in args.items())
    return operation(parent, f"{name}({rendered}){selection(field.type)}", declared, ids), variables


FORMS = ("literal", "argument variable", "leaf variable")


def test_every_text_argument_is_found():
    found = {(p, n, a, path_name((a, *path))) for p, n, a, path, _ in TEXT_TARGETS}
    assert {("Query", "deployment", "key", "key"), ("Query", "node", "id", "id"),
            ("Query", "deployments", "filter", "filter.search"),
            ("Mutation", "createPerson", "input", "input.email"),
            ("Mutation", "recordReview", "input", "input.notes"),
            ("Mutation", "assignOwner", "input", "input.idempotencyKey"),
            ("Deployment", "reviews", "after", "after")} <= found, found
    assert len({(p, n) for p, n, *_ in TEXT_TARGETS if p == "Mutation"}) == len(SCHEMA.mutation_type.fields)


@pytest.mark.parametrize("parent, name, argument, path, leaf_type", TEXT_TARGETS,
                         ids=[f"{p}.{n}({path_name((a, *path))})" for p, n, a, path, _ in TEXT_TARGETS])
async def test_nul_and_lone_surrogate_are_bad_user_input_naming_the_argument(api, world, parent, name, argument,
                                                                              path, leaf_type):
    token, pool = world["token"], api.app.state.pool
    before = await fingerprint(api.url)
    failures = []
    for bad in (NUL, SURROGATE):
        for form in FORMS:
            CASES["text"] += 1
            query, variables = text_request(parent, name, argument, path, leaf_type, bad, form, world["ids"])
            acquired = pool.acquired
            status, body, text = await send(api, token, query, variables)
            if bad == SURROGATE and form == "literal":
                # The GraphQL lexer refuses a lone surrogate escape (spec, October 2021): a syntax
                # error pointing at the string, before anything else.
                found = problems(status, body, text, None, codes=("GRAPHQL_PARSE_FAILED",))
                if not body.get("errors", [{}])[0].get("locations"):
                    found.append("no location")
            else:
                found = problems(status, body, text, path_name((argument, *path)))
            if pool.acquired != acquired:
                found.append("took a database connection")
            if found:
                failures.append(f"{form} {bad!r}: {found}: {text[:300]}")
    assert not failures, f"{parent}.{name}({path_name((argument, *path))}):\n" + "\n".join(failures)
    assert await fingerprint(api.url) == before


@pytest.mark.parametrize("query, variables, field", [
    ('query($k: String = "\\u0000") { deployment(key: $k) { id } }', None, "$k"),
    ("{ deployment(key: $k) { id } }", None, None),  # undeclared: validation names it, not us
    ('query { deployment(key: """a\u0000b""") { id } }', None, "key"),
    ('query { deployment(key: "\\u{0}") { id } }', None, "key"),
    ("query($f: DeploymentFilter) { deployments(filter: $f) { totalCount } }",
     {"f": {"search": "ok", "s\u0000": 1}}, "filter"),
    ("query($k: String) { deployment(key: $k) { id } }", {"k": "ok", "unused": ["\ud800"]}, "$unused[0]"),
    ('query { deployments(after: "\\u0000") { totalCount } }', None, "after"),
    ('{ node(id: "RGVwbG95bWVudDox\\u0000") { id } }', None, "id"),
])
async def test_more_text_shapes(api, world, query, variables, field):
    CASES["text"] += 1
    status, body, text = await send(api, world["token"], query, variables)
    codes = ("GRAPHQL_VALIDATION_FAILED",) if field is None else ("BAD_USER_INPUT",)
    assert problems(status, body, text, field, codes) == [], text


async def test_operation_name_with_a_lone_surrogate_is_a_400(api, world):
    CASES["body"] += 1
    status, body, text = await send(api, world["token"], "query a { organizations { id } }", None, "a\ud800")
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", text
    assert "operationName" in body["errors"][0]["message"]


@pytest.mark.parametrize("query", ["# \ud800\n{ organizations { id } }", "{ organizations { id } }\u0000",
                                   '{ deployment(key: "\ud800") { id } }', '{ deployment(key: "\\uDC00\\uD800") { id } }'])
async def test_raw_surrogates_and_nul_in_the_document_are_syntax_errors(api, world, query):
    CASES["body"] += 1
    status, body, text = await send(api, world["token"], query)
    assert problems(status, body, text, None, codes=("GRAPHQL_PARSE_FAILED",)) == [], text
    assert status == 400 and body["errors"][0]["locations"]


# ---------------------------------------------------------------- bulk ingest rows

INGEST_FIELDS = ("externalId", "deploymentKey", "deploymentId", "topic", "channel", "startedAt", "aiEngaged",
                 "outcome", "resolvedAt", "reopenedAt")


def ingest_row(ext: str, **fields) -> dict:
    return {"externalId": ext, "deploymentKey": "bot-001", "topic": "returns", "channel": "CHAT",
            "startedAt": "2026-03-02T10:00:00Z", "aiEngaged": "true", "outcome": "AI_RESOLVED",
            "resolvedAt": "2026-03-02T10:04:00Z", "reopenedAt": ""} | fields


def csv_line(row: dict) -> str:
    return ",".join('"' + str(row.get(c, "")).replace('"', '""') + '"' for c in INGEST_FIELDS)


async def ingest(api: Api, token: str, body: bytes, content_type: str) -> tuple[int, dict, str]:
    response = await api.client.post("/ingest/conversations", content=body,
                                     headers={"authorization": f"Bearer {token}", "content-type": content_type})
    return response.status_code, response.json(), response.text


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
@pytest.mark.parametrize("column", INGEST_FIELDS)
async def test_ingest_rejects_nul_surrogates_and_bad_utf8_by_line(api, world, fmt, column):
    token = world["token"]
    failures = []
    # NUL, a lone surrogate (JSON escape, or its UTF-8-looking bytes), and bytes that are not UTF-8
    for label, value, raw in (("NUL", "a\u0000", None), ("lone surrogate", "a\ud800", None),
                              ("encoded surrogate", "a@", b"\xed\xa0\x80"), ("invalid UTF-8", "a@", b"\xff")):
        CASES["ingest"] += 1
        tag = f"{fmt}-{column}-{label}".replace(" ", "-")
        rows = [ingest_row(f"{tag}-1"), ingest_row(f"{tag}-2", **{column: value}), ingest_row(f"{tag}-3")]
        if fmt == "ndjson":
            body = "\n".join(json.dumps(r) for r in rows).encode() + b"\n"
            bad_line, content_type = 2, "application/x-ndjson"
        else:
            body = ("\n".join([",".join(INGEST_FIELDS)] + [csv_line(r) for r in rows]) + "\n").encode(
                "utf-8", "surrogatepass")
            bad_line, content_type = 3, "text/csv"
        if raw is not None:
            body = body.replace(b"a@", b"a" + raw)
        before = await fingerprint(api.url)
        status, result, text = await ingest(api, token, body, content_type)
        found = [f"leaks {leak!r}" for leak in LEAKS if leak in text]
        if status != 200 or result.get("accepted") != 2 or result.get("rejected") != 1:
            found.append(f"status {status}, accepted {result.get('accepted')}, rejected {result.get('rejected')}")
        elif [e["line"] for e in result["errors"]] != [bad_line] or not result["errors"][0]["reason"]:
            found.append(f"errors {result['errors']}")
        after = await fingerprint(api.url)
        if after["conversations"] == before["conversations"]:
            found.append("the two good rows were not written")
        conn = await connect(api.url)
        try:
            stored = await conn.fetchval("select count(*) from steward.conversations where external_id like $1",
                                         f"{tag}-2")
        finally:
            await conn.close()
        if stored:
            found.append("the bad row was written")
        if found:
            failures.append(f"{label}: {found}: {text[:300]}")
    assert not failures, "\n".join(failures)


def test_zz_case_count():
    """The number of malformed requests this module sent (the issue found 93 failing)."""
    if not CASES:
        pytest.skip("run the whole module to count")
    print(f"\nmalformed-input cases: {sum(CASES.values())} ({dict(CASES)})")
