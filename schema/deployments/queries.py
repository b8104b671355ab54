"""Query fields of deployments: a filtered, sorted, paged list, and one by global ID or by key."""
from __future__ import annotations

from typing import cast

import strawberry

from schema.deployments.types import SQL, Deployment, DeploymentFilter, DeploymentOrder, deployments
from schema.errors import bad_input, not_found
from schema.info import Info
from schema.nodes import load_node
from schema.organizations.types import org_id_for
from schema.relay import Connection


@strawberry.type
class DeploymentQueries:
    @strawberry.field(description="Deployments of your organization, filtered, sorted and paged.")
    async def deployments(
        self, info: Info, org_slug: str | None = None, filter: DeploymentFilter | None = None,
        order_by: DeploymentOrder | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Deployment]:
        return await deployments(info, await org_id_for(info, org_slug), filter, order_by, first, after, last, before)

    @strawberry.field(description="One deployment, by global `id` or by `orgSlug` and `key`; null, with a "
                                  "NOT_FOUND error, if there is none.")
    async def deployment(self, info: Info, id: strawberry.ID | None = None, org_slug: str | None = None,
                         key: str | None = None) -> Deployment | None:
        if id is not None:
            if key is not None:
                raise bad_input("give either `id` or `key`, not both", "id")
            return cast(Deployment, await load_node(info, id, "Deployment"))
        if key is None:
            raise bad_input("give `id`, or `key` (with `orgSlug`)", "id")
        row = await info.context.db.fetchrow(SQL["deployment_by_key"], await org_id_for(info, org_slug), key)
        if row is None:
            raise not_found("deployment", "key")
        return Deployment.from_row(row)
