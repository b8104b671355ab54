"""Topics, workflows, workflow updates and performance reviews."""
from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.relay import Connection, Node, Sort, connection, from_global_id, keyset_sql, page_request, to_global_id
from schema.review.policy import review_counted
from schema.windows import WindowInput, resolve_window

if TYPE_CHECKING:
    from schema.deployments.types import Deployment
    from schema.people.types import Person

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
    async def topic(self, info: strawberry.Info) -> Topic:
        return Topic.from_row(await info.context.loaders.topic.load(self.topic_id))

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
    async def deployment(self, info: strawberry.Info) -> (
        Annotated["Deployment", strawberry.lazy("schema.deployments.types")]
    ):
        from schema.deployments.types import Deployment

        return Deployment.from_row(await info.context.loaders.deployment.load(self.deployment_id))

    @strawberry.field(description="Who made the change.")
    async def author(self, info: strawberry.Info) -> Annotated["Person", strawberry.lazy("schema.people.types")]:
        from schema.people.types import Person

        return Person.from_row(await info.context.loaders.person.load(self.author_id))

    @strawberry.field(description="The workflow changed, if the update concerns one.")
    async def workflow(self, info: strawberry.Info) -> Workflow | None:
        if self.workflow_id is None:
            return None
        return Workflow.from_row(await info.context.loaders.workflow.load(self.workflow_id))

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
    async def reviewer(self, info: strawberry.Info) -> Annotated["Person", strawberry.lazy("schema.people.types")]:
        from schema.people.types import Person

        return Person.from_row(await info.context.loaders.person.load(self.reviewer_id))

    @strawberry.field(description="Whether it counts for health, weeksReviewed and the brief under the policy's "
                                  "reviewersCounted now (metrics.reviews).")
    async def counted(self, info: strawberry.Info) -> bool:
        return await review_counted(info, self.pk)

    @strawberry.field(description="The deployment reviewed.")
    async def deployment(self, info: strawberry.Info) -> (
        Annotated["Deployment", strawberry.lazy("schema.deployments.types")]
    ):
        from schema.deployments.types import Deployment

        return Deployment.from_row(await info.context.loaders.deployment.load(self.deployment_id))

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


NEWEST_FIRST = {
    "workflow_updates": Sort("occurred_at", "timestamptz", descending=True),
    "performance_reviews": Sort("reviewed_at", "timestamptz", descending=True),
}


async def list_children(info: strawberry.Info, table: str, parent: str, parent_id: int, conditions: list[str],
                        args: list, build, first, after, last, before) -> Connection:
    """A newest-first connection of `table` rows under one parent; first pages are batched across parents."""
    ctx = info.context
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    sort = NEWEST_FIRST[table]
    where = " and ".join([f"t.{parent} = any($1::bigint[])"] + conditions)
    base = f"select t.* from steward.{table} t where {where}"
    counts = ctx.loaders.child_counts(base, parent, tuple(args))
    if page.after is None and page.before is None and not page.backward:
        rows = await ctx.loaders.children(base, parent, sort.column, sort.descending, page.limit,
                                          tuple(args)).load(parent_id)
    else:
        sql, sql_args = keyset_sql(base, [[parent_id], *args], sort, page)
        rows = await ctx.db.fetch(sql, *sql_args)
    return connection(rows, page, sort, build, lambda: counts.load(parent_id))


async def update_conditions(info: strawberry.Info, kind: WorkflowUpdateKind | None,
                            window: WindowInput | None, first_arg: int = 2) -> tuple[list[str], list]:
    """SQL conditions (on alias t) and their arguments, numbered from $first_arg."""
    conditions: list[str] = []
    args: list = []
    if kind is not None:
        args.append(kind.value)
        conditions.append(f"t.kind = ${first_arg + len(args) - 1}")
    if window is not None:
        start, end = await resolve_window(info, window)
        args += [start, end]
        n = first_arg + len(args)
        conditions.append(f"t.occurred_at >= internals.utc(${n - 2}::date)"
                          f" and t.occurred_at < internals.utc(${n - 1}::date)")
    return conditions, args


async def workflow_updates(info: strawberry.Info, filter: WorkflowUpdateFilter | None,
                           first, after, last, before) -> Connection[WorkflowUpdate]:
    """Query.workflowUpdates: every update of the caller's organization, newest first."""
    ctx = info.context
    f = filter or WorkflowUpdateFilter()
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    conditions, args = await update_conditions(info, f.kind, f.window, first_arg=1)
    for value, column, type_name in ((f.deployment_id, "deployment_id", "Deployment"),
                                     (f.author_id, "author_id", "Person")):
        if value is not None:
            args.append(from_global_id(value, type_name, field=f"filter.{column}")[1])
            conditions.append(f"t.{column} = ${len(args)}")
    where = " and ".join(conditions) or "true"
    base = f"select t.* from steward.workflow_updates t where {where}"
    sort = NEWEST_FIRST["workflow_updates"]
    sql, sql_args = keyset_sql(base, args, sort, page)
    rows = await ctx.db.fetch(sql, *sql_args)
    return connection(rows, page, sort, WorkflowUpdate.from_row,
                      lambda: ctx.db.fetchval(f"select count(*) from ({base}) b", *args))
