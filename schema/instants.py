"""The supported range of instants and dates: 1970-01-01 (inclusive) to 2100-01-01 (exclusive), UTC.

Values outside it are mistakes (a year-1 placeholder, a day and year swapped) and break things
downstream: asyncpg stores 0001-01-01T00:00:00Z as -infinity and 9999-12-31T23:59:59.999999Z as
infinity, an offset pushes year 1 or 9999 past what Python's datetime holds, and SQL day counts
over ±infinity fail. The GraphQL scalars, the windows, ingest and the database constraints
(sql/migrations/0007_finite_instants.sql) all use this one range.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

UTC = UTC
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
END = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
FIRST_DAY = EARLIEST.date()
END_DAY = END.date()  # exclusive: the last day is 2099-12-31

INSTANT_RANGE = "from 1970-01-01T00:00:00Z (inclusive) to 2100-01-01T00:00:00Z (exclusive)"
DATE_RANGE = "from 1970-01-01 to 2099-12-31 (both inclusive)"


def instant_problem(value: datetime) -> str | None:
    """Why `value` is outside the supported range, or None. A value without an offset is read as UTC.

    Aware datetimes compare by their UTC instant without building it, so an offset that would
    overflow the conversion (0001-01-01T00:00:00+01:00) is compared, not raised.
    """
    aware = value if value.tzinfo is not None and value.utcoffset() is not None else value.replace(tzinfo=UTC)
    if EARLIEST <= aware < END:
        return None
    return f"is out of range: instants must be {INSTANT_RANGE}"


def date_problem(value: date) -> str | None:
    """Why the UTC day `value` is outside the supported range, or None."""
    if FIRST_DAY <= value < END_DAY:
        return None
    return f"is out of range: dates must be {DATE_RANGE}"


def comparable(value: datetime) -> datetime:
    """A stored instant that Python can compare: asyncpg returns ±infinity as naive datetime.min/max.

    Every finite timestamptz arrives with an offset; only a row older than the range constraints
    can hold ±infinity, and comparing its naive stand-in with an aware instant raises TypeError.
    """
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
