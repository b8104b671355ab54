"""Organization.scorecard and Organization.healthPolicy: a leader's view of ownership across the organization."""
from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from schema.deployments.mutations import HealthPolicy
from schema.info import Info
from schema.review.common import Estimate
from schema.review.loading import fetch
from schema.review.policy import policy_row
from schema.windows import Window, WindowInput, resolve_window

DEFAULT_DAYS = 90
LEVELS = range(6)


def _arr(row: Any, side: str) -> Estimate:
    """ARR of the owned or unowned deployment-weeks: aiResolved / addressable, Wilson interval."""
    return Estimate(numerator=row[f"{side}_ai_resolved"], denominator=row[f"{side}_addressable"],
                    value=row[f"{side}_arr"], ci_low=row[f"{side}_arr_ci_low"], ci_high=row[f"{side}_arr_ci_high"])


@strawberry.type(description="How many live deployments stand at one maturity level.")
class MaturityLevelCount:
    level: int = strawberry.field(description="0 to 5.")
    deployments: int = strawberry.field(description="Live deployments at that level now.")


@strawberry.type(description="ISO deployment-weeks of the window on one side of ownership, and their ARR.")
class DeploymentWeeksArr:
    deployment_weeks: int = strawberry.field(description="Whole ISO deployment-weeks.")
    arr: Estimate = strawberry.field(description="ARR over them: aiResolved / addressable, 95% Wilson interval.")


@strawberry.type(description="One ISO week of the scorecard's trend (metrics.scorecard_weeks).")
class ScorecardWeek:
    week_start: date = strawberry.field(description="Monday (UTC) starting the week.")
    deployments: int = strawberry.field(description="Deployments live that week.")
    owned: int = strawberry.field(description="Of those, owned that week.")
    unowned: int = strawberry.field(description="Of those, unowned that week.")
    owned_arr: Estimate = strawberry.field(description="ARR of the owned deployments that week.")
    unowned_arr: Estimate = strawberry.field(description="ARR of the unowned deployments that week.")
    workflow_updates: int = strawberry.field(description="Workflow updates that week.")
    reviewed: int = strawberry.field(description="Deployments with a counted review that week.")

    @classmethod
    def from_row(cls, row: Any) -> "ScorecardWeek":
        return cls(week_start=row["week_start"], deployments=row["deployments"], owned=row["owned"],
                   unowned=row["unowned"], owned_arr=_arr(row, "owned"), unowned_arr=_arr(row, "unowned"),
                   workflow_updates=row["workflow_updates"], reviewed=row["reviewed"])


@strawberry.type(description="A leader's view of ownership across the organization (metrics.scorecard): counts "
                             "are of live deployments now; ARR and the trend are over the window's ISO weeks; the "
                             "gap figures come from the ownership-gap ledger.")
class Scorecard:
    window: Window = strawberry.field(description="The window of the ARR figures and the trend.")
    deployments: int = strawberry.field(description="Live (not retired) deployments.")
    owned: int = strawberry.field(description="Of those, with an active accountable owner.")
    unowned: int = strawberry.field(description="Of those, without one.")
    owners_outside_cx: int = strawberry.field(description="Owners (people) whose function is not CX.")
    owners_below_fte: int = strawberry.field(description="Owners (people) below the policy's minOwnerFte.")
    deployments_owner_outside_cx: int = strawberry.field(description="Deployments owned by someone outside CX.")
    deployments_owner_below_fte: int = strawberry.field(description="Deployments owned below the FTE floor.")
    maturity: list[MaturityLevelCount] = strawberry.field(description="Deployments per maturity level, 0 to 5.")
    owned_weeks: DeploymentWeeksArr = strawberry.field(description="Owned deployment-weeks of the window.")
    unowned_weeks: DeploymentWeeksArr = strawberry.field(description="Unowned deployment-weeks of the window.")
    gaps: int = strawberry.field(description="Ownership gaps overlapping the window (metrics.ownership_gaps).")
    open_gaps: int = strawberry.field(description="Of those, still open.")
    resolutions_lost: float | None = strawberry.field(
        description="AI resolutions lost in those gaps against the ARR before each gap.")
    estimated_cost: float | None = strawberry.field(description="Their cost: resolutions lost x escalation cost.")
    weeks: list[ScorecardWeek] = strawberry.field(description="The trend: one entry per ISO week, oldest first.")

    @classmethod
    def from_rows(cls, window: Window, row: Any, weeks: list[Any]) -> "Scorecard":
        return cls(
            window=window,
            **{name: row[name] for name in ("deployments", "owned", "unowned", "owners_outside_cx",
                                            "owners_below_fte", "deployments_owner_outside_cx",
                                            "deployments_owner_below_fte", "gaps", "open_gaps",
                                            "resolutions_lost")},
            estimated_cost=None if row["estimated_cost"] is None else float(row["estimated_cost"]),
            maturity=[MaturityLevelCount(level=n, deployments=row[f"maturity_level_{n}"]) for n in LEVELS],
            owned_weeks=DeploymentWeeksArr(deployment_weeks=row["owned_deployment_weeks"], arr=_arr(row, "owned")),
            unowned_weeks=DeploymentWeeksArr(deployment_weeks=row["unowned_deployment_weeks"],
                                             arr=_arr(row, "unowned")),
            weeks=[ScorecardWeek.from_row(w) for w in weeks])


async def scorecard(info: Info, window: WindowInput | None) -> Scorecard | None:
    """The caller's organization's scorecard (the functions read the current organization)."""
    start, end = await resolve_window(info, window, default_days=DEFAULT_DAYS)
    rows = await fetch(info, "scorecard", start, end)
    if not rows:
        return None
    return Scorecard.from_rows(Window(from_=start, to=end), rows[0], await fetch(info, "scorecard_weeks", start, end))


async def health_policy(info: Info, org_pk: int) -> HealthPolicy | None:
    row = await policy_row(info, org_pk)
    return None if row is None else HealthPolicy.from_row(row)
