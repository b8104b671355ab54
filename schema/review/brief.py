"""Deployment.weeklyBrief: what the owner should look at this week, and nothing else.

Every figure is read from the metrics functions of sql/views/035_weekly_review.sql, batched by
deployment: one statement per (function, week) however many deployments a request asks for.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from schema.activity.types import Topic, Workflow
from schema.errors import bad_input, present
from schema.info import Info
from schema.review.common import Estimate, checked_week, load_topic
from schema.review.loading import row_by_key, rows_by_key
from schema.review.policy import ReviewersCounted

if TYPE_CHECKING:
    from schema.health.events import HealthEvent

MAX_TOPICS = 20


@strawberry.enum(description="A headline figure of the weekly brief (see the metric table in README).")
class BriefFigureKind(Enum):
    _value_: str
    ARR = strawberry.enum_value("ARR", description="Addressable resolution rate: aiResolved / addressable.")
    REOPEN_RATE = strawberry.enum_value("REOPEN_RATE", description="reopened / aiOutcomes.")
    COVERAGE = strawberry.enum_value("COVERAGE", description="Topic coverage: addressable / conversations.")
    AUTOMATION_RATE = strawberry.enum_value("AUTOMATION_RATE", description="aiResolved / conversations.")
    ESCALATION_RATE = strawberry.enum_value("ESCALATION_RATE", description="escalated / addressable.")
    VOLUME = strawberry.enum_value("VOLUME", description="Conversations per week (numerator: conversations, "
                                                         "denominator: weeks).")


@strawberry.type(description="One headline figure of the brief: the week, the week before and the 4-week "
                             "baseline (the 4 weeks before the week), each with counts and a 95% interval "
                             "(metrics.weekly_brief_headline).")
class BriefFigure:
    figure: BriefFigureKind = strawberry.field(description="Which figure.")
    is_rate: bool = strawberry.field(description="True for a rate (0-1, Wilson interval); false for VOLUME.")
    week: Estimate = strawberry.field(description="The week's value.")
    previous: Estimate = strawberry.field(description="The previous week's value.")
    baseline: Estimate = strawberry.field(description="The 4 weeks before the week, pooled.")
    change_vs_previous: float | None = strawberry.field(description="week - previous (fractions for rates).")
    change_vs_baseline: float | None = strawberry.field(description="week - baseline (fractions for rates).")
    significant: bool | None = strawberry.field(
        description="True when the week's and the baseline's 95% intervals do not overlap: a change noise is "
                    "unlikely to explain. Null when either was not measured.")
    significant_vs_previous: bool | None = strawberry.field(
        description="The same test against the previous week.")

    @classmethod
    def from_row(cls, row: Any) -> "BriefFigure":
        return cls(figure=BriefFigureKind(row["figure"]), is_rate=row["is_rate"],
                   week=Estimate.from_row(row, "week_"), previous=Estimate.from_row(row, "previous_"),
                   baseline=Estimate.from_row(row, "baseline_"), change_vs_previous=row["change_vs_previous"],
                   change_vs_baseline=row["change_vs_baseline"], significant=row["significant"],
                   significant_vs_previous=row["significant_vs_previous"])


@strawberry.enum(description="Why a covered topic is among the topics to fix.")
class TopicFixReason(Enum):
    _value_: str
    ARR = strawberry.enum_value("ARR", description="Its ARR is below the deployment's.")
    REOPEN_RATE = strawberry.enum_value("REOPEN_RATE", description="Its reopen rate is above the deployment's.")
    BOTH = strawberry.enum_value("BOTH", description="Both.")


@strawberry.type(description="A covered topic performing worse than its deployment in the week: a workflow to "
                             "repair (metrics.weekly_brief_topics_to_fix).")
class TopicToFix:
    rank: int = strawberry.field(description="1 = the worst (largest score).")
    conversations: int = strawberry.field(description="Conversations of the topic in the week.")
    addressable: int = strawberry.field(description="Of those, addressable.")
    ai_outcomes: int = strawberry.field(description="AI resolutions, reopened or not.")
    ai_resolved: int = strawberry.field(description="AI resolutions not reopened.")
    reopened: int = strawberry.field(description="AI resolutions reopened.")
    escalated: int = strawberry.field(description="Addressable conversations escalated.")
    addressable_resolution_rate: float | None = strawberry.field(description="The topic's ARR (0-1).")
    deployment_arr: float | None = strawberry.field(description="The deployment's ARR in the week (0-1).")
    reopen_rate: float | None = strawberry.field(description="The topic's reopen rate (0-1).")
    deployment_reopen_rate: float | None = strawberry.field(description="The deployment's reopen rate (0-1).")
    resolutions_short: float = strawberry.field(
        description="AI resolutions short of the deployment's ARR: deploymentArr x addressable - aiResolved, "
                    "at least 0 (volume-weighted).")
    excess_reopens: float = strawberry.field(
        description="Reopens beyond the deployment's reopen rate: reopened - deploymentReopenRate x aiOutcomes, "
                    "at least 0.")
    score: float = strawberry.field(description="resolutionsShort + excessReopens: the ranking key.")
    reason: TopicFixReason = strawberry.field(description="Which rate is worse than the deployment's.")
    topic_id: strawberry.Private[int]

    @strawberry.field(description="The conversation type.")
    async def topic(self, info: Info) -> Topic:
        return await load_topic(info, self.topic_id)

    @classmethod
    def from_row(cls, row: Any) -> "TopicToFix":
        return cls(rank=row["rank"], conversations=row["conversations"], addressable=row["addressable"],
                   ai_outcomes=row["ai_outcomes"], ai_resolved=row["ai_resolved"], reopened=row["reopened"],
                   escalated=row["escalated"], addressable_resolution_rate=row["addressable_resolution_rate"],
                   deployment_arr=row["deployment_arr"], reopen_rate=row["reopen_rate"],
                   deployment_reopen_rate=row["deployment_reopen_rate"],
                   resolutions_short=float(row["resolutions_short"]), excess_reopens=float(row["excess_reopens"]),
                   score=float(row["score"]), reason=TopicFixReason(row["reason"]), topic_id=row["topic_id"])


@strawberry.type(description="An uncovered topic of the week, by uncovered volume x escalation cost: what to "
                             "automate next (metrics.weekly_brief_topics_to_add).")
class TopicToAdd:
    rank: int = strawberry.field(description="1 = the largest opportunity.")
    conversations: int = strawberry.field(description="Conversations of the topic in the week.")
    uncovered: int = strawberry.field(description="Of those, conversations no workflow covered.")
    uncovered_escalated: int = strawberry.field(description="Uncovered conversations that were escalated.")
    escalation_cost: float = strawberry.field(description="Cost of one conversation handled by a person.")
    score: float = strawberry.field(description="uncovered x escalationCost: the ranking key.")
    uncovered_share: float | None = strawberry.field(
        description="uncovered / the deployment's conversations in the week (0-1).")
    topic_id: strawberry.Private[int]

    @strawberry.field(description="The conversation type.")
    async def topic(self, info: Info) -> Topic:
        return await load_topic(info, self.topic_id)

    @classmethod
    def from_row(cls, row: Any) -> "TopicToAdd":
        return cls(rank=row["rank"], conversations=row["conversations"], uncovered=row["uncovered"],
                   uncovered_escalated=row["uncovered_escalated"], escalation_cost=float(row["escalation_cost"]),
                   score=float(row["score"]), uncovered_share=row["uncovered_share"], topic_id=row["topic_id"])


@strawberry.type(description="A live workflow unchanged for longer than the policy's staleUpdateDays whose topic's "
                             "ARR fell by arrDropPoints or more in the week against its 4-week baseline "
                             "(metrics.weekly_brief_stale_workflows).")
class StaleWorkflow:
    live_since: datetime = strawberry.field(description="Start of its current live period.")
    last_update_at: datetime | None = strawberry.field(description="Latest workflow update naming it; null: none.")
    last_changed_at: datetime = strawberry.field(description="Latest change: that update, or going live.")
    days_unchanged: int = strawberry.field(description="Whole days from the last change to the week's end.")
    stale_update_days: int = strawberry.field(description="The policy's limit it exceeds.")
    week_addressable: int = strawberry.field(description="The topic's addressable conversations in the week.")
    week_ai_resolved: int = strawberry.field(description="The topic's AI resolutions in the week.")
    week_arr: float | None = strawberry.field(description="The topic's ARR in the week (0-1).")
    baseline_addressable: int = strawberry.field(description="The same over the 4 weeks before.")
    baseline_ai_resolved: int = strawberry.field(description="The same over the 4 weeks before.")
    baseline_arr: float | None = strawberry.field(description="The topic's ARR over the 4 weeks before (0-1).")
    arr_change_points: float | None = strawberry.field(description="(weekArr - baselineArr) x 100: negative.")
    workflow_id: strawberry.Private[int]
    topic_id: strawberry.Private[int]

    @strawberry.field(description="The stale workflow.")
    async def workflow(self, info: Info) -> Workflow:
        return present(await info.context.loaders.workflow.load(self.workflow_id), "workflow")

    @strawberry.field(description="Its topic.")
    async def topic(self, info: Info) -> Topic:
        return await load_topic(info, self.topic_id)

    @classmethod
    def from_row(cls, row: Any) -> "StaleWorkflow":
        return cls(live_since=row["live_since"], last_update_at=row["last_update_at"],
                   last_changed_at=row["last_changed_at"], days_unchanged=row["days_unchanged"],
                   stale_update_days=row["stale_update_days"], week_addressable=row["week_addressable"],
                   week_ai_resolved=row["week_ai_resolved"], week_arr=row["week_arr"],
                   baseline_addressable=row["baseline_addressable"],
                   baseline_ai_resolved=row["baseline_ai_resolved"], baseline_arr=row["baseline_arr"],
                   arr_change_points=row["arr_change_points"], workflow_id=row["workflow_id"],
                   topic_id=row["topic_id"])


def _first(first: int) -> int:
    if not 1 <= first <= MAX_TOPICS:
        raise bad_input(f"`first` must be between 1 and {MAX_TOPICS}", "first")
    return first


@strawberry.type(description="One ISO week's brief of a deployment for its owner (metrics.weekly_brief and "
                             "companions): the headline figures, the topics to fix and to add, the stale "
                             "workflows, the open health events, and whether the brief was reviewed.")
class WeeklyBrief:
    week_start: date = strawberry.field(description="Monday (UTC) starting the ISO week.")
    week_end: date = strawberry.field(description="The Monday after it (exclusive end).")
    previous_week_start: date = strawberry.field(description="Monday of the week before.")
    baseline_from: date = strawberry.field(description="First day of the 4-week baseline (ending at weekStart).")
    complete: bool = strawberry.field(description="The week is over.")
    reviewers_counted: ReviewersCounted = strawberry.field(description="Whose reviews count (the policy).")
    reviewed_at: datetime | None = strawberry.field(
        description="The first counted review that names this week (recordReview briefWeek) or was made in the "
                    "week after it; null: not reviewed.")
    review_due: bool = strawberry.field(description="The week is over and its brief has no counted review.")
    last_counted_review_at: datetime | None = strawberry.field(description="Latest counted review of the deployment.")
    next_review_due_at: datetime | None = strawberry.field(
        description="When REVIEW_OVERDUE applies: the latest counted review + the policy's reviewDueDays.")
    deployment_pk: strawberry.Private[int]
    week_arg: strawberry.Private[date | None]

    @strawberry.field(description="ARR, reopen rate, coverage, automation rate, escalation rate and volume.")
    async def headline(self, info: Info) -> list[BriefFigure]:
        rows = await rows_by_key(info, "headline", self.week_arg).load(self.deployment_pk)
        return [BriefFigure.from_row(r) for r in rows]

    @strawberry.field(description="Covered topics doing worst against the deployment's own ARR or reopen rate, "
                                  "volume-weighted, worst first.")
    async def topics_to_fix(self, info: Info, first: Annotated[int, strawberry.argument(
            description=f"How many, worst first (1 to {MAX_TOPICS}).")] = 5) -> list[TopicToFix]:
        rows = await rows_by_key(info, "topics_to_fix", self.week_arg, _first(first)).load(self.deployment_pk)
        return [TopicToFix.from_row(r) for r in rows]

    @strawberry.field(description="Uncovered topics by uncovered volume x escalation cost, largest first.")
    async def topics_to_add(self, info: Info, first: Annotated[int, strawberry.argument(
            description=f"How many, largest first (1 to {MAX_TOPICS}).")] = 5) -> list[TopicToAdd]:
        rows = await rows_by_key(info, "topics_to_add", self.week_arg, _first(first)).load(self.deployment_pk)
        return [TopicToAdd.from_row(r) for r in rows]

    @strawberry.field(description="Live workflows not updated within the policy's limit whose topic's ARR fell.")
    async def stale_workflows(self, info: Info) -> list[StaleWorkflow]:
        rows = await rows_by_key(info, "stale_workflows", self.week_arg).load(self.deployment_pk)
        return [StaleWorkflow.from_row(r) for r in rows]

    @strawberry.field(description="Unacknowledged health events whose new reasons still hold, newest first "
                                  "(metrics.health_alerts; as of now, whatever the week).")
    async def open_events(self, info: Info) -> list[
            Annotated["HealthEvent", strawberry.lazy("schema.health.events")]]:
        rows = await rows_by_key(info, "open_events").load(self.deployment_pk)
        events = await info.context.loaders.health_event.load_many([r["event_id"] for r in rows])
        return [e for e in events if e is not None]


async def weekly_brief(info: Info, deployment_pk: int, week: date | None) -> WeeklyBrief | None:
    """Deployment.weeklyBrief: the brief of the ISO week containing `week` (default: the last complete one)."""
    monday = await checked_week(info, week)
    row = await row_by_key(info, "weekly_brief", monday).load(deployment_pk)
    if row is None:
        return None
    return WeeklyBrief(week_start=row["week_start"], week_end=row["week_end"],
                       previous_week_start=row["previous_week_start"], baseline_from=row["baseline_from"],
                       complete=row["complete"], reviewers_counted=ReviewersCounted(row["reviewers_counted"]),
                       reviewed_at=row["brief_reviewed_at"], review_due=row["review_due"],
                       last_counted_review_at=row["last_counted_review_at"],
                       next_review_due_at=row["next_review_due_at"], deployment_pk=deployment_pk, week_arg=monday)
