"""Date windows: `{from, to}` or `{lastDays}`, half-open, UTC."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import strawberry

from schema.errors import bad_input
from schema.info import Info
from schema.instants import date_problem
from service.sql_files import load

SQL = load("schema", "queries.sql")

MAX_WINDOW_DAYS = 3660


@strawberry.input(description="A half-open UTC date window [from, to), or the last N days including today.")
class WindowInput:
    from_: date | None = strawberry.field(name="from", default=None, description="First day (inclusive).")
    to: date | None = strawberry.field(default=None, description="Day after the last day (exclusive).")
    last_days: int | None = strawberry.field(default=None, description="The last N UTC days, today included.")


@strawberry.type(description="The window a figure was measured over.")
class Window:
    from_: date = strawberry.field(name="from", description="First day (inclusive).")
    to: date = strawberry.field(description="Day after the last day (exclusive).")


async def today(info: Info) -> date:
    """Today in UTC as the database sees it (steward.clock()), once per request."""
    ctx = info.context
    if ctx.today is None:
        # resolvers of one request ask concurrently: they share one query
        ctx.today = asyncio.ensure_future(ctx.db.fetchval(SQL["today"]))
    # shielded: graphql-core cancels a failed field's siblings, and a cancelled awaiter would
    # cancel the shared query for every other field of the request
    return await asyncio.shield(ctx.today)


async def resolve_window(info: Info, window: WindowInput | None, default_days: int = 30,
                         field: str = "window") -> tuple[date, date]:
    if window is None:
        window = WindowInput(last_days=default_days)
    if window.last_days is not None:
        if window.from_ is not None or window.to is not None:
            raise bad_input("give either `lastDays` or `from` and `to`, not both", field)
        if not 1 <= window.last_days <= MAX_WINDOW_DAYS:
            raise bad_input(f"`lastDays` must be between 1 and {MAX_WINDOW_DAYS}", field)
        end = await today(info) + timedelta(days=1)
        return end - timedelta(days=window.last_days), end
    return check_range(window.from_, window.to, field)


def check_range(start: date | None, end: date | None, field: str) -> tuple[date, date]:
    if start is None or end is None:
        raise bad_input("a window needs both `from` and `to` (or `lastDays`)", field)
    # the Date scalar already refuses these; callers in Python get the same answer
    for name, day in (("from", start), ("to", end)):
        if (reason := date_problem(day)) is not None:
            raise bad_input(f"`{name}` {day.isoformat()} {reason}", field)
    if end <= start:
        raise bad_input("`to` must be after `from` (the window is [from, to))", field)
    if (end - start).days > MAX_WINDOW_DAYS:
        raise bad_input(f"a window spans at most {MAX_WINDOW_DAYS} days", field)
    return start, end
