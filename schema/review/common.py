"""What the weekly review's types share: an estimate with its interval, the week argument, topics."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import strawberry

from schema.activity.types import Topic
from schema.errors import bad_input, present
from schema.info import Info
from schema.instants import FIRST_DAY
from schema.windows import today

BASELINE_WEEKS = 4


@strawberry.type(description="A figure measured as numerator / denominator, with its 95% interval. For a rate "
                             "the interval is Wilson's; for a volume (conversations per week) it is the score "
                             "interval of a Poisson rate.")
class Estimate:
    numerator: int | None = strawberry.field(description="What was counted (e.g. AI resolutions).")
    denominator: int | None = strawberry.field(
        description="What it was counted out of (e.g. addressable conversations; weeks, for a volume).")
    value: float | None = strawberry.field(description="numerator / denominator; null when nothing was measured.")
    ci_low: float | None = strawberry.field(description="Lower end of the 95% interval.")
    ci_high: float | None = strawberry.field(description="Upper end of the 95% interval.")

    @classmethod
    def from_row(cls, row: Any, prefix: str, numerator: str = "numerator", denominator: str = "denominator",
                 value: str = "value") -> "Estimate":
        return cls(numerator=row[prefix + numerator], denominator=row[prefix + denominator],
                   value=row[prefix + value], ci_low=row[prefix + "ci_low"], ci_high=row[prefix + "ci_high"])


async def checked_week(info: Info, week: date | None, field: str = "week") -> date | None:
    """The Monday of the ISO week containing `week` (None: the default week, chosen in SQL).

    BAD_USER_INPUT for a week that has not begun, or whose 4-week baseline would start before the
    supported range of dates.
    """
    if week is None:
        return None
    monday = week - timedelta(days=week.weekday())
    if monday - timedelta(weeks=BASELINE_WEEKS) < FIRST_DAY:
        raise bad_input(f"the week of {week.isoformat()} is out of range: its baseline (the {BASELINE_WEEKS} weeks "
                        f"before) would start before {FIRST_DAY.isoformat()}", field)
    if monday > await today(info):
        raise bad_input(f"the week of {week.isoformat()} has not begun", field)
    return monday


async def load_topic(info: Info, pk: int) -> Topic:
    return present(await info.context.loaders.topic.load(pk), "topic")
