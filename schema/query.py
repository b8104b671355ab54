"""The Query root."""
from __future__ import annotations

from typing import Any, Protocol

import strawberry

from schema import queries as q
from schema.activity.types import Review, Topic, Workflow, WorkflowUpdate, WorkflowUpdateFilter, workflow_updates
from schema.deployments.types import Deployment, DeploymentFilter, DeploymentOrder, deployments
from schema.errors import bad_input, not_found
from schema.health.events import HealthEvent
from schema.metrics import OwnershipSummary
from schema.organizations.types import Organization, org_id_for, ownership_summary
from schema.ownership.audit import AuditLogFilter, OwnershipChange, audit_log
from schema.people.types import OwnershipAssignment, Person, PersonFilter, people
from schema.relay import Connection, Node, from_global_id
from schema.windows import WindowInput


class FromRow(Protocol):
    """A node type: built from its loader's row."""

    @classmethod
    def from_row(cls, row: Any) -> Any: ...


# global ID type -> (loader attribute, type)
NODE_TYPES: dict[str, tuple[str, type[FromRow]]] = {
    "Organization": ("organization", Organization),
    "Deployment": ("deployment", Deployment),
    "Person": ("person", Person),
    "Topic": ("topic", Topic),
    "Workflow": ("workflow", Workflow),
    "WorkflowUpdate": ("workflow_update", WorkflowUpdate),
    "Review": ("review", Review),
    "OwnershipAssignment": ("assignment", OwnershipAssignment),
    "OwnershipChange": ("ownership_change", OwnershipChange),
    "HealthEvent": ("health_event", HealthEvent),
}


async def load_node(info: strawberry.Info, global_id: str, *types: str, field: str = "id"):
    type_name, pk = from_global_id(global_id, *(types or tuple(NODE_TYPES)), field=field)
    loader_name, node_type = NODE_TYPES[type_name]
    row = await getattr(info.context.loaders, loader_name).load(pk)
    if row is None:
        raise not_found(type_name, field)
    return node_type.from_row(row)


@strawberry.type(description="Reads, scoped to the token's organization (needs the `read` scope).")
class Query:
    @strawberry.field(description="Any object by its global ID; null, with a NOT_FOUND error, if it does not "
                                  "exist in your organization (the rest of the answer stands).")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field(description="Your organization by slug; null, with a NOT_FOUND error, for any other slug.")
    async def organization(self, info: strawberry.Info, slug: str) -> Organization | None:
        org_id = await org_id_for(info, slug, "slug")
        return Organization.from_row(await info.context.loaders.organization.load(org_id))

    @strawberry.field(description="Organizations visible to the token (its own).")
    async def organizations(self, info: strawberry.Info) -> list[Organization]:
        return [Organization.from_row(r) for r in await info.context.db.fetch(q.ORGS)]

    @strawberry.field(description="Deployments of your organization, filtered, sorted and paged.")
    async def deployments(
        self, info: strawberry.Info, org_slug: str | None = None, filter: DeploymentFilter | None = None,
        order_by: DeploymentOrder | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Deployment]:
        return await deployments(info, await org_id_for(info, org_slug), filter, order_by, first, after, last, before)

    @strawberry.field(description="One deployment, by global `id` or by `orgSlug` and `key`; null, with a "
                                  "NOT_FOUND error, if there is none.")
    async def deployment(self, info: strawberry.Info, id: strawberry.ID | None = None, org_slug: str | None = None,
                         key: str | None = None) -> Deployment | None:
        if id is not None:
            if key is not None:
                raise bad_input("give either `id` or `key`, not both", "id")
            return await load_node(info, id, "Deployment")
        if key is None:
            raise bad_input("give `id`, or `key` (with `orgSlug`)", "id")
        row = await info.context.db.fetchrow(q.DEPLOYMENT_BY_KEY, await org_id_for(info, org_slug), key)
        if row is None:
            raise not_found("deployment", "key")
        return Deployment.from_row(row)

    @strawberry.field(description="People of your organization, by name.")
    async def people(
        self, info: strawberry.Info, org_slug: str | None = None, filter: PersonFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Person]:
        return await people(info, await org_id_for(info, org_slug), filter, first, after, last, before)

    @strawberry.field(description="Workflow updates of your organization, newest first.")
    async def workflow_updates(
        self, info: strawberry.Info, filter: WorkflowUpdateFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[WorkflowUpdate]:
        return await workflow_updates(info, filter, first, after, last, before)

    @strawberry.field(description="Health counts now and ARR owned vs unowned over a window (default 90 days).")
    async def ownership_summary(self, info: strawberry.Info, org_slug: str | None = None,
                                window: WindowInput | None = None) -> OwnershipSummary:
        return await ownership_summary(info, await org_id_for(info, org_slug), window)

    @strawberry.field(description="Ownership changes made through the API (who, which token, when, before, after, "
                                  "why), newest first.")
    async def audit_log(
        self, info: strawberry.Info, filter: AuditLogFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[OwnershipChange]:
        return await audit_log(info, filter, first, after, last, before)
