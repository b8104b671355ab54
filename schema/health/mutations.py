"""Taking health events on: acknowledge an event, name a deployment's escalation contact."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.deployments.ref import DeploymentRef
from schema.errors import ConflictError, NotFoundError, PermissionError, ValidationError, present
from schema.health.events import HealthEvent
from schema.health.record import SQL
from schema.info import Info
from schema.writes import IDEMPOTENCY_KEY, INPUT, REPLAYED, Write, conflict, invalid, missing, run, success, text

if TYPE_CHECKING:
    pass

MAX_NOTE = 2000


# --- acknowledgeHealthEvent ----------------------------------------------------------------------

@strawberry.input(description="Take a health event on: record who (this token), when and a note.")
class AcknowledgeHealthEventInput:
    event_id: strawberry.ID = strawberry.field(description="The health event.")
    note: str | None = strawberry.field(default=None, description=f"What is being done (up to {MAX_NOTE} characters).")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The event is acknowledged; an escalation it caused is lifted.")
class AcknowledgeHealthEventSuccess:
    replayed: bool = strawberry.field(description=REPLAYED)
    event_pk: strawberry.Private[int]

    @strawberry.field(description="The event, with its acknowledgement.")
    async def event(self, info: Info) -> HealthEvent:
        return present(await info.context.loaders.health_event.load(self.event_pk), "the health event")


AcknowledgeHealthEventPayload = Annotated[
    AcknowledgeHealthEventSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("AcknowledgeHealthEventPayload",
                     description="The result of acknowledgeHealthEvent: the success or a typed error."),
]


async def acknowledge_health_event(
    info: Info, input: Annotated[AcknowledgeHealthEventInput, INPUT]
) -> AcknowledgeHealthEventPayload:
    async def work(w: Write) -> AcknowledgeHealthEventSuccess:
        event_id = w.decode(input.event_id, "HealthEvent", "eventId")
        note = text(input.note, "note", limit=MAX_NOTE)
        event = await w.db.fetchrow(SQL["event_for_acknowledgement"], event_id, w.org_id)
        if event is None:
            raise missing("HealthEvent", "eventId")
        who = await w.actor()
        # a concurrent acknowledgement of the same event waits on the key, then finds it taken
        if await w.db.fetchval(SQL["acknowledge"], w.org_id, event_id, note, who.token_id, who.token_name,
                               who.request_id or None) is None:
            raise conflict("the event is already acknowledged", "eventId")
        w.touch(event["deployment_id"])  # ESCALATION_UNACKNOWLEDGED may no longer apply
        return AcknowledgeHealthEventSuccess(replayed=False, event_pk=event_id)

    return await run(info, "acknowledgeHealthEvent", "write:owners", input, work)


# --- setEscalationContact ------------------------------------------------------------------------

@strawberry.input(description="Name who a deployment escalates to when its health dips (usually the CX leader).")
class SetEscalationContactInput:
    deployment_id: strawberry.ID = strawberry.field(description="The deployment.")
    person_id: strawberry.ID | None = strawberry.field(
        description="An active person of the organization; null clears the contact.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The deployment's escalation contact is set (or cleared).")
class SetEscalationContactSuccess:
    changed: bool = strawberry.field(description="False when it already was this contact: nothing was written.")
    replayed: bool = strawberry.field(description=REPLAYED)
    deployment_pk: strawberry.Private[int]

    @strawberry.field(description="The deployment, as changed.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return present(await info.context.loaders.deployment.load(self.deployment_pk), "the deployment")


SetEscalationContactPayload = Annotated[
    SetEscalationContactSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("SetEscalationContactPayload",
                     description="The result of setEscalationContact: the success or a typed error."),
]


async def set_escalation_contact(
    info: Info, input: Annotated[SetEscalationContactInput, INPUT]
) -> SetEscalationContactPayload:
    async def work(w: Write) -> SetEscalationContactSuccess:
        deployment_id = w.decode(input.deployment_id, "Deployment", "deploymentId")
        person_id = None if input.person_id is None else w.decode(input.person_id, "Person", "personId")
        if person_id is not None:  # persons before deployments, as in every mutation
            person = await w.db.fetchrow(SQL["lock_person"], person_id, w.org_id)
            if person is None:
                raise missing("Person", "personId")
            if not person["active"]:
                raise invalid("the person is deactivated and cannot be an escalation contact", "personId")
        changed = await w.db.fetchval(SQL["set_escalation_contact"], deployment_id, person_id, w.org_id)
        if changed is None:
            raise missing("Deployment", "deploymentId")
        return SetEscalationContactSuccess(changed=changed, replayed=False, deployment_pk=deployment_id)

    return await run(info, "setEscalationContact", "write:owners", input, work)


@strawberry.type(description="Health events and escalation (write:owners).")
class HealthMutations:
    acknowledge_health_event = strawberry.mutation(resolver=acknowledge_health_event, description=(
        "Take a health event on: records the token, the instant and a note; acknowledging twice is a "
        "ConflictError. Needs write:owners."))
    set_escalation_contact = strawberry.mutation(resolver=set_escalation_contact, description=(
        "Name (or clear, with personId null) who a deployment escalates to. Needs write:owners."))
