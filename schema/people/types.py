"""People who can own AI, and ownership periods."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from schema.activity.types import WorkflowUpdate, WorkflowUpdateKind, updates_of
from schema.deployments.ref import DeploymentRef
from schema.errors import present
from schema.info import Info
from schema.relay import Connection, Node, Sort, connection, keyset_args, page_request, to_global_id
from schema.windows import WindowInput
from service.sql_files import load

if TYPE_CHECKING:
    pass

SQL = load("schema.people", "queries.sql")


@strawberry.enum(description="Where in the company a person works.")
class PersonFunction(Enum):
    CX = strawberry.enum_value("CX", description="Customer experience (support, care): where an owner belongs.")
    ENGINEERING = strawberry.enum_value("ENGINEERING", description="Engineering or product.")
    IT = strawberry.enum_value("IT", description="Internal IT.")
    VENDOR = strawberry.enum_value("VENDOR", description="Works for the AI vendor or an agency, not the brand.")
    OTHER = strawberry.enum_value("OTHER", description="Anywhere else in the company.")


@strawberry.type(description="Someone who can own a customer-service AI.")
class Person(Node):
    name: str = strawberry.field(description="Full name.")
    email: str = strawberry.field(description="Work email, unique in the organization.")
    title: str | None = strawberry.field(description="Job title.")
    function: PersonFunction = strawberry.field(description="Where in the company the person works.")
    fte_on_ai: float = strawberry.field(description="Share of a full-time person (0-1) spent on AI.")
    active: bool = strawberry.field(description="False once the person has left (deactivated, never deleted).")
    deactivated_at: datetime | None = strawberry.field(description="When the person was deactivated.")
    pk: strawberry.Private[int]

    @strawberry.field(description="Deployments this person owns now.")
    async def owned_deployments(
        self, info: Info
    ) -> list[DeploymentRef]:
        return await info.context.loaders.owned_deployments.load(self.pk)

    @strawberry.field(description="Workflow updates this person made, newest first.")
    async def workflow_updates(
        self, info: Info, kind: WorkflowUpdateKind | None = None, window: WindowInput | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[WorkflowUpdate]:
        return await updates_of(info, "author", self.pk, kind, window, first, after, last, before)

    @classmethod
    def from_row(cls, row) -> "Person":
        return cls(id=to_global_id("Person", row["id"]), name=row["name"], email=row["email"], title=row["title"],
                   function=PersonFunction(row["function"]), fte_on_ai=float(row["fte_on_ai"]),
                   active=row["active"], deactivated_at=row["deactivated_at"], pk=row["id"])


@strawberry.type(description="A period during which one person was the accountable owner of a deployment.")
class OwnershipAssignment(Node):
    valid_from: datetime = strawberry.field(description="Start of the period.")
    valid_to: datetime | None = strawberry.field(description="End of the period (exclusive); null while open.")
    is_current: bool = strawberry.field(description="True for the period holding now.")
    assigned_by: str = strawberry.field(description="Who made the assignment.")
    reason: str | None = strawberry.field(description="Why it was made.")
    ended_reason: str | None = strawberry.field(description="Why it ended.")
    person_id: strawberry.Private[int]
    deployment_id: strawberry.Private[int]

    @strawberry.field(description="The owner during this period.")
    async def person(self, info: Info) -> Person:
        return present(await info.context.loaders.person.load(self.person_id), "the owner")

    @strawberry.field(description="The deployment owned.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return present(await info.context.loaders.deployment.load(self.deployment_id), "the deployment")

    @classmethod
    def from_row(cls, row) -> "OwnershipAssignment":
        return cls(id=to_global_id("OwnershipAssignment", row["assignment_id"]), valid_from=row["valid_from"],
                   valid_to=row["valid_to"], is_current=row["is_current"], assigned_by=row["assigned_by"],
                   reason=row["reason"], ended_reason=row["ended_reason"], person_id=row["person_id"],
                   deployment_id=row["deployment_id"])


@strawberry.input(description="Which people to list.")
class PersonFilter:
    active: bool | None = strawberry.field(default=None, description="Only active (or only deactivated) people.")
    function: PersonFunction | None = strawberry.field(default=None, description="Only this function.")
    search: str | None = strawberry.field(default=None, description="Name or email contains this text.")


BY_NAME = Sort("name", "text")


async def people(info: Info, org_id: int, filter: PersonFilter | None,
                 first, after, last, before) -> Connection[Person]:
    ctx = info.context
    f = filter or PersonFilter()
    page = page_request(first, after, last, before, ctx.settings.max_page_size)
    args = [org_id, f.active, f.function.value if f.function is not None else None,
            f"%{escape_like(f.search)}%" if f.search else None]
    rows = await ctx.db.fetch(SQL["people"], *args, *keyset_args(BY_NAME, page))
    return connection(rows, page, BY_NAME, Person.from_row, lambda: ctx.db.fetchval(SQL["count_people"], *args))


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
