"""Deployment.topics: per-topic figures (metrics.topic_performance) as a Relay connection, with weekly series."""
from __future__ import annotations

import math
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from schema.activity.types import Topic
from schema.errors import bad_input
from schema.info import Info
from schema.relay import Connection, Edge, PageInfo, decode_cursor, encode_cursor
from schema.review.common import load_topic
from schema.review.loading import rows_by_key
from schema.windows import Window, WindowInput, resolve_window

if TYPE_CHECKING:
    from schema.deployments.types import OrderDirection

DEFAULT_DAYS = 90
MAX_SERIES_WEEKS = 105


@strawberry.enum(description="What a topic offers: what to automate next, what to improve, or nothing.")
class TopicOpportunityKind(Enum):
    _value_: str
    AUTOMATE = strawberry.enum_value("AUTOMATE", description="Not covered: no conversation of it was addressable.")
    IMPROVE = strawberry.enum_value("IMPROVE", description="Covered, with ARR below the deployment's.")
    NONE = strawberry.enum_value("NONE", description="Covered, at or above the deployment's ARR.")


@strawberry.enum(description="Sort keys for topics; ties are broken by topic id, and a rate that could not be "
                             "measured (null) comes last either way.")
class TopicOrderField(Enum):
    _value_: str
    CONVERSATIONS = strawberry.enum_value("CONVERSATIONS", description="Volume.")
    ADDRESSABLE = strawberry.enum_value("ADDRESSABLE", description="Addressable conversations.")
    TOPIC_COVERAGE = strawberry.enum_value("TOPIC_COVERAGE", description="addressable / conversations.")
    ADDRESSABLE_RESOLUTION_RATE = strawberry.enum_value("ADDRESSABLE_RESOLUTION_RATE", description="ARR.")
    REOPEN_RATE = strawberry.enum_value("REOPEN_RATE", description="Reopen rate.")
    ESCALATION_RATE = strawberry.enum_value("ESCALATION_RATE", description="Escalation rate.")
    VOLUME_SHARE = strawberry.enum_value("VOLUME_SHARE", description="Share of the deployment's conversations.")
    OPPORTUNITY_SCORE = strawberry.enum_value("OPPORTUNITY_SCORE", description="opportunityScore.")


@strawberry.input(description="How to sort topics (default: opportunityScore, largest first).")
class TopicOrder:
    field: TopicOrderField = strawberry.field(description="Sort key.")
    direction: Annotated["OrderDirection", strawberry.lazy("schema.deployments.types")] | None = strawberry.field(
        default=None, description="Sort direction (default DESC).")


@strawberry.type(description="One conversation type of a deployment over a window (metrics.topic_performance).")
class TopicFigures:
    conversations: int = strawberry.field(description="Conversations of the topic.")
    addressable: int = strawberry.field(description="Of those, covered by an active workflow on their channel.")
    unaddressable: int = strawberry.field(description="Of those, not covered.")
    ai_outcomes: int = strawberry.field(description="AI resolutions, reopened or not.")
    ai_resolved: int = strawberry.field(description="AI resolutions not reopened within the reopen window.")
    reopened: int = strawberry.field(description="AI resolutions reopened.")
    escalated: int = strawberry.field(description="Addressable conversations handed to a person.")
    topic_coverage: float | None = strawberry.field(description="addressable / conversations (0-1).")
    addressable_resolution_rate: float | None = strawberry.field(description="ARR: aiResolved / addressable.")
    reopen_rate: float | None = strawberry.field(description="reopened / aiOutcomes.")
    automation_rate: float | None = strawberry.field(description="aiResolved / conversations.")
    escalation_rate: float | None = strawberry.field(description="escalated / addressable.")
    volume_share: float | None = strawberry.field(description="conversations / the deployment's conversations.")
    covered: bool = strawberry.field(description="Some of its conversations were addressable.")
    deployment_arr: float | None = strawberry.field(description="The deployment's ARR over the same window.")
    arr_gap_points: float | None = strawberry.field(description="(deploymentArr - ARR) x 100: positive when below.")
    opportunity: TopicOpportunityKind = strawberry.field(
        description="AUTOMATE (uncovered), IMPROVE (covered, ARR below the deployment's) or NONE.")
    opportunity_score: float = strawberry.field(
        description="In escalation cost: AUTOMATE, unaddressable x escalationCost; IMPROVE, the AI resolutions "
                    "short of the deployment's ARR x escalationCost; NONE, 0.")

    @classmethod
    def values(cls, row: Any) -> dict[str, Any]:
        names = [n for n in cls.__annotations__ if n not in ("opportunity", "opportunity_score")]
        return {n: row[n] for n in names} | {"opportunity": TopicOpportunityKind(row["opportunity"]),
                                             "opportunity_score": float(row["opportunity_score"])}


