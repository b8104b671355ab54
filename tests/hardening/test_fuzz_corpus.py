"""A hand-written corpus of hostile values, put in every argument of its kind that the committed schema has.

What generators do not reach: malformed and well-formed-but-nonsense cursors in every `after`/`before` (under
every order of `deployments`), NUL and lone surrogates in every String and ID, out-of-range and overflowing
instants in every Date and DateTime, and absurd windows. Sites are found by walking schema.graphql, so a new
argument is covered without a change here. Each value is sent as a variable (JSON can carry what a GraphQL
literal cannot) through HTTP with an admin token; the answer must be sound (see fuzz.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
    is_required_argument,
    is_required_input_field,
)

from .conftest import FIGURES
from .fuzz import (
    BAD_CURSORS,
    BAD_DATES,
    BAD_DATETIMES,
    BAD_IDS,
    BAD_STRINGS,
    BAD_WINDOWS,
    SCHEMA,
    Cases,
    World,
    assert_sound,
    codes,
    send,
)

CASES = Cases()
FIGURES["corpus cases"] = CASES


class Real:
    """A placeholder for a real global ID of the world, known only once the module's world is built."""

    def __init__(self, type_name: str, foreign: bool = False):
        self.type_name, self.foreign = type_name, foreign

    def resolve(self, world: World) -> str:
        return world.foreign[self.type_name][0] if self.foreign else world.first(self.type_name)


# How to reach a type's fields from the root: (prefix, suffix, operation) around the field's selection.
REACH = {
    "Query": ("", "", "query"),
    "Mutation": ("", "", "mutation"),
    "Organization": ('organization(slug: "acme") { ', " }", "query"),
    "Deployment": ('deployment(key: "bot-001") { ', " }", "query"),
    "Person": ("node(id: {Person}) {{ ... on Person {{ ", " }} }}", "query"),
}


def id_type(input_type: str, field: str) -> str:
    """The Node type an ID input field names (`deploymentId` → Deployment; `UpdatePersonInput.id` → Person)."""
    if field == "id":
        return input_type.removeprefix("Update").removesuffix("Input")
    return {"reviewer": "Person", "author": "Person", "owner": "Person", "successor": "Person",
            "event": "HealthEvent"}.get(
        field.removesuffix("Id"), field.removesuffix("Id")[:1].upper() + field.removesuffix("Id")[1:])


def good(type_, name: str, parent: str, n: int) -> Any:
    """A valid value for a required argument or input field, so that only the hostile value is at fault."""
    type_ = getattr(type_, "of_type", type_) if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(type_, GraphQLList):
        return [good(type_.of_type, name, parent, n)]
    if isinstance(type_, GraphQLInputObjectType):
        return {f: good(field.type, f, type_.name, n) for f, field in type_.fields.items()
                if is_required_input_field(field)}
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    return {"ID": Real(id_type(parent, name)), "String": f"fuzz-{n}", "Int": 5, "Float": 0.5,
            "Boolean": True, "Date": "2025-01-01", "DateTime": "2025-01-01T00:00:00Z"}[type_.name]


def selection(type_, depth: int = 0) -> str:
    """Enough of the returned type to make its resolvers run: its leaves, edges and cursors, error messages."""
    named = get_named_type(type_)
    if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
        return ""
    if isinstance(named, (GraphQLUnionType, GraphQLInterfaceType)):
        parts = ["__typename"] + [f"... on {t.name} {selection(t, depth)}" for t in SCHEMA.get_possible_types(named)]
        return "{ " + " ".join(parts) + " }"
    parts = ["__typename"]
    for name, field in named.fields.items():
        if any(is_required_argument(a) for a in field.args.values()):
            continue
        target = get_named_type(field.type)
        if isinstance(target, (GraphQLScalarType, GraphQLEnumType)):
            parts.append(name)
        elif name == "edges":
            parts.append("edges { cursor node { __typename } }")
        elif name == "pageInfo" or depth == 0:
            parts.append(f"{name} {selection(field.type, depth + 1)}")
    return "{ " + " ".join(parts) + " }"


