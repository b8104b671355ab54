"""Admin mutations: create and update deployments, change the organization's health policy."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.utils.str_converters import to_camel_case

from schema.activity.types import Channel
from schema.deployments.types import Deployment, DeploymentStatus
from schema.errors import ConflictError, NotFoundError, PermissionError, ValidationError, present
from schema.info import Info
from schema.instants import instant_problem
from schema.review.policy import ReviewersCounted
from schema.writes import IDEMPOTENCY_KEY, INPUT, REPLAYED, Write, invalid, missing, run, success, text
from service.sql_files import load

SQL = load("schema.deployments", "queries.sql")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


async def _load_deployment(info: Info, pk: int) -> Deployment:
    return present(await info.context.loaders.deployment.load(pk), "the deployment")


# --- createDeployment / updateDeployment ---------------------------------------------------------

@strawberry.input(description="A new customer-service AI in production.")
class CreateDeploymentInput:
    key: str = strawberry.field(
        description="Unique in the organization, used by ingest: lowercase letters, digits, '-' and '_'; "
                    "it cannot be changed later.")
    name: str = strawberry.field(description="Display name (1-200 characters).")
    channels: list[Channel] = strawberry.field(description="Channels it serves (at least one).")
    vendor: str | None = strawberry.field(default=None, description="AI vendor.")
    status: DeploymentStatus | None = strawberry.field(
        default=None, description="Lifecycle status (default ACTIVE).")
    launched_at: datetime | None = strawberry.field(default=None, description="When it went live (default now).")
    integrations: int = strawberry.field(default=0, description="Number of integrations it uses.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Changes to a deployment; fields left out stay as they are. The key never changes.")
class UpdateDeploymentInput:
    id: strawberry.ID = strawberry.field(description="The deployment.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Display name.")
    channels: list[Channel] | None = strawberry.field(default=strawberry.UNSET, description="Channels it serves.")
    vendor: str | None = strawberry.field(default=strawberry.UNSET, description="AI vendor; null clears it.")
    status: DeploymentStatus | None = strawberry.field(
        default=strawberry.UNSET, description="Lifecycle status. A RETIRED deployment cannot be given an owner.")
    launched_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="When it went live.")
    integrations: int | None = strawberry.field(default=strawberry.UNSET, description="Number of integrations.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The deployment was created.")
class CreateDeploymentSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    deployment_pk: strawberry.Private[int]

    @strawberry.field(description="The new deployment.")
    async def deployment(self, info: Info) -> Deployment:
        return await _load_deployment(info, self.deployment_pk)


@success
@strawberry.type(description="The deployment was updated.")
class UpdateDeploymentSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    deployment_pk: strawberry.Private[int]

    @strawberry.field(description="The deployment, as updated.")
    async def deployment(self, info: Info) -> Deployment:
        return await _load_deployment(info, self.deployment_pk)


CreateDeploymentPayload = Annotated[
    CreateDeploymentSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("CreateDeploymentPayload",
                     description="The result of createDeployment: the success or a typed error."),
]
UpdateDeploymentPayload = Annotated[
    UpdateDeploymentSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("UpdateDeploymentPayload",
                     description="The result of updateDeployment: the success or a typed error."),
]



def _deployment_fields(name=strawberry.UNSET, channels=strawberry.UNSET, vendor=strawberry.UNSET,
                       status=strawberry.UNSET, launched_at=strawberry.UNSET,
                       integrations=strawberry.UNSET) -> dict:
    """Validated column values of the fields given (UNSET ones are left out)."""
    values: dict = {}
    if name is not strawberry.UNSET:
        values["name"] = text(name, "name", required=True, limit=200)
    if channels is not strawberry.UNSET:
        if not channels:
            raise invalid("a deployment serves at least one channel", "channels")
        values["channels"] = list(dict.fromkeys(c.value for c in channels))
    if vendor is not strawberry.UNSET:
        values["vendor"] = text(vendor, "vendor", limit=200)
    if status is not strawberry.UNSET:
        if status is None:
            raise invalid("status must not be null", "status")
        values["status"] = status.value
    if launched_at is not strawberry.UNSET:
        if launched_at is None or launched_at.tzinfo is None:
            raise invalid("give launchedAt with a time zone offset", "launchedAt")
        if (reason := instant_problem(launched_at)) is not None:  # the DateTime scalar refuses these first
            raise invalid(f"launchedAt {reason}", "launchedAt")
        values["launched_at"] = launched_at
    if integrations is not strawberry.UNSET:
        if integrations is None or integrations < 0:
            raise invalid("integrations must be 0 or more", "integrations")
        values["integrations"] = integrations
    return values


async def create_deployment(info: Info, input: Annotated[CreateDeploymentInput, INPUT]) -> CreateDeploymentPayload:
    async def work(w: Write) -> CreateDeploymentSuccess:
        key = (input.key or "").strip()
        if not KEY.match(key):
            raise invalid("key must be 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
                          "key")
        v = _deployment_fields(input.name, input.channels, input.vendor, input.status or strawberry.UNSET,
                               input.launched_at or strawberry.UNSET, input.integrations)
        pk = await w.db.fetchval(SQL["insert_deployment"], w.org_id, key, v["name"], v["channels"], v.get("vendor"),
                                 v.get("status", "ACTIVE"), v.get("launched_at"), v["integrations"])
        w.touch(pk)  # its baseline health event
        return CreateDeploymentSuccess(replayed=False, deployment_pk=pk)

    return await run(info, "createDeployment", "admin", input, work)


async def update_deployment(info: Info, input: Annotated[UpdateDeploymentInput, INPUT]) -> UpdateDeploymentPayload:
    async def work(w: Write) -> UpdateDeploymentSuccess:
        pk = w.decode(input.id, "Deployment", "id")
        v = _deployment_fields(input.name, input.channels, input.vendor, input.status, input.launched_at,
                               input.integrations)
        columns = ("name", "channels", "vendor", "status", "launched_at", "integrations")
        if await w.db.fetchval(SQL["update_deployment"], pk, list(v), *(v.get(c) for c in columns),
                                 w.org_id) is None:
            raise missing("Deployment", "id")
        if v:  # an update without changes writes nothing
            w.touch(pk)
        return UpdateDeploymentSuccess(replayed=False, deployment_pk=pk)

    return await run(info, "updateDeployment", "admin", input, work)


# --- setHealthPolicy -----------------------------------------------------------------------------

@strawberry.type(description="The organization's health thresholds and reopen window.")
class HealthPolicy:
    reopen_window_hours: int = strawberry.field(
        description="A resolution reopened within this many hours does not count as resolved.")
    stale_update_days: int = strawberry.field(description="STALE after this many days without a workflow update.")
    stale_review_days: int = strawberry.field(description="STALE after this many days without a review.")
    review_due_days: int = strawberry.field(description="AT_RISK after this many days without a review.")
    min_owner_fte: float = strawberry.field(description="AT_RISK when the owner's FTE on AI is below this.")
    arr_drop_points: float = strawberry.field(
        description="AT_RISK when ARR of the last 4 weeks is this many points below the 4 weeks before, or below "
                    "the owner's own baseline (median 4-week ARR of their period).")
    arr_decay_points: float = strawberry.field(
        description="ARR_DECAYED_SINCE_OWNER_LEFT when an open ownership gap's latest 4 weeks are this many points "
                    "below the 4 weeks before it.")
    escalation_after_days: int = strawberry.field(
        description="ESCALATION_UNACKNOWLEDGED after an UNOWNED or ARR-decay health event has gone "
                    "unacknowledged for this many days.")
    reviewers_counted: ReviewersCounted = strawberry.field(
        description="Whose reviews count for health, weeksReviewed, the weekly brief and maturity.")
    updated_at: datetime = strawberry.field(description="When the policy last changed.")

    @classmethod
    def from_row(cls, row) -> "HealthPolicy":
        return cls(reopen_window_hours=int(row["reopen_window"].total_seconds() // 3600),
                   stale_update_days=row["stale_update_days"], stale_review_days=row["stale_review_days"],
                   review_due_days=row["review_due_days"], min_owner_fte=float(row["min_owner_fte"]),
                   arr_drop_points=float(row["arr_drop_points"]), arr_decay_points=float(row["arr_decay_points"]),
                   escalation_after_days=row["escalation_after_days"],
                   reviewers_counted=ReviewersCounted(row["reviewers_counted"]), updated_at=row["updated_at"])


@strawberry.input(description="New health thresholds; fields left out stay as they are.")
class SetHealthPolicyInput:
    reopen_window_hours: int | None = strawberry.field(default=strawberry.UNSET, description="1 to 168 hours.")
    stale_update_days: int | None = strawberry.field(default=strawberry.UNSET, description="1 to 365 days.")
    stale_review_days: int | None = strawberry.field(default=strawberry.UNSET, description="1 to 365 days.")
    review_due_days: int | None = strawberry.field(default=strawberry.UNSET, description="1 to 365 days.")
    min_owner_fte: float | None = strawberry.field(default=strawberry.UNSET, description="0 to 1.")
    arr_drop_points: float | None = strawberry.field(default=strawberry.UNSET, description="0 to 100 points.")
    arr_decay_points: float | None = strawberry.field(default=strawberry.UNSET, description="0 to 100 points.")
    escalation_after_days: int | None = strawberry.field(default=strawberry.UNSET, description="1 to 365 days.")
    reviewers_counted: ReviewersCounted | None = strawberry.field(
        default=strawberry.UNSET, description="Whose reviews count (OWNER by default).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The health policy was changed; health and metrics follow it at once.")
class SetHealthPolicySuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    org_pk: strawberry.Private[int]

    @strawberry.field(description="The policy, as changed.")
    async def policy(self, info: Info) -> HealthPolicy:
        return HealthPolicy.from_row(await info.context.db.fetchrow(SQL["health_policy"], self.org_pk))


SetHealthPolicyPayload = Annotated[
    SetHealthPolicySuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("SetHealthPolicyPayload",
                     description="The result of setHealthPolicy: the success or a typed error."),
]

# field -> (low, high), in the order of update_health_policy's parameters
POLICY_FIELDS = {
    "reopen_window_hours": (1, 168),
    "stale_update_days": (1, 365),
    "stale_review_days": (1, 365),
    "review_due_days": (1, 365),
    "min_owner_fte": (0, 1),
    "arr_drop_points": (0, 100),
    "arr_decay_points": (0, 100),
    "escalation_after_days": (1, 365),
}


async def set_health_policy(info: Info, input: Annotated[SetHealthPolicyInput, INPUT]) -> SetHealthPolicyPayload:
    async def work(w: Write) -> SetHealthPolicySuccess:
        given: list[str] = []
        values: list[int | float | str | None] = []
        for name, (low, high) in POLICY_FIELDS.items():
            value = getattr(input, name)
            if value is strawberry.UNSET:
                values.append(None)
                continue
            camel = to_camel_case(name)
            if value is None or not low <= value <= high:
                raise invalid(f"{camel} must be between {low} and {high}", camel)
            given.append(name)
            values.append(value)
        if input.reviewers_counted is strawberry.UNSET:
            values.append(None)
        elif input.reviewers_counted is None:
            raise invalid("reviewersCounted must be OWNER, OWNER_OR_CX or ANYONE", "reviewersCounted")
        else:
            given.append("reviewers_counted")
            values.append(input.reviewers_counted.value)
        if await w.db.fetchval(SQL["update_health_policy"], w.org_id, given, *values) is None:
            raise missing("health policy")
        w.touched_org = True  # new thresholds: every live deployment is evaluated again
        return SetHealthPolicySuccess(replayed=False, org_pk=w.org_id)

    return await run(info, "setHealthPolicy", "admin", input, work)


@strawberry.type(description="Deployments (admin).")
class DeploymentMutations:
    create_deployment = strawberry.mutation(resolver=create_deployment, description=(
        "Add a deployment. Needs admin."))
    update_deployment = strawberry.mutation(resolver=update_deployment, description=(
        "Change a deployment's details or status. Needs admin."))


@strawberry.type(description="The health policy (admin).")
class HealthPolicyMutations:
    set_health_policy = strawberry.mutation(resolver=set_health_policy, description=(
        "Change the organization's health thresholds and reopen window. Needs admin."))
