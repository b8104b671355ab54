"""Query fields of organizations: yours by slug, and the list of those visible to the token."""
from __future__ import annotations

import strawberry

from schema.errors import present
from schema.info import Info
from schema.organizations.types import SQL, Organization, org_id_for


@strawberry.type
class OrganizationQueries:
    @strawberry.field(description="Your organization by slug; null, with a NOT_FOUND error, for any other slug.")
    async def organization(self, info: Info, slug: str) -> Organization | None:
        org_id = await org_id_for(info, slug, "slug")
        return present(await info.context.loaders.organization.load(org_id), "the organization")

    @strawberry.field(description="Organizations visible to the token (its own).")
    async def organizations(self, info: Info) -> list[Organization]:
        return [Organization.from_row(r) for r in await info.context.db.fetch(SQL["organizations"])]
