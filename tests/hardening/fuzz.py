"""What every fuzzed response must be, the world's global IDs and tokens, and the hostile values shared by the
generated fuzz (test_fuzz_schema.py) and the hand-written corpus (test_fuzz_corpus.py)."""
from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, Node, StringValueNode, build_schema, parse

from schema.relay import to_global_id
from service.auth import SCOPES
from service.db.pool import connect

from ..api.conftest import make_token

SDL = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
SCHEMA: GraphQLSchema = build_schema(SDL)  # the committed SDL: what clients see

# A refused limit is an answer, not a failure.
LIMIT_CODES = frozenset({"QUERY_TOO_DEEP", "QUERY_TOO_COSTLY", "TOO_MANY_TOKENS", "TOO_MANY_ALIASES",
                         "TOO_MANY_DIRECTIVES", "PAYLOAD_TOO_LARGE"})
# Traces of the database or of Python in a message written for a caller.
LEAKS = re.compile(r"traceback|file \"|select |insert into|update \S+ set|delete from|steward\.|asyncpg|psycopg"
                   r"|violates|constraint|relation \"|sqlstate|postgres", re.IGNORECASE)

# The tables behind each Node type, to read the world's rows as the database owner (no row-level security).
NODE_TABLES = {"Organization": "organizations", "Person": "persons", "Deployment": "deployments",
               "OwnershipAssignment": "ownership_assignments", "Topic": "topics", "Workflow": "workflows",
               "WorkflowUpdate": "workflow_updates", "Review": "performance_reviews",
               "OwnershipChange": "ownership_changes", "HealthEvent": "health_events"}


class Cases(Counter):
    """Cases run, by kind; printed in the run's "hardening figures"."""

    def __str__(self) -> str:
        return f"{sum(self.values())} ({', '.join(f'{kind} {n}' for kind, n in sorted(self.items()))})"


@dataclass
class World:
    """Global IDs by type of the test org (`acme`) and of the other tenant (`globex`), and acme's tokens."""

    ids: dict[str, list[str]]
    foreign: dict[str, list[str]]
    tokens: dict[str, str]

    def first(self, type_name: str) -> str:
        """A real ID of acme's, or a well-formed ID of a row that does not exist when acme has none."""
        ids = self.ids.get(type_name) or [to_global_id(type_name, 2**31)]
        return ids[1 if len(ids) > 1 else 0]

    @property
    def all_ids(self) -> list[str]:
        return [i for ids in self.ids.values() for i in ids]

    @property
    def foreign_ids(self) -> list[str]:
        return [i for ids in self.foreign.values() for i in ids]

    @property
    def secrets(self) -> list[str]:
        """What no answer to acme may show unless the request said it: the other tenant's rows."""
        return self.foreign_ids + ["secret-bot", "Globex Owner"]


async def load_world(db_url: str) -> World:
    ids: dict[str, list[str]] = {}
    foreign: dict[str, list[str]] = {}
    conn = await connect(db_url)
    try:
        for type_name, table in NODE_TABLES.items():
            org = "id" if table == "organizations" else "org_id"
            rows = await conn.fetch(f"select t.id, o.slug from steward.{table} t"
                                    f" join steward.organizations o on o.id = t.{org} order by t.id")
            for row in rows:
                target = ids if row["slug"] == "acme" else foreign
                target.setdefault(type_name, []).append(to_global_id(type_name, row["id"]))
    finally:
        await conn.close()
    tokens = {scope: await make_token(db_url, "acme", scope) for scope in SCOPES}
    return World(ids, foreign, tokens)


def codes(body: dict) -> list[str]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or ()]


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):  # keys too: an unknown input field's name is echoed in its error
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _literals(document: str) -> list[str]:
    """The string literals of a document (none if it does not parse)."""
    try:
        return [node.value for node in _walk(parse(document)) if isinstance(node, StringValueNode)]
    except GraphQLError:
        return []


def _walk(node):
    yield node
    for key in node.keys:
        child = getattr(node, key, None)
        for item in child if isinstance(child, (tuple, list)) else (child,):
            if isinstance(item, Node):
                yield from _walk(item)


