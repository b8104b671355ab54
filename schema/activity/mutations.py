"""Activity mutations: record a workflow update or a performance review."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.activity.types import Review, WorkflowUpdate, WorkflowUpdateKind
from schema.deployments.ref import DeploymentRef
from schema.errors import ConflictError, NotFoundError, PermissionError, ValidationError, present
from schema.info import Info
from schema.instants import comparable
from schema.writes import IDEMPOTENCY_KEY, INPUT, REPLAYED, Write, invalid, missing, run, success, text
from service.sql_files import load

if TYPE_CHECKING:
    from schema.deployments.types import Deployment

SQL = load("schema.activity", "queries.sql")
MAX_DECISIONS = 50


async def _deployment(w: Write, global_id: str) -> int:
    pk = w.decode(global_id, "Deployment", "deploymentId")
    if await w.db.fetchval(SQL["deployment_exists"], pk, w.org_id) is None:
        raise missing("Deployment", "deploymentId")
    w.touch(pk)  # an update or a review can end STALE or AT_RISK
    return pk


async def _person_at(w: Write, global_id: str, field: str, at: datetime) -> int:
    """A person who was with the organization at `at` (a deactivated person's past work may be recorded)."""
    pk = w.decode(global_id, "Person", field)
    row = await w.db.fetchrow(SQL["person_at"], pk, w.org_id)
    if row is None:
        raise missing("Person", field)
    if not row["active"] and at > comparable(row["deactivated_at"]):
        raise invalid(f"the person was deactivated at {row['deactivated_at'].isoformat()}, before this", field)
    return pk


async def _load_deployment(info: Info, pk: int) -> "Deployment":
    return present(await info.context.loaders.deployment.load(pk), "the deployment")


# --- recordWorkflowUpdate ------------------------------------------------------------------------

@strawberry.input(description="One change to a deployment by one person.")
class RecordWorkflowUpdateInput:
    deployment_id: strawberry.ID = strawberry.field(description="The deployment changed.")
    author_id: strawberry.ID = strawberry.field(description="Who made the change.")
    kind: WorkflowUpdateKind = strawberry.field(description="What was changed.")
    summary: str = strawberry.field(description="What was done, in a sentence (1-2000 characters).")
    occurred_at: datetime | None = strawberry.field(
        default=None, description="When the change was made: now by default; not in the future.")
    workflow_id: strawberry.ID | None = strawberry.field(
        default=None, description="The workflow changed, if the update concerns one (of this deployment).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The workflow update was recorded.")
class RecordWorkflowUpdateSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    update_pk: strawberry.Private[int]
    deployment_pk: strawberry.Private[int]

    @strawberry.field(description="The update recorded.")
    async def workflow_update(self, info: Info) -> WorkflowUpdate:
        return present(await info.context.loaders.workflow_update.load(self.update_pk), "the workflow update")

    @strawberry.field(description="The deployment, as of the update (health, metrics).")
    async def deployment(self, info: Info) -> DeploymentRef:
        return await _load_deployment(info, self.deployment_pk)


RecordWorkflowUpdatePayload = Annotated[
    RecordWorkflowUpdateSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("RecordWorkflowUpdatePayload",
                     description="The result of recordWorkflowUpdate: the success or a typed error."),
]


async def record_workflow_update(
    info: Info, input: Annotated[RecordWorkflowUpdateInput, INPUT]
) -> RecordWorkflowUpdatePayload:
    async def work(w: Write) -> RecordWorkflowUpdateSuccess:
        deployment_id = await _deployment(w, input.deployment_id)
        occurred_at = await w.effective(input.occurred_at, "occurredAt")
        author_id = await _person_at(w, input.author_id, "authorId", occurred_at)
        summary = text(input.summary, "summary", required=True, limit=2000)
        workflow_id = None
        if input.workflow_id is not None:
            workflow_id = w.decode(input.workflow_id, "Workflow", "workflowId")
            workflow = await w.db.fetchrow(SQL["workflow_of"], workflow_id, w.org_id)
            if workflow is None:
                raise missing("Workflow", "workflowId")
            if workflow["deployment_id"] != deployment_id:
                raise invalid("the workflow belongs to another deployment", "workflowId")
        pk = await w.db.fetchval(SQL["insert_workflow_update"], w.org_id, deployment_id, author_id, workflow_id,
                                 input.kind.value, summary, occurred_at)
        return RecordWorkflowUpdateSuccess(replayed=False, update_pk=pk, deployment_pk=deployment_id)

    return await run(info, "recordWorkflowUpdate", "write:activity", input, work)


# --- recordReview --------------------------------------------------------------------------------

@strawberry.input(description="Someone reviewed a deployment's performance.")
class RecordReviewInput:
    deployment_id: strawberry.ID = strawberry.field(description="The deployment reviewed.")
    reviewer_id: strawberry.ID = strawberry.field(description="Who reviewed.")
    reviewed_at: datetime | None = strawberry.field(
        default=None, description="When the review took place: now by default; not in the future.")
    notes: str | None = strawberry.field(default=None, description="Notes taken (up to 10000 characters).")
    decisions: list[str] = strawberry.field(
        default_factory=list, description=f"Decisions made (up to {MAX_DECISIONS}, each 1-500 characters).")
    brief_week: date | None = strawberry.field(
        default=None, description="The weekly brief reviewed: the Monday of its ISO week (weeklyBrief.weekStart).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The review was recorded.")
class RecordReviewSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    review_pk: strawberry.Private[int]
    deployment_pk: strawberry.Private[int]

    @strawberry.field(description="The review recorded.")
    async def review(self, info: Info) -> Review:
        return present(await info.context.loaders.review.load(self.review_pk), "the review")

    @strawberry.field(description="The deployment, as of the review (health, metrics).")
    async def deployment(self, info: Info) -> DeploymentRef:
        return await _load_deployment(info, self.deployment_pk)


RecordReviewPayload = Annotated[
    RecordReviewSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("RecordReviewPayload", description="The result of recordReview: the success or a typed error."),
]


async def record_review(info: Info, input: Annotated[RecordReviewInput, INPUT]) -> RecordReviewPayload:
    async def work(w: Write) -> RecordReviewSuccess:
        deployment_id = await _deployment(w, input.deployment_id)
        reviewed_at = await w.effective(input.reviewed_at, "reviewedAt")
        reviewer_id = await _person_at(w, input.reviewer_id, "reviewerId", reviewed_at)
        notes = text(input.notes, "notes", limit=10_000)
        if len(input.decisions) > MAX_DECISIONS:
            raise invalid(f"at most {MAX_DECISIONS} decisions", "decisions")
        decisions = [text(d, "decisions", required=True, limit=500) for d in input.decisions]
        pk = await w.db.fetchval(SQL["insert_review"], w.org_id, deployment_id, reviewer_id, reviewed_at, notes,
                                 decisions, input.brief_week)
        return RecordReviewSuccess(replayed=False, review_pk=pk, deployment_pk=deployment_id)

    return await run(info, "recordReview", "write:activity", input, work)


@strawberry.type(description="Activity: workflow updates and reviews (write:activity).")
class ActivityMutations:
    record_workflow_update = strawberry.mutation(resolver=record_workflow_update, description=(
        "Record a workflow update (a change to the AI). Needs write:activity."))
    record_review = strawberry.mutation(resolver=record_review, description=(
        "Record a performance review. Needs write:activity."))
