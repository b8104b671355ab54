"""Metric types: plain dataclasses built from rows of the `metrics` views and functions."""
from __future__ import annotations

from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from schema.errors import present, stored_out_of_range
from schema.info import Info
from schema.review.cadence import CadenceEffect, cadence_effect
from schema.windows import Window

if TYPE_CHECKING:
    from schema.activity.types import Topic


@strawberry.type(description="Every window metric of one deployment (see the metric definitions in README).")
class DeploymentMetrics:
    window: Window = strawberry.field(description="The half-open UTC window measured.")
    reopen_window_hours: int = strawberry.field(
        description="A resolution reopened within this many hours does not count as resolved (org policy).")
    conversations: int = strawberry.field(description="Conversations started in the window.")
    addressable: int = strawberry.field(
        description="Conversations whose topic had an active workflow covering their channel when they started.")
    unaddressable: int = strawberry.field(description="Conversations no workflow covered (unassisted).")
    ai_engaged: int = strawberry.field(description="Conversations the AI took part in at all (assisted).")
    ai_outcomes: int = strawberry.field(description="Conversations with outcome AI_RESOLVED, reopened or not.")
    ai_resolved: int = strawberry.field(
        description="Addressable conversations the AI resolved that were not reopened within the reopen window.")
    reopened: int = strawberry.field(description="AI resolutions reopened within the reopen window.")
    escalated: int = strawberry.field(description="Addressable conversations handed to a person.")
    topic_coverage: float | None = strawberry.field(description="addressable / conversations; null if none.")
    addressable_resolution_rate: float | None = strawberry.field(
        description="ARR: aiResolved / addressable (0-1); null if nothing was addressable.")
    reopen_rate: float | None = strawberry.field(description="reopened / aiOutcomes; null if no AI resolutions.")
    automation_rate: float | None = strawberry.field(description="aiResolved / conversations (= ARR x coverage).")
    escalation_rate: float | None = strawberry.field(description="escalated / addressable.")
    workflow_updates: int = strawberry.field(description="Workflow updates in the window.")
    peak_week_updates: int = strawberry.field(description="Most updates in any 7 consecutive days of the window.")
    days_since_last_update: int | None = strawberry.field(
        resolver=lambda root: days_since(root.row, "update"),  # keeps the field order
        description="Whole days from the last update to the window end (or now); null if none ever.")
    reviews: int = strawberry.field(description="Performance reviews in the window.")
    weeks_reviewed: float = strawberry.field(
        description="Share of the window's 7-day periods with at least one review (0-1).")
    days_since_last_review: int | None = strawberry.field(
        resolver=lambda root: days_since(root.row, "review"),
        description="Whole days from the last review to the window end (or now); null if none ever.")
    ownership_gap_days: float = strawberry.field(
        description="Days of the window (from launch, until now) with no accountable owner.")
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row) -> "DeploymentMetrics":
        return cls(
            window=Window(from_=row["window_from"], to=row["window_to"]),
            **{name: row[name] for name in _METRIC_COLUMNS},
            row=row,
        )


# columns copied as they are; the two day counts are resolved from `row`
_METRIC_COLUMNS = [name for name in DeploymentMetrics.__annotations__
                   if name not in ("window", "row", "days_since_last_update", "days_since_last_review")]


def days_since(row, what: str) -> int | None:
    """The view's day count; a latest instant it could not count from fails this field alone."""
    days = row[f"days_since_last_{what}"]
    # null with a latest instant: that instant is ±infinity (a row older than migration 0007)
    if days is None and row[f"last_{what}_at"] is not None:
        raise stored_out_of_range(f"the latest {'workflow update' if what == 'update' else 'review'}")
    return days


@strawberry.type(description="One ISO week (Monday to Sunday, UTC) of a deployment's metrics, for charts.")
class WeeklyMetric:
    week_start: date = strawberry.field(description="Monday that starts the ISO week.")
    metrics: DeploymentMetrics = strawberry.field(description="The week's metrics.")

    @classmethod
    def from_row(cls, row) -> "WeeklyMetric":
        return cls(week_start=row["window_from"], metrics=DeploymentMetrics.from_row(row))