def _messages(value) -> list[str]:
    """Every `message` written for the caller: top-level errors and typed payload errors in `data`."""
    if isinstance(value, dict):
        own = [json.dumps(value.get("extensions", {}))] + ([value["message"]] if isinstance(
            value.get("message"), str) else [])
        return own + [m for k, v in value.items() if k not in ("message", "extensions") for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return []


def _scrub(text: str, sent: list[str]) -> str:
    """Drop what the request itself said: an echoed input is not a leak."""
    for s in sorted({s for s in sent if len(s) >= 3}, key=len, reverse=True):
        for form in (s, repr(s)[1:-1], json.dumps(s)[1:-1]):
            text = text.replace(form, "")
    return text


def problems(response, document: str, variables: dict | None = None, secrets: list[str] = ()) -> list[str]:
    """What is wrong with this response; [] when it is a sound GraphQL answer that shows none of `secrets`."""
    found = []
    if response.status_code >= 500:
        found.append(f"HTTP {response.status_code}")
    sent = [document] + _literals(document) + _strings(variables or {})
    scrubbed = _scrub(response.text, sent)
    if re.search(r"traceback|file \"", scrubbed, re.IGNORECASE):
        found.append("stack trace")
    # whole tokens only: `Deployment:4` is a prefix of `Deployment:41`'s global ID
    found += [f"other tenant's {secret!r}" for secret in secrets
              if re.search(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", scrubbed)]
    try:
        body = response.json()
    except ValueError:
        return found + ["not JSON"]
    if not isinstance(body, dict) or not ("data" in body or body.get("errors")):
        return found + ["not a GraphQL response"]
    if any(not isinstance(e, dict) or not isinstance(e.get("message"), str) for e in body.get("errors") or ()):
        found.append("malformed errors")
    for code in ("INTERNAL_SERVER_ERROR", "TIMEOUT"):  # a few rows: no chosen input may take 5 s of database
        if code in codes(body):
            found.append(code)
    for message in _messages(body):
        leak = LEAKS.search(_scrub(message, sent))
        if leak:
            found.append(f"leak {leak.group(0)!r} in {message[:200]!r}")
    return found


async def send(api, document: str, variables: dict | None = None, token: str | None = None):
    """POST like a client whose JSON encoder escapes everything (httpx's own refuses lone surrogates)."""
    body = {"query": document} | ({"variables": variables} if variables is not None else {})
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
    return await api.client.post("/graphql", content=json.dumps(body), headers=headers)


def assert_sound(response, document: str, variables: dict | None = None, secrets: list[str] = ()) -> None:
    found = problems(response, document, variables, secrets)
    assert not found, f"{found}\ndocument: {document}\nvariables: {variables!r}\nresponse: {response.text[:2000]}"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()


# Hostile values. NUL and lone surrogates cannot be stored by PostgreSQL nor encoded as UTF-8.
BAD_STRINGS = ["a\u0000b", "\ud800", "x\udfffy", "x" * 5000]
BAD_IDS = BAD_STRINGS[:-1] + ["", "0", "-1", b64("Deployment:0"), b64("Deployment:-1"), b64("Person:1e3"),
                              b64("Deployment:99999999999999999999"), b64("Deployment: 1"), b64("Nope:1"),
                              b64("Deployment:\u0000"), "%%%", "Deployment:1"]
BAD_DATES = ["0001-01-01", "9999-12-31", "0000-01-01", "10000-01-01", "2024-02-30", "infinity", "-infinity",
             "2024-01-01T00:00:00Z", "", "\u0000"]
BAD_DATETIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00Z",
                 "9999-12-31T23:59:59.999999Z", "0001-01-01", "9999-12-31", "infinity", "-infinity",
                 "2024-01-01T00:00:00", "2024-01-01T25:00:00Z", "1900-01-01T00:00:00+14:00", "", "\u0000"]
BAD_WINDOWS = ([{"from": d, "to": "2025-01-01"} for d in BAD_DATES[:5]] + [{"from": "2024-01-01", "to": d}
                                                                            for d in BAD_DATES[:5]]
               + [{"from": "0001-01-01", "to": "9999-12-31"}, {"from": "9999-12-31", "to": "0001-01-01"},
                  {"from": "9999-12-01", "to": "9999-12-31"}, {"from": "0001-01-01", "to": "0001-01-08"},
                  {"lastDays": 2147483647}, {"lastDays": 3660}, {"lastDays": 0}, {"lastDays": -1}, {},
                  {"from": "2024-01-01"}, {"lastDays": 30, "from": "2024-01-01"}])
# Cursors: (label, cursor, malformed whatever the order). Well-formed `[value, pk]` with a nonsense value are
# what a generator does not reach.
BAD_CURSORS = [
    ("x-1", b64('["x",1]'), False),
    ("inf", "inf", True),
    ("b64-inf", b64("inf"), True),
    ("Infinity", b64("[Infinity,1]"), False),
    ("NaN", b64("[NaN,1]"), False),
    ("object", b64("{}"), True),
    ("true", b64("true"), True),
    ("x-1e29", b64('["x",1e29]'), True),
    ("x-10**29", b64('["x",100000000000000000000000000000]'), True),
    ("x-neg", b64('["x",-9223372036854775809]'), True),
    ("1e400", b64("[1e400,1]"), False),
    ("null", b64("[null,1]"), False),
    ("list", b64("[[],1]"), False),
    ("dict", b64('[{"a":1},1]'), False),
    ("date-0001", b64('["0001-01-01T00:00:00+01:00",1]'), False),
    ("date-9999", b64('["9999-12-31T23:00:00-05:00",1]'), False),
    ("nul", b64('["a\\u0000b",1]'), False),
    ("surrogate", b64('["\\ud800",1]'), False),
    ("raw-surrogate", b64('["') + "\udc80", True),
    ("nested-5000", b64("[" * 5000), True),
    ("not-base64", "\u0000\ud800", True),
    ("three", b64('["x",1,2]'), True),
]
