"""One glossary for the arguments many fields share (Relay paging, windows, filters).

Resolvers describe an argument inline when its meaning is their own; the rest take
their description from here when the schema is built, so `first` means the same
thing on every connection and no argument is left undocumented (tests/api/test_sdl.py).
"""
from __future__ import annotations

from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema

ARGUMENTS = {
    "id": "Global ID (opaque; as returned in `id` fields).",
    "slug": "Organization slug: yours (any other is NOT_FOUND, like an unknown one).",
    "orgSlug": "Organization slug; defaults to the token's own (any other is NOT_FOUND).",
    "key": "Deployment key, unique in its organization (with `orgSlug`, or the token's organization).",
    "filter": "Only the items that match every given condition; unset conditions match all.",
    "orderBy": "Sort key and direction (ties broken by id, so pages never skip or repeat an item).",
    "first": "Page size from the start or from `after` (0 to 100; default 20). Not with `last`.",
    "after": "Cursor: the page starts after this item (from `pageInfo.endCursor` or an edge's `cursor`).",
    "last": "Page size from the end or before `before` (0 to 100). Not with `first`.",
    "before": "Cursor: the page ends before this item (from `pageInfo.startCursor` or an edge's `cursor`).",
    "window": "Half-open UTC date window `{from, to}`, or `{lastDays}` (the last N UTC days, today included).",
    "kind": "Only updates of this kind.",
}


def describe_arguments(schema: GraphQLSchema) -> None:
    """Fill in the glossary's description of every argument that has none of its own."""
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or not isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType)):
            continue
        for field in gql_type.fields.values():
            for arg_name, arg in field.args.items():
                if not arg.description and arg_name in ARGUMENTS:
                    arg.description = ARGUMENTS[arg_name]
