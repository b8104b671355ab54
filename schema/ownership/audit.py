"""Reading the audit log of ownership changes: the OwnershipChange type and its newest-first connections.

The write side (appending a change) is schema/ownership/record.py.
"""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, overload

import strawberry

from schema.deployments.ref import DeploymentRef
from schema.errors import present
from schema.info import Info
from schema.people.types import OwnershipAssignment, Person
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
from service.sql_files import load

if TYPE_CHECKING:
    pass

SQL = load("schema.ownership", "queries.sql")

# Newest first: ids grow in commit order for one deployment (its changes are serialized by a row lock).
NEWEST_FIRST = Sort("id", "bigint", descending=True)
# a deployment's changes (the audit log filtered by deployment beyond its first page)
CHANGES = NestedList("deployment_id", SQL["first_changes_by_deployment"], SQL["change_counts_by_deployment"],
                     SQL["audit_log"])


@strawberry.enum(description="What an ownership change did.")
class OwnershipChangeAction(Enum):
    ASSIGNED = strawberry.enum_value("ASSIGNED", description="An owner was named where there was none.")
    HANDED_OVER = strawberry.enum_value("HANDED_OVER", description="Ownership passed from one person to another.")
    UNASSIGNED = strawberry.enum_value("UNASSIGNED", description="The owner was removed; the deployment is unowned.")
    OWNER_DEACTIVATED = strawberry.enum_value(
        "OWNER_DEACTIVATED", description="The owner was deactivated (left); the deployment is unowned.")


@strawberry.type(description="One ownership change made through the API: who, when, before, after, why.")
class OwnershipChange(Node):
    action: OwnershipChangeAction = strawberry.field(description="What the change did.")
    effective_at: datetime = strawberry.field(description="When the change takes effect (the period boundary).")
    recorded_at: datetime = strawberry.field(description="When the change was written.")
    reason: str | None = strawberry.field(description="Why, as the caller gave it.")
    token_id: int | None = strawberry.field(description="ID of the API token that made the change.")
    token_name: str = strawberry.field(description="Name of the API token that made the change.")
    request_id: str | None = strawberry.field(description="The x-request-id of the request that made the change.")
    deployment_id: strawberry.Private[int]
    previous_person_id: strawberry.Private[int | None]
    new_person_id: strawberry.Private[int | None]
    ended_assignment_id: strawberry.Private[int | None]
    started_assignment_id: strawberry.Private[int | None]

    @strawberry.field(description="The deployment whose owner changed.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return present(await info.context.loaders.deployment.load(self.deployment_id), "the deployment")

    @strawberry.field(description="The owner before the change; null if there was none.")
    async def previous_owner(self, info: Info) -> Person | None:
        return await _person(info, self.previous_person_id)

    @strawberry.field(description="The owner after the change; null if the deployment became unowned.")
    async def new_owner(self, info: Info) -> Person | None:
        return await _person(info, self.new_person_id)

    @strawberry.field(description="The ownership period the change ended, if any.")
    async def ended_assignment(self, info: Info) -> OwnershipAssignment | None:
        return await _assignment(info, self.ended_assignment_id)

    @strawberry.field(description="The ownership period the change started, if any.")
    async def started_assignment(self, info: Info) -> OwnershipAssignment | None:
        return await _assignment(info, self.started_assignment_id)

    @classmethod
    def from_row(cls, row) -> "OwnershipChange":
        return cls(id=to_global_id("OwnershipChange", row["id"]), action=OwnershipChangeAction(row["action"]),
                   effective_at=row["effective_at"], recorded_at=row["recorded_at"], reason=row["reason"],
                   token_id=row["token_id"], token_name=row["token_name"], request_id=row["request_id"],
                   deployment_id=row["deployment_id"], previous_person_id=row["previous_person_id"],
                   new_person_id=row["new_person_id"], ended_assignment_id=row["ended_assignment_id"],
                   started_assignment_id=row["started_assignment_id"])


async def _person(info: Info, pk: int | None) -> Person | None:
    return None if pk is None else await info.context.loaders.person.load(pk)


async def _assignment(info: Info, pk: int | None) -> OwnershipAssignment | None:
    return None if pk is None else await info.context.loaders.assignment.load(pk)


@overload
async def load_change(info: Info, pk: int) -> OwnershipChange: ...


@overload
async def load_change(info: Info, pk: None) -> None: ...


async def load_change(info: Info, pk: int | None) -> OwnershipChange | None:
    return None if pk is None else present(await info.context.loaders.ownership_change.load(pk), "the change")


@strawberry.input(description="Which audit entries to list.")
class AuditLogFilter:
    deployment_id: strawberry.ID | None = strawberry.field(default=None, description="Only this deployment.")
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only changes this person was the owner before or after.")
    action: OwnershipChangeAction | None = strawberry.field(default=None, description="Only this action.")


async def audit_log(info: Info, filter: AuditLogFilter | None,
                    first, after, last, before) -> Connection[OwnershipChange]:
    """Query.auditLog: the organization's ownership changes, newest first."""
    ctx = info.context
    f = filter or AuditLogFilter()
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    args = [from_global_id(f.deployment_id, "Deployment", field="filter.deploymentId")[1]
            if f.deployment_id is not None else None,
            from_global_id(f.person_id, "Person", field="filter.personId")[1] if f.person_id is not None else None,
            f.action.value if f.action is not None else None]
    org = ctx.principal.org_id
    rows = await ctx.db.fetch(SQL["audit_log"], *args, *keyset_args(NEWEST_FIRST, page), org)
    return connection(rows, page, NEWEST_FIRST, OwnershipChange.from_row,
                      lambda: ctx.db.fetchval(SQL["count_audit_log"], *args, org))


async def deployment_audit_log(info: Info, deployment_id: int,
                               first, after, last, before) -> Connection[OwnershipChange]:
    """Deployment.auditLog: first pages are batched across deployments."""
    page = page_request(first, after, last, before, info.context.settings.max_page_size)
    return await nested_connection(info, CHANGES, deployment_id, page, NEWEST_FIRST, OwnershipChange.from_row,
                                   page_args=(deployment_id, None, None))
