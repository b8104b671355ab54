"""Query fields of people: the organization's people, by name."""
from __future__ import annotations

import strawberry

from schema.info import Info
from schema.organizations.types import org_id_for
from schema.people.types import Person, PersonFilter, people
from schema.relay import Connection


@strawberry.type
class PeopleQueries:
    @strawberry.field(description="People of your organization, by name.")
    async def people(
        self, info: Info, org_slug: str | None = None, filter: PersonFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Person]:
        return await people(info, await org_id_for(info, org_slug), filter, first, after, last, before)
