"""The health event log: every change of a deployment's health, who took it on, and its escalation path."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from schema.deployments.ref import DeploymentRef
from schema.deployments.types import HealthReasonCode, HealthStatus
from schema.errors import present
from schema.info import Info
from schema.ownership.audit import OwnershipChange, load_change
from schema.people.types import Person
from schema.relay import Connection, Node, Sort, connection, from_global_id, keyset_args, page_request, to_global_id
from service.sql_files import load

if TYPE_CHECKING:
    pass

SQL = load("schema.health", "queries.sql")

# Newest first: one deployment's events are serialized by a lock, so its ids grow in commit order.
NEWEST_FIRST = Sort("id", "bigint", descending=True)


@strawberry.enum(description="What caused a health change.")
class HealthEventCause(Enum):
    WRITE = strawberry.enum_value(
        "WRITE", description="A write (mutation or ingest), recorded in the same transaction; requestId names it.")
    TIME = strawberry.enum_value(
        "TIME", description="Time passed a threshold (e.g. 14 days without an update: STALE), recorded by the "
                            "evaluator that runs inside `steward serve`.")


@strawberry.type(description="Who took a health event on, when, and what they noted.")
class HealthEventAcknowledgement:
    at: datetime = strawberry.field(description="When the event was acknowledged.")
    note: str | None = strawberry.field(description="The note given, if any.")
    by: str = strawberry.field(description="Name of the API token that acknowledged it.")
    token_id: int | None = strawberry.field(description="ID of that API token.")

    @classmethod
    def from_row(cls, row) -> "HealthEventAcknowledgement":
        return cls(at=row["acknowledged_at"], note=row["note"], by=row["token_name"], token_id=row["token_id"])


@strawberry.type(description="One change of a deployment's health status or reason set (append-only log). "
                             "statusBefore is null for a baseline: the first evaluation of the deployment.")
class HealthEvent(Node):
    occurred_at: datetime = strawberry.field(description="When the change happened (the instant it was evaluated).")
    status_before: HealthStatus | None = strawberry.field(description="Status before; null for a baseline.")
    status_after: HealthStatus = strawberry.field(description="Status after.")
    reasons_before: list[HealthReasonCode] | None = strawberry.field(
        description="Reason codes before, sorted; null for a baseline.")
    reasons_after: list[HealthReasonCode] = strawberry.field(description="Reason codes after, sorted.")
    cause: HealthEventCause = strawberry.field(description="A write, or the passage of time.")
    request_id: str | None = strawberry.field(description="The x-request-id of the write that caused it (WRITE).")
    pk: strawberry.Private[int]
    deployment_pk: strawberry.Private[int]
    change_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]
    escalation_pk: strawberry.Private[int | None]

    @strawberry.field(description="The deployment whose health changed.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return present(await info.context.loaders.deployment.load(self.deployment_pk), "the deployment")

    @strawberry.field(description="The ownership change (audit entry) that caused it, when an ownership write did.")
    async def ownership_change(self, info: Info) -> OwnershipChange | None:
        return await load_change(info, self.change_pk)

    @strawberry.field(description="The accountable owner when the event was recorded; null when unowned.")
    async def owner(self, info: Info) -> Person | None:
        return await _person(info, self.owner_pk)

    @strawberry.field(description="The deployment's escalation contact when the event was recorded; null if none.")
    async def escalation_contact(self, info: Info) -> Person | None:
        return await _person(info, self.escalation_pk)

    @strawberry.field(description="Who took the event on; null while unacknowledged.")
    async def acknowledgement(self, info: Info) -> HealthEventAcknowledgement | None:
        return await info.context.loaders.health_event_acknowledgement.load(self.pk)

    @classmethod
    def from_row(cls, row) -> "HealthEvent":
        def codes(values):
            return None if values is None else [HealthReasonCode(v) for v in values]

        return cls(id=to_global_id("HealthEvent", row["id"]), occurred_at=row["occurred_at"],
                   status_before=None if row["status_before"] is None else HealthStatus(row["status_before"]),
                   status_after=HealthStatus(row["status_after"]), reasons_before=codes(row["reasons_before"]),
                   reasons_after=codes(row["reasons_after"]), cause=HealthEventCause(row["cause"]),
                   request_id=row["request_id"], pk=row["id"], deployment_pk=row["deployment_id"],
                   change_pk=row["ownership_change_id"], owner_pk=row["owner_person_id"],
                   escalation_pk=row["escalation_person_id"])


async def _person(info: Info, pk: int | None) -> Person | None:
    return None if pk is None else await info.context.loaders.person.load(pk)


@strawberry.input(description="Which health events to list.")
class HealthEventFilter:
    deployment_id: strawberry.ID | None = strawberry.field(default=None, description="Only this deployment.")
    acknowledged: bool | None = strawberry.field(
        default=None, description="Only acknowledged (true) or unacknowledged (false) events.")
    status: HealthStatus | None = strawberry.field(default=None, description="Only events whose status after is this.")
    cause: HealthEventCause | None = strawberry.field(default=None, description="Only this cause.")


async def health_events(info: Info, org_id: int, filter: HealthEventFilter | None,
                        first, after, last, before) -> Connection[HealthEvent]:
    """Organization.healthEvents: the organization's health events, newest first."""
    ctx = info.context
    f = filter or HealthEventFilter()
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    args = [org_id,
            from_global_id(f.deployment_id, "Deployment", field="filter.deploymentId")[1]
            if f.deployment_id is not None else None,
            f.acknowledged, f.status.value if f.status is not None else None,
            f.cause.value if f.cause is not None else None]
    rows = await ctx.db.fetch(SQL["health_events"], *args, *keyset_args(NEWEST_FIRST, page))
    return connection(rows, page, NEWEST_FIRST, HealthEvent.from_row,
                      lambda: ctx.db.fetchval(SQL["count_health_events"], *args))
