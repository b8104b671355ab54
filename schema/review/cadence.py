"""OwnershipSummary.cadenceEffect: ARR points gained per workflow update, by lag (metrics.cadence_effect)."""
from __future__ import annotations

import strawberry

from schema.errors import bad_input
from schema.info import Info
from schema.review.loading import fetch
from schema.windows import Window

MAX_LAG_WEEKS = 52


@strawberry.type(description="The within-deployment effect on ARR of one more workflow update `lagWeeks` weeks "
                             "earlier: deployment fixed effects (each deployment's own mean removed), over owned "
                             "deployment-weeks with addressable conversations (metrics.cadence_effect).")
class CadenceEffect:
    lag_weeks: int = strawberry.field(description="Weeks between the updates and the ARR measured (0: same week).")
    estimate: float | None = strawberry.field(
        description="ARR points (0-100) per additional update; null when not estimable (updates never vary "
                    "within a deployment, or too few weeks).")
    std_error: float | None = strawberry.field(description="Standard error of the estimate (points).")
    ci_low: float | None = strawberry.field(description="Lower end of the 95% confidence interval (points).")
    ci_high: float | None = strawberry.field(description="Upper end of the 95% confidence interval (points).")
    deployment_weeks: int = strawberry.field(description="Deployment-weeks in the sample.")
    deployments: int = strawberry.field(description="Deployments in the sample.")
    degrees_of_freedom: int | None = strawberry.field(
        description="Residual degrees of freedom (deployment-weeks - deployments - 1).")


async def cadence_effect(info: Info, window: Window, max_lag_weeks: int) -> list[CadenceEffect]:
    if not 0 <= max_lag_weeks <= MAX_LAG_WEEKS:
        raise bad_input(f"`maxLagWeeks` must be between 0 and {MAX_LAG_WEEKS}", "maxLagWeeks")
    rows = await fetch(info, "cadence_effect", window.from_, window.to, max_lag_weeks)
    return [CadenceEffect(lag_weeks=r["lag_weeks"], estimate=r["estimate"], std_error=r["std_error"],
                          ci_low=r["ci_low"], ci_high=r["ci_high"], deployment_weeks=r["deployment_weeks"],
                          deployments=r["deployments"], degrees_of_freedom=r["degrees_of_freedom"])
            for r in rows]
