"""Topics, workflows, workflow updates and performance reviews."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from schema.deployments.ref import DeploymentRef
from schema.errors import present
from schema.info import Info
from schema.relay import (
    Connection,
    NestedList,
    Node,
    Sort,
    connection,
    from_global_id,
    keyset_args,
    nested_connection,
    page_request,
    to_global_id,
)
from schema.review.policy import review_counted
from schema.windows import WindowInput, resolve_window
from service.sql_files import load

if TYPE_CHECKING:
    from schema.people.types import Person

SQL = load("schema.activity", "queries.sql")


@strawberry.enum(description="A customer contact channel.")
class Channel(Enum):
    CHAT = strawberry.enum_value("CHAT", description="Live chat or messaging on the brand's site or app.")
    EMAIL = strawberry.enum_value("EMAIL", description="Email.")
    SMS = strawberry.enum_value("SMS", description="Text messages.")
    VOICE = strawberry.enum_value("VOICE", description="Phone calls.")
    SOCIAL = strawberry.enum_value("SOCIAL", description="Social networks' messages and comments.")


@strawberry.enum(description="What a workflow update changed.")
class WorkflowUpdateKind(Enum):
    WORKFLOW_CHANGE = strawberry.enum_value("WORKFLOW_CHANGE", description="A workflow's steps or logic changed.")
    KNOWLEDGE_REFRESH = strawberry.enum_value("KNOWLEDGE_REFRESH",
                                              description="Knowledge the AI answers from was refreshed.")
    POLICY_UPDATE = strawberry.enum_value("POLICY_UPDATE", description="A business policy the AI applies changed.")
    NEW_USE_CASE = strawberry.enum_value("NEW_USE_CASE",
                                         description="The AI was set up for a new conversation type (topic).")
    CHANNEL_LAUNCH = strawberry.enum_value("CHANNEL_LAUNCH", description="The AI went live on another channel.")
    CONFIG_CHANGE = strawberry.enum_value("CONFIG_CHANGE", description="Any other configuration change.")


@strawberry.type(description="A conversation type ('order status', 'returns', ...) of an organization.")
class Topic(Node):
    key: str = strawberry.field(description="Stable key used by ingest.")
    name: str = strawberry.field(description="Display name.")
    escalation_cost: float = strawberry.field(description="Cost of one conversation handled by a person.")

    @classmethod
    def from_row(cls, row) -> "Topic":
        return cls(id=to_global_id("Topic", row["id"]), key=row["key"], name=row["name"],
                   escalation_cost=float(row["escalation_cost"]))


@strawberry.type(description="What the AI can do for a topic on some channels.")
class Workflow(Node):
    name: str = strawberry.field(description="Display name.")
    channels: list[Channel] = strawberry.field(description="Channels the workflow covers.")
    created_at: datetime = strawberry.field(description="When the workflow was created.")
    topic_id: strawberry.Private[int]

    @strawberry.field(description="The topic the workflow answers.")
    async def topic(self, info: Info) -> Topic:
        return present(await info.context.loaders.topic.load(self.topic_id), "the topic")

    @classmethod
    def from_row(cls, row) -> "Workflow":
        return cls(id=to_global_id("Workflow", row["id"]), name=row["name"], channels=row["channels"],
                   created_at=row["created_at"], topic_id=row["topic_id"])


@strawberry.type(description="One change to a deployment by one person.")
class WorkflowUpdate(Node):
    kind: WorkflowUpdateKind = strawberry.field(description="What was changed.")
    summary: str = strawberry.field(description="What was done, in a sentence.")
    occurred_at: datetime = strawberry.field(description="When the change was made.")
    deployment_id: strawberry.Private[int]
    author_id: strawberry.Private[int]
    workflow_id: strawberry.Private[int | None]

    @strawberry.field(description="The deployment changed.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return present(await info.context.loaders.deployment.load(self.deployment_id), "the deployment")

    @strawberry.field(description="Who made the change.")
    async def author(self, info: Info) -> Annotated["Person", strawberry.lazy("schema.people.types")]:
        return present(await info.context.loaders.person.load(self.author_id), "the author")

    @strawberry.field(description="The workflow changed, if the update concerns one.")
    async def workflow(self, info: Info) -> Workflow | None:
        if self.workflow_id is None:
            return None
        return await info.context.loaders.workflow.load(self.workflow_id)

    @classmethod
    def from_row(cls, row) -> "WorkflowUpdate":
        return cls(id=to_global_id("WorkflowUpdate", row["id"]), kind=WorkflowUpdateKind(row["kind"]),
                   summary=row["summary"], occurred_at=row["occurred_at"], deployment_id=row["deployment_id"],
                   author_id=row["author_id"], workflow_id=row["workflow_id"])


@strawberry.type(description="Someone reviewed a deployment's performance.")
class Review(Node):
    reviewed_at: datetime = strawberry.field(description="When the review took place.")
    notes: str | None = strawberry.field(description="Notes taken.")
    decisions: list[str] = strawberry.field(description="Decisions made.")
    brief_week: date | None = strawberry.field(description="Monday of the ISO week whose weekly brief it reviewed.")
    pk: strawberry.Private[int]
    deployment_id: strawberry.Private[int]
    reviewer_id: strawberry.Private[int]

    @strawberry.field(description="Who reviewed.")
    async def reviewer(self, info: Info) -> Annotated["Person", strawberry.lazy("schema.people.types")]:
        return present(await info.context.loaders.person.load(self.reviewer_id), "the reviewer")

    @strawberry.field(description="Whether it counts for health, weeksReviewed and the brief under the policy's "
                                  "reviewersCounted now (metrics.reviews).")
    async def counted(self, info: Info) -> bool:
        return await review_counted(info, self.pk)

    @strawberry.field(description="The deployment reviewed.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return present(await info.context.loaders.deployment.load(self.deployment_id), "the deployment")

    @classmethod
    def from_row(cls, row) -> "Review":
        return cls(id=to_global_id("Review", row["id"]), reviewed_at=row["reviewed_at"], notes=row["notes"],
                   decisions=list(row["decisions"]), brief_week=row["brief_week"], pk=row["id"],
                   deployment_id=row["deployment_id"],
                   reviewer_id=row["reviewer_id"])


@strawberry.input(description="Which workflow updates to list.")
class WorkflowUpdateFilter:
    deployment_id: strawberry.ID | None = strawberry.field(default=None, description="Only this deployment.")
    author_id: strawberry.ID | None = strawberry.field(default=None, description="Only by this person.")
    kind: WorkflowUpdateKind | None = strawberry.field(default=None, description="Only this kind.")
    window: WindowInput | None = strawberry.field(default=None, description="Only inside this window.")


UPDATES_NEWEST_FIRST = Sort("occurred_at", "timestamptz", descending=True)
REVIEWS_NEWEST_FIRST = Sort("reviewed_at", "timestamptz", descending=True)
# a deployment's updates, a person's updates, a deployment's reviews
UPDATES_OF = {"deployment": NestedList("deployment_id", SQL["first_workflow_updates_by_deployment"],
                                       SQL["workflow_update_counts_by_deployment"], SQL["workflow_updates"]),
              "author": NestedList("author_id", SQL["first_workflow_updates_by_author"],
                                   SQL["workflow_update_counts_by_author"], SQL["workflow_updates"])}
REVIEWS = NestedList("deployment_id", SQL["first_reviews_by_deployment"], SQL["review_counts_by_deployment"],
                     SQL["reviews"])


async def update_filters(info: Info, kind: WorkflowUpdateKind | None, window: WindowInput | None) -> list[Any]:
    """The kind and window parameters of the workflow update statements (null: no filter)."""
    start, end = await resolve_window(info, window) if window is not None else (None, None)
    return [kind.value if kind is not None else None, start, end]


async def updates_of(info: Info, parent: str, parent_id: int, kind: WorkflowUpdateKind | None,
                     window: WindowInput | None, first, after, last, before) -> Connection[WorkflowUpdate]:
    """Deployment.workflowUpdates and Person.workflowUpdates: first pages are batched across parents."""
    filters = await update_filters(info, kind, window)
    page = page_request(first, after, last, before, info.context.settings.max_page_size)
    of = (parent_id, None) if parent == "deployment" else (None, parent_id)  # the deployment and author filters
    return await nested_connection(info, UPDATES_OF[parent], parent_id, page, UPDATES_NEWEST_FIRST,
                                   WorkflowUpdate.from_row, tuple(filters), (*filters, *of))


async def reviews(info: Info, deployment_id: int, first, after, last, before) -> Connection[Review]:
    """Deployment.reviews: first pages are batched across deployments."""
    page = page_request(first, after, last, before, info.context.settings.max_page_size)
    return await nested_connection(info, REVIEWS, deployment_id, page, REVIEWS_NEWEST_FIRST, Review.from_row,
                                   page_args=(deployment_id,))


async def workflow_updates(info: Info, filter: WorkflowUpdateFilter | None,
                           first, after, last, before) -> Connection[WorkflowUpdate]:
    """Query.workflowUpdates: every update of the caller's organization, newest first."""
    ctx = info.context
    f = filter or WorkflowUpdateFilter()
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    args = await update_filters(info, f.kind, f.window)
    for value, type_name, name in ((f.deployment_id, "Deployment", "deployment_id"),
                                   (f.author_id, "Person", "author_id")):
        args.append(from_global_id(value, type_name, field=f"filter.{name}")[1] if value is not None else None)
    org = ctx.principal.org_id
    rows = await ctx.db.fetch(SQL["workflow_updates"], *args, *keyset_args(UPDATES_NEWEST_FIRST, page), org)
    return connection(rows, page, UPDATES_NEWEST_FIRST, WorkflowUpdate.from_row,
                      lambda: ctx.db.fetchval(SQL["count_workflow_updates"], *args, org))