@strawberry.type(description="A topic's figures over one ISO week, for charts.")
class TopicWeek(TopicFigures):
    week_start: date = strawberry.field(description="Monday (UTC) starting the ISO week.")


@strawberry.type(description="A topic's figures over the window, with its weekly series.")
class TopicPerformance(TopicFigures):
    window: Window = strawberry.field(description="The half-open UTC window measured.")
    topic_id: strawberry.Private[int]
    deployment_pk: strawberry.Private[int]

    @strawberry.field(description="The conversation type.")
    async def topic(self, info: Info) -> Topic:
        return await load_topic(info, self.topic_id)

    @strawberry.field(description="The topic's figures per ISO week overlapping the window (each week measured "
                                  "whole), oldest first; weeks without its conversations are left out.")
    async def weeks(self, info: Info) -> list[TopicWeek]:
        start, end = self.window.from_, self.window.to
        if (end - start).days > MAX_SERIES_WEEKS * 7:
            raise bad_input(f"a weekly series spans at most {MAX_SERIES_WEEKS} weeks", "window")
        rows = await rows_by_key(info, "topic_weeks", start, end).load(self.deployment_pk)
        return [TopicWeek(week_start=r["week_start"], **TopicFigures.values(r))
                for r in rows if r["topic_id"] == self.topic_id]


def _after(after: str | None) -> tuple[float | None, int | None]:
    if after is None:
        return None, None
    value, pk = decode_cursor(after, "after")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_input("`after` is not a cursor of this list in its current order", "after")
    return float(value), pk


async def deployment_topics(info: Info, deployment_pk: int, window: WindowInput | None,
                            order_by: TopicOrder | None, first: int | None, after: str | None,
                            ) -> Connection[TopicPerformance]:
    """Deployment.topics: one page per deployment, all deployments of the request in one statement."""
    start, end = await resolve_window(info, window, default_days=DEFAULT_DAYS)
    order = order_by or TopicOrder(field=TopicOrderField.OPPORTUNITY_SCORE)
    limit = 20 if first is None else first
    if not 0 <= limit <= info.context.settings.max_page_size:
        raise bad_input(f"`first` must be between 0 and {info.context.settings.max_page_size}", "first")
    after_key, after_pk = _after(after)
    rows = await rows_by_key(info, "topics_page", start, end, order.field.value,
                             order.direction is None or order.direction.value == "DESC", after_key, after_pk,
                             limit + 1).load(deployment_pk)
    page = rows[:limit]
    edges = [Edge(cursor=encode_cursor(r["sort_key"], r["topic_id"]),
                  node=TopicPerformance(window=Window(from_=start, to=end), topic_id=r["topic_id"],
                                        deployment_pk=deployment_pk, **TopicFigures.values(r)))
             for r in page]

    async def count() -> int:
        counted = await rows_by_key(info, "topics_count", start, end).load(deployment_pk)
        return counted[0]["n"] if counted else 0

    return Connection(edges=edges, page_info=PageInfo(
        has_next_page=len(rows) > limit, has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None),
        _count=count)