@strawberry.type(description="An uncovered conversation type: what to automate next.")
class TopicOpportunity:
    rank: int = strawberry.field(description="1 = the largest opportunity.")
    conversations: int = strawberry.field(description="Conversations of this topic in the window.")
    uncovered: int = strawberry.field(description="Of those, conversations no workflow covered.")
    uncovered_escalated: int = strawberry.field(description="Uncovered conversations that were escalated.")
    escalation_cost: float = strawberry.field(description="Cost of one conversation handled by a person.")
    score: float = strawberry.field(description="uncovered x escalationCost: the ranking key.")
    topic_id: strawberry.Private[int]

    @strawberry.field(description="The conversation type.")
    async def topic(self, info: Info) -> Annotated["Topic", strawberry.lazy("schema.activity.types")]:
        return present(await info.context.loaders.topic.load(self.topic_id), "the topic")

    @classmethod
    def from_row(cls, row) -> "TopicOpportunity":
        return cls(rank=row["rank"], conversations=row["conversations"], uncovered=row["uncovered"],
                   uncovered_escalated=row["uncovered_escalated"], escalation_cost=float(row["escalation_cost"]),
                   score=float(row["score"]), topic_id=row["topic_id"])


@strawberry.enum(description="A bucket of deployment-weeks: by ownership, or by that week's update cadence.")
class ImpactBucketKind(Enum):
    OWNED = strawberry.enum_value("OWNED", description="The deployment had an accountable owner that week.")
    UNOWNED = strawberry.enum_value("UNOWNED", description="It had no accountable owner that week.")
    NONE = strawberry.enum_value("NONE", description="No workflow update that week.")
    LOW = strawberry.enum_value("LOW", description="1-2 workflow updates that week.")
    MEDIUM = strawberry.enum_value("MEDIUM", description="3-9 workflow updates that week.")
    HIGH = strawberry.enum_value("HIGH", description="10 or more workflow updates that week.")


@strawberry.type(description="ARR within one bucket of deployment-weeks.")
class ImpactBucket:
    bucket: ImpactBucketKind = strawberry.field(description="Which deployment-weeks the figures cover.")
    deployment_weeks: int = strawberry.field(description="Whole ISO deployment-weeks in the bucket.")
    addressable: int = strawberry.field(description="Addressable conversations in those weeks.")
    ai_resolved: int = strawberry.field(description="AI-resolved conversations in those weeks.")
    addressable_resolution_rate: float | None = strawberry.field(description="aiResolved / addressable.")

    @classmethod
    def from_row(cls, row) -> "ImpactBucket":
        return cls(bucket=ImpactBucketKind(row["bucket"]), deployment_weeks=row["deployment_weeks"],
                   addressable=row["addressable"], ai_resolved=row["ai_resolved"],
                   addressable_resolution_rate=row["addressable_resolution_rate"])


@strawberry.type(description="Ownership across an organization, and what ownership does to results.")
class OwnershipSummary:
    window: Window = strawberry.field(description="Window of the impact figures (health counts are as of now).")
    deployments: int = strawberry.field(description="Deployments that are not retired.")
    unowned: int = strawberry.field(description="Of those, health UNOWNED.")
    stale: int = strawberry.field(description="Of those, health STALE.")
    at_risk: int = strawberry.field(description="Of those, health AT_RISK.")
    healthy: int = strawberry.field(description="Of those, health HEALTHY.")
    owned_share: float | None = strawberry.field(description="Share with an active accountable owner (0-1).")
    arr_owned: float | None = strawberry.field(description="ARR in owned deployment-weeks of the window.")
    arr_unowned: float | None = strawberry.field(description="ARR in unowned deployment-weeks of the window.")
    by_ownership: list[ImpactBucket] = strawberry.field(description="OWNED and UNOWNED deployment-weeks.")
    by_update_cadence: list[ImpactBucket] = strawberry.field(description="Deployment-weeks by updates per week.")

    @strawberry.field(description="For each lag 0..maxLagWeeks: ARR points per additional workflow update that many "
                                  "weeks earlier, within deployments, over the window, with a 95% interval.")
    async def cadence_effect(self, info: strawberry.Info, max_lag_weeks: Annotated[int, strawberry.argument(
            description="Largest lag in weeks (0 to 52).")] = 8) -> list[CadenceEffect]:
        return await cadence_effect(info, self.window, max_lag_weeks)
