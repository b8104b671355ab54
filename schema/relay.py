"""Relay conventions: global IDs, the Node interface, keyset-paginated cursor connections."""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import strawberry

from schema.errors import bad_input, not_found
from schema.info import Info
from schema.text import text_problem

T = TypeVar("T")


# IDs and cursors are standard, padded base64 (RFC 4648 section 4), as graphql-relay writes them, so any
# base64 decoder reads them. Decoding also takes the URL-safe, unpadded form that IDs had before 0.2.


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{pk}".encode()).decode())


def from_global_id(global_id: str, *expected: str, field: str = "id") -> tuple[str, int]:
    """Decode a global ID; malformed → BAD_USER_INPUT, another type than expected → NOT_FOUND."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, pk = raw.partition(":")
        value = int(pk)
        if not type_name or value <= 0 or value >= 2**63:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_input(f"{global_id!r} is not a valid global ID", field) from None
    if expected and type_name not in expected:
        raise not_found(" or ".join(expected), field)
    return type_name, value


@strawberry.interface(description="An object with a global ID (Relay): standard padded base64 of `Type:number`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


@strawberry.type(description="Where a page sits in its connection (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="More items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item of the page.")


@strawberry.type(description="A node with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position, for `after` and `before`.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list, with cursors (Relay cursor connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, with cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of items in the whole list (all pages), filters applied.")
    async def total_count(self) -> int:
        return await self._count()


@dataclass(frozen=True)
class PageRequest:
    """Validated first/after/last/before."""

    limit: int
    backward: bool
    after: tuple[Any, int] | None
    before: tuple[Any, int] | None

    @property
    def from_start(self) -> bool:
        """The first page, forward: what the batched first pages of a nested list answer (Loaders.first_pages)."""
        return self.after is None and self.before is None and not self.backward


def encode_cursor(sort_value: Any, pk: int) -> str:
    return base64.b64encode(json.dumps([sort_value, pk], default=str).encode()).decode()


# A cursor we issue is base64 of `[sort value, id]`; the longest (a 200-character name of
# astral characters, escaped) is under 3,300 characters. Longer ones are refused unread.
MAX_CURSOR = 4096


def decode_cursor(cursor: str, field: str) -> tuple[Any, int]:
    """`[sort value, id]` from a cursor: a scalar value and an id that fits bigint, or BAD_USER_INPUT."""
    invalid = bad_input(f"`{field}` is not a valid cursor", field)
    if len(cursor) > MAX_CURSOR:
        raise invalid
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError):  # "[[[[…" past the stack
        raise invalid from None
    if not (isinstance(decoded, list) and len(decoded) == 2):
        raise invalid
    value, pk = decoded
    if not _is_int(pk) or not 0 < pk < 2**63 or not isinstance(value, (str, int, float, bool, type(None))):
        raise invalid
    return value, pk


def page_request(first: int | None, after: str | None, last: int | None, before: str | None,
                 max_size: int, default: int = 20) -> PageRequest:
    if first is not None and last is not None:
        raise bad_input("pass either `first` or `last`, not both", "first")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value < 0:
            raise bad_input(f"`{name}` must not be negative", name)
        if value is not None and value > max_size:
            raise bad_input(f"`{name}` is {value}; the largest page is {max_size}", name)
    return PageRequest(
        limit=last if last is not None else (first if first is not None else default),
        backward=last is not None,
        after=decode_cursor(after, "after") if after else None,
        before=decode_cursor(before, "before") if before else None,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_cursor(bits: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return str(value) if _is_int(value) and -(2 ** (bits - 1)) <= value < 2 ** (bits - 1) else None
    return check


def _text_cursor(value: Any) -> str | None:
    return value if isinstance(value, str) and text_problem(value) is None else None


# What encode_cursor writes for a timestamptz (datetime.isoformat); fromisoformat alone is lenient
# (Python 3.11 skips a NUL before the offset).
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d(:\d\d)?)")


def _timestamptz_cursor(value: Any) -> str | None:
    """ISO 8601 with an offset, as encode_cursor writes it, normalized to UTC (year 1 to 9999)."""
    if not isinstance(value, str) or not ISO_INSTANT.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC).isoformat()
    except (ValueError, OverflowError):  # not ISO 8601, or its offset moves it out of range
        return None


# For each SQL type a sort may use: the cursor value as text that casts to it, or None if it does not.
CURSOR_TYPES: dict[str, Callable[[Any], str | None]] = {
    "text": _text_cursor,
    "timestamptz": _timestamptz_cursor,
    "integer": _int_cursor(32),
    "bigint": _int_cursor(64),
}


@dataclass(frozen=True)
class Sort:
    """The sort key of a paged statement: the column its rows are ordered by (cursors carry its value), its SQL type."""

    column: str
    sql_type: str
    descending: bool = False

    def __post_init__(self) -> None:
        if self.sql_type not in CURSOR_TYPES:  # a new sort type needs its cursor check first
            raise ValueError(f"no cursor check for SQL type {self.sql_type!r}")

    def bind(self, value: Any, field: str) -> str:
        """The cursor's sort value as text that casts to `sql_type`; BAD_USER_INPUT if it is not one."""
        text = CURSOR_TYPES[self.sql_type](value)
        if text is None:
            raise bad_input(f"`{field}` is not a cursor of this list in its current order", field)
        return text


