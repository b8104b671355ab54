"""Leaf values and nested objects of a compiled selection: the emitters the registry is made of.

Each emitter reads the statements the resolvers run (each domain's queries.sql) and the fragments of
compiled.sql, so a value is read from the same view or function by both paths.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphql import FieldNode, GraphQLField, GraphQLNonNull

from schema.compiled.walk import SQL, Emit, Walk, fill, object_type


def to_json(expression: str) -> str:
    return f"to_json({expression})"


def column(name: str, kind: str = "json") -> Emit:
    """A column of the parent's row, written as the field's scalar writes it."""
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        return scalar(walk, f"{row}.{name}", kind)
    return emit


def scalar(walk: Walk, expression: str, kind: str) -> str:
    if kind == "json":  # Int, String, Boolean, Date, enums and lists of them: as PostgreSQL writes them
        return to_json(expression)
    if kind == "float":  # a double, as Python's float() of the value would be
        return to_json(f"({expression})::float8")
    if kind == "instant":
        return fill(SQL["instant"], [expression])
    raise ValueError(kind)


def global_id(type_name: str, column_name: str = "id") -> Emit:
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        return fill(SQL["global_id"], [walk.param(type_name, "text"), f"{row}.{column_name}"])
    return emit


def present_or_missing(walk: Walk, value: str, definition: GraphQLField, what: str) -> str:
    """A non-null object the resolvers would fail on when absent (`present()`): fail the statement then."""
    if not isinstance(definition.type, GraphQLNonNull):
        return value
    return f"coalesce({value}, {fill(SQL['missing'], [walk.param(what, 'text')])})"


# a statement's arguments: given the walk, the parents' ids (a bigint[] expression) and the field's arguments
Args = Callable[[Walk, str, dict[str, Any]], Sequence[str]]


def nested(statement: str, args: Args, many: bool = False, what: str = "the object", parent: str = "id",
           key: str | None = None) -> Emit:
    """An object (the first row) or a list (every row, in order) of `statement` for the parent's `parent`
    column, its `$n` from `args`. With `key` (the column naming the parent in its rows), the nodes of a
    page read it once for the whole page, as the resolvers' loaders do."""
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        arguments = walk.arguments(definition, nodes[0])
        source = key and walk.batch(row, lambda ids: fill(statement, args(walk, ids, arguments)), key,
                                    f"{row}.{parent}")
        if not source:
            source = fill(statement, args(walk, f"array[{row}.{parent}]::bigint[]", arguments))
        alias = walk.alias()
        json = walk.selection(object_type(definition), nodes, alias)
        value = fill(SQL["list" if many else "object"], [source], row=alias, json=json)
        return value if many else present_or_missing(walk, value, definition, what)
    return emit


def computed(expression: Callable[[Walk, str], str], kind: str = "json") -> Emit:
    """A leaf computed from the parent's row (a fragment of its own)."""
    def emit(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
        return scalar(walk, expression(walk, row), kind)
    return emit


def inline(fields: dict[str, Emit]) -> dict[str, Emit]:
    return fields


def same_row(walk: Walk, row: str, nodes: Sequence[FieldNode], definition: GraphQLField) -> str:
    """An object built from the parent's own row (Window of a metrics row, Metrics of a weekly row)."""
    return walk.selection(object_type(definition), nodes, row)