@dataclass
class Case:
    id: str
    parent: str
    field: str
    argument: str
    type_name: str  # the argument's declared type, e.g. `DeploymentFilter` or `AssignOwnerInput!`
    value: Any  # the argument's value, with the hostile value inside
    malformed: bool = False  # the answer must be BAD_USER_INPUT, whatever the order
    extra: str = ""  # more literal arguments (e.g. an order)

    def document(self, world: World) -> str:
        prefix, suffix, operation = REACH[self.parent]
        if self.parent == "Person":
            prefix, suffix = (s.format(Person=f'"{world.first("Person")}"') for s in (prefix, suffix))
        field = SCHEMA.get_type(self.parent).fields[self.field]
        args = [f"{self.argument}: $v"] + ([self.extra] if self.extra else []) + [
            f"{name}: {_literal(good(a.type, name, self.parent, 0), world)}" for name, a in field.args.items()
            if is_required_argument(a) and name != self.argument]
        return (f"{operation} fuzz($v: {self.type_name}) {{ {prefix}{self.field}({', '.join(args)})"
                f" {selection(field.type)}{suffix} }}")

    def variables(self, world: World) -> dict:
        return {"v": _resolve(self.value, world)}


def _resolve(value, world: World):
    if isinstance(value, Real):
        return value.resolve(world)
    if isinstance(value, dict):
        return {k: _resolve(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, world) for v in value]
    return value


def _literal(value, world: World) -> str:
    return json.dumps(_resolve(value, world))


def hostile(type_name: str) -> list[tuple[str, Any]]:
    values = {"String": BAD_STRINGS, "ID": BAD_IDS + [Real(t, foreign=True) for t in ("Deployment", "Person")],
              "Date": BAD_DATES, "DateTime": BAD_DATETIMES, "WindowInput": BAD_WINDOWS}[type_name]
    return [(_label(v), v) for v in values]


def _label(value) -> str:
    if isinstance(value, Real):
        return f"globex-{value.type_name}"
    if isinstance(value, str) and len(value) > 40:
        value = f"{value[:5]}...({len(value)} chars)"
    return json.dumps(value, separators=(",", ":"))


def positions(type_, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Where hostile values go inside an argument of `type_`: (path of input fields, kind)."""
    named = get_named_type(type_)
    if named.name in ("String", "ID", "Date", "DateTime", "WindowInput"):
        return [(path, named.name)]
    if isinstance(named, GraphQLInputObjectType):
        return [p for name, f in named.fields.items() for p in positions(f.type, path + (name,))]
    return []


def place(arg_type, path: tuple[str, ...], bad: Any, parent: str, name: str) -> Any:
    """The argument's value: valid required fields around `bad` at `path`."""
    if not path:
        return [bad] if isinstance(getattr(arg_type, "of_type", arg_type), GraphQLList) else bad
    named = get_named_type(arg_type)
    value = good(arg_type, name, parent, 0) if isinstance(arg_type, GraphQLNonNull) else {}
    value[path[0]] = place(named.fields[path[0]].type, path[1:], bad, named.name, path[0])
    return value


def cases() -> list[Case]:
    found = []
    for parent in REACH:
        for fname, field in SCHEMA.get_type(parent).fields.items():
            for aname, arg in field.args.items():
                site = f"{parent}.{fname}({aname}"
                if aname in ("after", "before"):
                    for label, cursor, malformed in BAD_CURSORS:
                        found.append(Case(f"{site})={label}", parent, fname, aname, str(arg.type), cursor, malformed))
                    # a well-formed cursor's value is read as the order's type: try each order
                    orders = SCHEMA.get_type("DeploymentOrderField").values if "orderBy" in field.args else ()
                    for order in orders if aname == "after" else ():
                        for label, cursor, _ in (c for c in BAD_CURSORS if not c[2]):
                            found.append(Case(f"{site}){order}={label}", parent, fname, aname, str(arg.type), cursor,
                                              extra=f"orderBy: {{field: {order}, direction: ASC}}"))
                    continue
                for path, kind in positions(arg.type):
                    for label, bad in hostile(kind):
                        found.append(Case(f"{site}{'.'.join(('',) + path)})={label}", parent, fname, aname,
                                          str(arg.type), place(arg.type, path, bad, parent, aname)))
    return found


CASES_OF_SCHEMA = cases()


@pytest.mark.parametrize("case", CASES_OF_SCHEMA, ids=[c.id for c in CASES_OF_SCHEMA])
async def test_hostile_value(api, world, case: Case):
    document, variables = case.document(world), case.variables(world)
    CASES["cursors" if case.argument in ("after", "before") else case.argument] += 1
    response = await send(api, document, variables, world.tokens["admin"])
    assert_sound(response, document, variables, world.secrets)
    if case.malformed:
        assert "BAD_USER_INPUT" in codes(response.json()), response.text[:2000]


def test_every_kind_of_site_is_covered():
    kinds = {c.argument for c in CASES_OF_SCHEMA}
    assert {"after", "before", "id", "slug", "key", "window", "from", "to", "filter", "input"} <= kinds