def keyset_args(sort: Sort, page: PageRequest) -> list[Any]:
    """The six parameters every paged statement ends with (its keyset pagination, ties broken by id).

    In order: the sort value (as text, cast in SQL) and id that rows must lie strictly above, the
    value and id they must lie strictly below (both null when there is no such cursor), whether to
    return them in descending order, and how many (the page and one more, to tell if there is more).
    """
    bounds: dict[bool, tuple[str | None, int | None]] = {True: (None, None), False: (None, None)}
    for cursor, is_after in ((page.after, True), (page.before, False)):
        if cursor is None:
            continue
        # after → beyond the cursor in sort order; before → ahead of it
        # the sort value travels as text and is cast in SQL, whatever its type: checked here, before any SQL
        bounds[is_after != sort.descending] = (sort.bind(cursor[0], "after" if is_after else "before"), cursor[1])
    return [*bounds[True], *bounds[False], sort.descending != page.backward, page.limit + 1]


def connection(rows: list, page: PageRequest, sort: Sort, build: Callable[[Any], T],
               count: Callable[[], Awaitable[int]]) -> Connection[T]:
    """Turn the limit+1 rows of a paged statement (see keyset_args) into a Connection."""
    has_more = len(rows) > page.limit
    rows = list(rows[: page.limit])
    if page.backward:
        rows.reverse()
    edges = [Edge(cursor=encode_cursor(_cursor_value(r[sort.column]), r["id"]), node=build(r)) for r in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_more if not page.backward else page.before is not None,
            has_previous_page=has_more if page.backward else page.after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )


def _cursor_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@dataclass(frozen=True)
class NestedList:
    """A list under each parent (a deployment's reviews, a person's updates): the statements that read it."""

    parent: str  # the column that names the parent
    first_pages: str  # the first page of many parents: $1 the parents, then the filters, the limit, the org
    sizes: str  # (parent, n) of many parents: $1 the parents, then the filters, then the org
    page: str  # any page of one parent: its own arguments, then the keyset ones (keyset_args), then the org


async def nested_connection(info: Info, nested: NestedList, parent_id: int, page: PageRequest, sort: Sort,
                            build: Callable[[Any], T], filters: tuple = (), page_args: tuple = ()) -> Connection[T]:
    """One parent's page of a nested list; first pages (the common case) are batched across parents."""
    ctx = info.context
    org = ctx.principal.org_id  # the last argument of each of the three statements (docs/scale-out.md)
    counts = ctx.loaders.counts(nested.sizes, (*filters, org))
    if page.from_start:
        rows = await ctx.loaders.first_pages(nested.first_pages, nested.parent,
                                             (*filters, page.limit + 1, org)).load(parent_id)
    else:
        rows = await ctx.db.fetch(nested.page, *page_args, *keyset_args(sort, page), org)
    return connection(rows, page, sort, build, lambda: counts.load(parent_id))
