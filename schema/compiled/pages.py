"""Connections and windows in compiled SQL: the same statements, cursors and checks as schema/relay.py.

Every check the resolvers make on arguments (page sizes, cursors, windows, global IDs) runs here first,
through the resolvers' own functions; one that would fail raises Unsupported, and Strawberry then
reports the error exactly as it always has.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from graphql import FieldNode, GraphQLField, GraphQLObjectType

from schema.compiled.walk import SQL, Page, Unsupported, Walk, fill, object_type
from schema.relay import PageRequest, Sort, keyset_args, page_request
from schema.windows import MAX_WINDOW_DAYS, check_range
from service.sql_files import load

SHARED = load("schema", "queries.sql")


def guarded(check: Any, *args: Any, **kwargs: Any) -> Any:
    """A resolver's check; any error it raises means: let Strawberry answer."""
    try:
        return check(*args, **kwargs)
    except Exception as exc:  # the error is Strawberry's to report, in its own shape
        raise Unsupported(str(exc)) from None


def org_checked(walk: Walk, slug: str | None) -> str:
    """schema/organizations/types.py org_id_for: another organization's slug is NOT_FOUND (left to Strawberry)."""
    if slug is not None and slug != walk.principal.org_slug:
        raise Unsupported("orgSlug")
    return walk.param(walk.principal.org_id, "bigint")


def today() -> str:
    """Today (UTC) as the database sees it: the resolvers' own statement, as a scalar subquery."""
    return f"({fill(SHARED['today'])})"


def window(walk: Walk, value: dict[str, Any] | None, default_days: int, field: str = "window") -> tuple[str, str]:
    """SQL for [start, end) of a WindowInput (schema/windows.py resolve_window), checked the same way."""
    if value is None:
        value = {"from": None, "to": None, "lastDays": default_days}
    last_days, start, end = value.get("lastDays"), value.get("from"), value.get("to")
    if last_days is not None:
        if start is not None or end is not None or not 1 <= last_days <= MAX_WINDOW_DAYS:
            raise Unsupported("window")
    else:
        guarded(check_range, start, end, field)
    return dates(walk, last_days, start, end)


def dates(walk: Walk, last_days: int | None, start: date | None, end: date | None) -> tuple[str, str]:
    ld = walk.param(last_days, "integer")
    return (fill(SQL["window_start"], [ld, walk.param(start, "date"), today()]),
            fill(SQL["window_end"], [ld, walk.param(end, "date"), today()]))


def page(walk: Walk, arguments: dict[str, Any]) -> PageRequest:
    return guarded(page_request, arguments.get("first"), arguments.get("after"), arguments.get("last"),
                   arguments.get("before"), walk.settings.max_page_size)


def keyset(walk: Walk, sort: Sort, request: PageRequest) -> list[str]:
    """The six keyset parameters of a paged statement (relay.keyset_args), as statement parameters."""
    values = guarded(keyset_args, sort, request)
    casts = ("text", "bigint", "text", "bigint", "boolean", "bigint")
    return [walk.param(v, c) for v, c in zip(values, casts, strict=True)]


def cursor_value(walk: Walk, sort: Sort, row: str) -> str:
    """The JSON text of a row's sort value, as encode_cursor writes it."""
    value = f"{row}.{sort.column}"
    if sort.sql_type == "text":
        return fill(SQL["json_ascii"], [value])
    if sort.sql_type == "timestamptz":
        return f"'\"' || ({fill(SQL['instant_text'], [value])}) || '\"'"
    return f"({value})::text"


def connection(walk: Walk, nodes: Sequence[FieldNode], definition: GraphQLField, statement: str, count: str,
               sort: Sort, request: PageRequest) -> str:
    """A Relay connection over a paged statement (limit + 1 rows) and its count statement."""
    conn_type = object_type(definition)
    row = walk.alias()
    limit = walk.param(request.limit, "bigint")
    backward = walk.param(request.backward, "boolean")
    node_columns: list[str] = []

    def node_of(edge_nodes: Sequence[FieldNode], edge_type: GraphQLObjectType) -> str:
        node_type = object_type(edge_type.fields["node"])
        node_columns.append(walk.selection(node_type, edge_nodes, row))
        return f"e._node{len(node_columns)}"

    parts = []
    outer, walk.page = walk.page, Page(row, limit)
    page_of_nodes = walk.page
    for key, field_nodes in walk.collect(conn_type, [n.selection_set for n in nodes]).items():
        name = field_nodes[0].name.value
        if name == "totalCount":
            value = f"to_json(({count}))"
        elif name == "edges":
            edge_type = object_type(conn_type.fields["edges"])
            edge_parts = []
            for edge_key, edge_nodes in walk.collect(edge_type, [n.selection_set for n in field_nodes]).items():
                edge_field = edge_nodes[0].name.value
                if edge_field == "cursor":
                    edge_value = "e._cursor"
                elif edge_field == "__typename":
                    edge_value = f"to_json({walk.param(edge_type.name, 'text')})"
                else:
                    edge_value = node_of(edge_nodes, edge_type)
                edge_parts.append(f"{walk.param(edge_key, 'text')}, {edge_value}")
            value = fill(SQL["connection_edges"], [backward], json=f"json_build_object({', '.join(edge_parts)})")
        elif name == "pageInfo":
            value = page_info(walk, field_nodes, object_type(conn_type.fields["pageInfo"]), request, limit, backward)
        elif name == "__typename":
            value = f"to_json({walk.param(conn_type.name, 'text')})"
        else:
            raise Unsupported(f"{conn_type.name}.{name}")
        parts.append(f"{walk.param(key, 'text')}, {value}")
    walk.page = outer
    node = ", ".join(f"{c} as _node{i}" for i, c in enumerate(node_columns, 1)) or "null as _node0"
    return fill(SQL["connection"], [statement, limit], row=row,
                cursor=fill(SQL["cursor"], [cursor_value(walk, sort, row), f"{row}.id"]),
                node=node, json=f"json_build_object({', '.join(parts)})", batches=" ".join(page_of_nodes.batches))


def page_info(walk: Walk, nodes: Sequence[FieldNode], info_type: GraphQLObjectType, request: PageRequest,
              limit: str, backward: str) -> str:
    more = fill(SQL["connection_has_more"], [limit])
    values = {  # parameters made only when used: PostgreSQL cannot type an unused one
        "hasNextPage": lambda: (f"to_json(case when {backward} then "
                                f"{walk.param(request.before is not None, 'boolean')} else {more} end)"),
        "hasPreviousPage": lambda: (f"to_json(case when {backward} then {more} "
                                    f"else {walk.param(request.after is not None, 'boolean')} end)"),
        "startCursor": lambda: fill(SQL["connection_start"], [backward]),
        "endCursor": lambda: fill(SQL["connection_end"], [backward]),
        "__typename": lambda: f"to_json({walk.param(info_type.name, 'text')})",
    }
    parts = [f"{walk.param(key, 'text')}, {values[field_nodes[0].name.value]()}"
             for key, field_nodes in walk.collect(info_type, [n.selection_set for n in nodes]).items()]
    return f"json_build_object({', '.join(parts)})"
