"""People mutations: add people who can own AI and keep their details current."""
from __future__ import annotations

import re
from typing import Annotated

import strawberry

from schema.errors import ConflictError, NotFoundError, PermissionError, ValidationError, present
from schema.info import Info
from schema.people.types import Person, PersonFunction
from schema.writes import IDEMPOTENCY_KEY, INPUT, REPLAYED, Write, invalid, missing, run, success, text
from service.sql_files import load

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@strawberry.input(description="A new person who can own AI.")
class CreatePersonInput:
    name: str = strawberry.field(description="Full name (1-200 characters).")
    email: str = strawberry.field(description="Work email, unique in the organization (case-insensitive).")
    function: PersonFunction = strawberry.field(description="Where in the company the person works.")
    title: str | None = strawberry.field(default=None, description="Job title.")
    fte_on_ai: float = strawberry.field(default=0.0, description="Share of a full-time person (0-1) spent on AI.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.input(description="Changes to a person; fields left out stay as they are (deactivatePerson deactivates).")
class UpdatePersonInput:
    id: strawberry.ID = strawberry.field(description="The person.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Full name.")
    email: str | None = strawberry.field(default=strawberry.UNSET, description="Work email.")
    function: PersonFunction | None = strawberry.field(default=strawberry.UNSET, description="Function.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Job title; null clears it.")
    fte_on_ai: float | None = strawberry.field(default=strawberry.UNSET, description="FTE on AI (0-1).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The person was created.")
class CreatePersonSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    person_pk: strawberry.Private[int]

    @strawberry.field(description="The new person.")
    async def person(self, info: Info) -> Person:
        return present(await info.context.loaders.person.load(self.person_pk), "the person")


@success
@strawberry.type(description="The person was updated.")
class UpdatePersonSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    person_pk: strawberry.Private[int]

    @strawberry.field(description="The person, as updated.")
    async def person(self, info: Info) -> Person:
        return present(await info.context.loaders.person.load(self.person_pk), "the person")


CreatePersonPayload = Annotated[
    CreatePersonSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("CreatePersonPayload", description="The result of createPerson: the success or a typed error."),
]
UpdatePersonPayload = Annotated[
    UpdatePersonSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("UpdatePersonPayload", description="The result of updatePerson: the success or a typed error."),
]

SQL = load("schema.people", "queries.sql")


def _person_fields(name=strawberry.UNSET, email=strawberry.UNSET, title=strawberry.UNSET,
                   function=strawberry.UNSET, fte_on_ai=strawberry.UNSET) -> dict:
    """Validated column values of the fields given (UNSET ones are left out)."""
    values: dict = {}
    if name is not strawberry.UNSET:
        values["name"] = text(name, "name", required=True, limit=200)
    if email is not strawberry.UNSET:
        email = text(email, "email", required=True, limit=320)
        if not EMAIL.match(email):
            raise invalid("email is not an email address", "email")
        values["email"] = email
    if title is not strawberry.UNSET:
        values["title"] = text(title, "title", limit=200)
    if function is not strawberry.UNSET:
        if function is None:
            raise invalid("function must not be null", "function")
        values["function"] = function.value
    if fte_on_ai is not strawberry.UNSET:
        if fte_on_ai is None or not 0 <= fte_on_ai <= 1:
            raise invalid("fteOnAi must be between 0 and 1", "fteOnAi")
        values["fte_on_ai"] = round(fte_on_ai, 2)
    return values


async def create_person(info: Info, input: Annotated[CreatePersonInput, INPUT]) -> CreatePersonPayload:
    async def work(w: Write) -> CreatePersonSuccess:
        v = _person_fields(input.name, input.email, input.title, input.function, input.fte_on_ai)
        pk = await w.db.fetchval(SQL["insert_person"], w.org_id, v["name"], v["email"], v["title"], v["function"],
                                 v["fte_on_ai"])
        return CreatePersonSuccess(replayed=False, person_pk=pk)

    return await run(info, "createPerson", "write:owners", input, work)


async def update_person(info: Info, input: Annotated[UpdatePersonInput, INPUT]) -> UpdatePersonPayload:
    async def work(w: Write) -> UpdatePersonSuccess:
        pk = w.decode(input.id, "Person", "id")
        v = _person_fields(input.name, input.email, input.title, input.function, input.fte_on_ai)
        columns = ("name", "email", "title", "function", "fte_on_ai")
        if await w.db.fetchval(SQL["update_person"], pk, list(v), *(v.get(c) for c in columns),
                                 w.org_id) is None:
            raise missing("Person", "id")
        if v:  # the health of what they own follows their function and FTE; no change writes nothing
            w.touched_people.add(pk)
        return UpdatePersonSuccess(replayed=False, person_pk=pk)

    return await run(info, "updatePerson", "write:owners", input, work)


@strawberry.type(description="People who can own AI (write:owners).")
class PeopleMutations:
    create_person = strawberry.mutation(resolver=create_person, description=(
        "Add a person who can own AI. Needs write:owners."))
    update_person = strawberry.mutation(resolver=update_person, description=(
        "Change a person's details. Needs write:owners."))
