"""Deployments: one customer-service AI in production, with its owner, health and metrics."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.activity.types import Channel, Review, Workflow, WorkflowUpdate, WorkflowUpdateKind, reviews, updates_of
from schema.errors import bad_input, present, stored_out_of_range
from schema.info import Info
from schema.metrics import DeploymentMetrics, TopicOpportunity, WeeklyMetric
from schema.ownership.audit import OwnershipChange, deployment_audit_log
from schema.ownership.gaps import OwnershipGap
from schema.people.types import OwnershipAssignment, Person, escape_like
from schema.relay import Connection, Node, Sort, connection, from_global_id, keyset_args, page_request, to_global_id
from schema.review.brief import WeeklyBrief, weekly_brief
from schema.review.maturity import Maturity, deployment_maturity
from schema.review.topics import TopicOrder, TopicPerformance, deployment_topics
from schema.windows import WindowInput, check_range, resolve_window, today
from service.sql_files import load

if TYPE_CHECKING:
    from schema.organizations.types import Organization

SQL = load("schema.deployments", "queries.sql")

MAX_WEEKS = 105


@strawberry.enum(description="Lifecycle of a deployment.")
class DeploymentStatus(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Answering customers.")
    PAUSED = strawberry.enum_value("PAUSED", description="Temporarily not answering customers.")
    RETIRED = strawberry.enum_value("RETIRED", description="Out of service for good; left out of health counts.")


@strawberry.enum(description="Ownership health, most severe first.")
class HealthStatus(Enum):
    UNOWNED = strawberry.enum_value("UNOWNED", description="No accountable owner, or the owner was deactivated.")
    STALE = strawberry.enum_value("STALE", description="Owned, but no workflow update or no review for too long.")
    AT_RISK = strawberry.enum_value("AT_RISK", description="Owned and current, but a warning rule applies.")
    HEALTHY = strawberry.enum_value("HEALTHY", description="No rule of the health policy applies.")


@strawberry.enum(description="A rule of the health policy (sql/views/030_ownership_health.sql), by severity.")
class HealthReasonCode(Enum):
    NO_OWNER = strawberry.enum_value("NO_OWNER", description="UNOWNED: no accountable owner is assigned.")
    OWNER_INACTIVE = strawberry.enum_value("OWNER_INACTIVE", description="UNOWNED: the owner was deactivated.")
    NO_RECENT_UPDATE = strawberry.enum_value(
        "NO_RECENT_UPDATE", description="STALE: no workflow update within the policy's limit (default 14 days).")
    NO_RECENT_REVIEW = strawberry.enum_value(
        "NO_RECENT_REVIEW", description="STALE: no performance review within the policy's limit (default 14 days).")
    OWNER_OUTSIDE_CX = strawberry.enum_value("OWNER_OUTSIDE_CX", description="AT_RISK: the owner works outside CX.")
    OWNER_LOW_FTE = strawberry.enum_value(
        "OWNER_LOW_FTE", description="AT_RISK: the owner's time on AI is below the policy's minimum (default 0.5).")
    REVIEW_OVERDUE = strawberry.enum_value(
        "REVIEW_OVERDUE", description="AT_RISK: no review within the policy's review limit (default 7 days).")
    ARR_DECLINING = strawberry.enum_value(
        "ARR_DECLINING", description="AT_RISK: ARR of the last 4 weeks fell by the policy's points or more, against "
                                     "the 4 weeks before or against the owner's own baseline (median 4-week ARR of "
                                     "their period).")
    ARR_DECAYED_SINCE_OWNER_LEFT = strawberry.enum_value(
        "ARR_DECAYED_SINCE_OWNER_LEFT",
        description="UNOWNED: since the owner left, ARR (the gap's latest 4 weeks vs the 4 weeks before the gap) "
                    "fell by the policy's arrDecayPoints or more (default 10); the message gives the figures.")
    ESCALATION_UNACKNOWLEDGED = strawberry.enum_value(
        "ESCALATION_UNACKNOWLEDGED",
        description="An UNOWNED or ARR-decay health event has gone unacknowledged longer than the policy's "
                    "escalation limit (default 3 days); acknowledgeHealthEvent lifts it. It never raises the status.")


@strawberry.type(description="One rule of the health policy that applies.")
class HealthReason:
    code: HealthReasonCode = strawberry.field(description="Which rule applies (machine-readable).")
    message: str = strawberry.field(description="The reason in words, with the figures.")


@strawberry.type(description="Whether the deployment is owned and the owner's work shows, as of now.")
class Health:
    status: HealthStatus = strawberry.field(description="The most severe status among the reasons.")
    reasons: list[HealthReason] = strawberry.field(description="Every rule that applies; empty when HEALTHY.")
    last_update_at: datetime | None = strawberry.field(description="Latest workflow update.")
    last_review_at: datetime | None = strawberry.field(description="Latest performance review.")

    @classmethod
    def from_row(cls, row) -> "Health":
        reasons = row["reasons"]
        if isinstance(reasons, str):
            reasons = json.loads(reasons)
        return cls(status=HealthStatus(row["status"]),
                   reasons=[HealthReason(code=HealthReasonCode(r["code"]), message=r["message"])
                            for r in reasons],
                   last_update_at=row["last_update_at"], last_review_at=row["last_review_at"])


@strawberry.type(description="A customer-service AI in production.")
class Deployment(Node):
    key: str = strawberry.field(description="Unique in its organization; used by ingest and by people.")
    name: str = strawberry.field(description="Display name.")
    channels: list[Channel] = strawberry.field(description="Channels it serves.")
    vendor: str | None = strawberry.field(description="AI vendor.")
    status: DeploymentStatus = strawberry.field(description="Lifecycle status.")
    launched_at: datetime = strawberry.field(description="When it went live.")
    integrations: int = strawberry.field(description="Number of integrations it uses.")
    pk: strawberry.Private[int]
    org_id: strawberry.Private[int]
    escalation_pk: strawberry.Private[int | None] = None

    @strawberry.field(description="Who to escalate to when its health dips (set with setEscalationContact); null if "
                                  "none is named.")
    async def escalation_contact(self, info: Info) -> Person | None:
        if self.escalation_pk is None:
            return None
        return await info.context.loaders.person.load(self.escalation_pk)

    @strawberry.field(description="The organization running it.")
    async def organization(self, info: Info) -> (
        Annotated["Organization", strawberry.lazy("schema.organizations.types")]
    ):
        return present(await info.context.loaders.organization.load(self.org_id), "the organization")

    @strawberry.field(description="The accountable owner now; null when unowned.")
    async def owner(self, info: Info) -> Person | None:
        current = await info.context.loaders.owner.load(self.pk)
        if current is None:
            return None
        return await info.context.loaders.person.load(current["person_id"])

    @strawberry.field(description="The current ownership period (owner since, tenure); null when unowned.")
    async def current_ownership(self, info: Info) -> OwnershipAssignment | None:
        current = await info.context.loaders.owner.load(self.pk)
        if current is None:
            return None
        return await info.context.loaders.assignment.load(current["assignment_id"])

    @strawberry.field(description="Whole days the current owner has held it; null when unowned.")
    async def owner_tenure_days(self, info: Info) -> int | None:
        current = await info.context.loaders.owner.load(self.pk)
        if current is not None and current["tenure_days"] is None:
            raise stored_out_of_range("the current owner's start")
        return None if current is None else current["tenure_days"]

    @strawberry.field(description="Every ownership period, newest first. History is never rewritten.")
    async def ownership_history(self, info: Info) -> list[OwnershipAssignment]:
        return await info.context.loaders.history.load(self.pk)

    @strawberry.field(description="Every span without an accountable owner (from launch, or from the end of an "
                                  "owner's period), newest first, with the results before and during it and its cost.")
    async def ownership_gaps(self, info: Info) -> list[OwnershipGap]:
        return await info.context.loaders.ownership_gaps.load(self.pk)

    @strawberry.field(description="Ownership changes of this deployment made through the API, newest first.")
    async def audit_log(
        self, info: Info,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[OwnershipChange]:
        return await deployment_audit_log(info, self.pk, first, after, last, before)

    @strawberry.field(description="Health status and reasons, as of now, under the organization's policy.")
    async def health(self, info: Info) -> Health:
        return present(await info.context.loaders.health.load(self.pk), "the health")

    @strawberry.field(description="Every metric over a window (default: the last 30 days).")
    async def metrics(self, info: Info, window: WindowInput | None = None) -> DeploymentMetrics:
        start, end = await resolve_window(info, window)
        return present(await info.context.loaders.metrics(start, end).load(self.pk), "the metrics")

    @strawberry.field(description="ISO weeks intersecting [from, to) (default: the last 26 weeks), oldest first.")
    async def weekly_metrics(
        self, info: Info,
        from_: Annotated[date | None, strawberry.argument(name="from", description="First day (inclusive).")] = None,
        to: Annotated[date | None, strawberry.argument(description="Day after the last day (exclusive).")] = None,
    ) -> list[WeeklyMetric]:
        start, end = await weeks_range(info, from_, to)
        return await info.context.loaders.weekly(start, end).load(self.pk)

    @strawberry.field(description="Workflow updates, newest first.")
    async def workflow_updates(
        self, info: Info, kind: WorkflowUpdateKind | None = None, window: WindowInput | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[WorkflowUpdate]:
        return await updates_of(info, "deployment", self.pk, kind, window, first, after, last, before)

    @strawberry.field(description="Performance reviews, newest first.")
    async def reviews(
        self, info: Info,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Review]:
        return await reviews(info, self.pk, first, after, last, before)

    @strawberry.field(description="Workflows of this deployment.")
    async def workflows(self, info: Info) -> list[Workflow]:
        return await info.context.loaders.workflows.load(self.pk)

    @strawberry.field(
        description="Uncovered topics ranked by uncovered volume x escalation cost (default: last 90 days).")
    async def topic_opportunities(self, info: Info,
                                  first: Annotated[int, strawberry.argument(
                                      description="How many topics, best first (1 to 100).")] = 10,
                                  window: WindowInput | None = None) -> list[TopicOpportunity]:
        if not 1 <= first <= info.context.settings.max_page_size:
            raise bad_input(f"`first` must be between 1 and {info.context.settings.max_page_size}", "first")
        start, end = await resolve_window(info, window, default_days=90)
        return await info.context.loaders.opportunities(start, end, first).load(self.pk)

    @strawberry.field(description="The owner's brief for one ISO week: headline figures with intervals, topics "
                                  "to fix and to add, stale workflows, open health events, whether it was reviewed.")
    async def weekly_brief(self, info: strawberry.Info, week: Annotated[date | None, strawberry.argument(
            description="Any day of the ISO week (default: the last complete week).")] = None) -> WeeklyBrief | None:
        return await weekly_brief(info, self.pk, week)

    @strawberry.field(description="Per-topic figures over a window (default: the last 90 days), with what each "
                                  "topic offers (AUTOMATE, IMPROVE) and its weekly series.")
    async def topics(self, info: strawberry.Info, window: WindowInput | None = None, order_by: TopicOrder | None = None,
                     first: int | None = None, after: str | None = None) -> Connection[TopicPerformance]:
        return await deployment_topics(info, self.pk, window, order_by, first, after)

    @strawberry.field(description="Ownership maturity now: the five duties of an owner, met or not, with evidence "
                                  "and the next step.")
    async def maturity(self, info: strawberry.Info) -> Maturity | None:
        return await deployment_maturity(info, self.pk)

    @classmethod
    def from_row(cls, row) -> "Deployment":
        return cls(id=to_global_id("Deployment", row["id"]), key=row["key"], name=row["name"],
                   channels=list(row["channels"]), vendor=row["vendor"], status=DeploymentStatus(row["status"]),
                   launched_at=row["launched_at"], integrations=row["integrations"], pk=row["id"],
                   org_id=row["org_id"], escalation_pk=row.get("escalation_person_id"))


async def weeks_range(info: Info, start: date | None, end: date | None) -> tuple[date, date]:
    if start is None and end is None:
        end = await today(info) + timedelta(days=1)
        monday = end - timedelta(days=1) - timedelta(days=(end - timedelta(days=1)).weekday())
        return monday - timedelta(weeks=25), end
    start, end = check_range(start, end, "from")
    if (end - start).days > MAX_WEEKS * 7:
        raise bad_input(f"a weekly series spans at most {MAX_WEEKS} weeks", "from")
    return start, end


@strawberry.input(description="Which deployments to list.")
class DeploymentFilter:
    status: DeploymentStatus | None = strawberry.field(default=None, description="Only this lifecycle status.")
    health: HealthStatus | None = strawberry.field(default=None, description="Only this health status.")
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="Only those this person owns now.")
    unowned: bool | None = strawberry.field(
        default=None, description="Only those with (true) or without (false) no owner now.")
    channel: Channel | None = strawberry.field(default=None, description="Only those serving this channel.")
    search: str | None = strawberry.field(default=None, description="Name or key contains this text.")


@strawberry.enum(description="Sort keys for deployments; ties are broken by id.")
class DeploymentOrderField(Enum):
    _value_: str  # each member's value is the str given to enum_value
    NAME = strawberry.enum_value("name", description="Display name.")
    KEY = strawberry.enum_value("key", description="Deployment key.")
    LAUNCHED_AT = strawberry.enum_value("launched_at", description="Launch instant.")
    HEALTH = strawberry.enum_value("health_rank", description="Health, UNOWNED first when ascending.")


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest first.")
    DESC = strawberry.enum_value("DESC", description="Largest first.")


@strawberry.input(description="How to sort deployments.")
class DeploymentOrder:
    field: DeploymentOrderField = strawberry.field(default=DeploymentOrderField.NAME, description="Sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Sort direction.")


# sort key -> its SQL type, and the statement that pages by it
ORDERS = {"name": ("text", SQL["deployments_by_name"]), "key": ("text", SQL["deployments_by_key"]),
          "launched_at": ("timestamptz", SQL["deployments_by_launched_at"]),
          "health_rank": ("integer", SQL["deployments_by_health_rank"])}


async def deployments(info: Info, org_id: int, filter: DeploymentFilter | None,
                      order_by: DeploymentOrder | None, first, after, last, before) -> Connection[Deployment]:
    ctx = info.context
    f = filter or DeploymentFilter()
    order = order_by or DeploymentOrder()
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    sql_type, statement = ORDERS[order.field.value]
    sort = Sort(order.field.value, sql_type, descending=order.direction is OrderDirection.DESC)
    args = [org_id, f.status.value if f.status else None, f.health.value if f.health else None,
            from_global_id(f.owner_id, "Person", field="filter.ownerId")[1] if f.owner_id is not None else None,
            f.unowned, f.channel.value if f.channel else None,
            f"%{escape_like(f.search)}%" if f.search else None]
    rows = await ctx.db.fetch(statement, *args, *keyset_args(sort, page))
    return connection(rows, page, sort, Deployment.from_row,
                      lambda: ctx.db.fetchval(SQL["count_deployments"], *args))
