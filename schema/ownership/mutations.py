"""Owner mutations: assign, hand over, unassign; deactivate a person who left."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, overload

import strawberry

from schema.deployments.ref import DeploymentRef
from schema.errors import ConflictError, NotFoundError, PermissionError, ValidationError, present
from schema.info import Info
from schema.instants import comparable
from schema.ownership import record as audit
from schema.ownership.audit import OwnershipChange, load_change
from schema.people.types import OwnershipAssignment, Person
from schema.writes import IDEMPOTENCY_KEY, INPUT, REPLAYED, Write, conflict, invalid, missing, run, success, text
from service.sql_files import load

if TYPE_CHECKING:
    from schema.deployments.types import Deployment


SQL = load("schema.ownership", "queries.sql")


# --- shared pieces -------------------------------------------------------------------------------

async def _deployment(info: Info, pk: int) -> "Deployment":
    return present(await info.context.loaders.deployment.load(pk), "the deployment")


@overload
async def _assignment(info: Info, pk: int) -> OwnershipAssignment: ...


@overload
async def _assignment(info: Info, pk: None) -> None: ...


async def _assignment(info: Info, pk: int | None) -> OwnershipAssignment | None:
    return None if pk is None else await info.context.loaders.assignment.load(pk)


async def _lock_deployment(w: Write, pk: int, field: str = "deploymentId"):
    """Take the deployment's row lock: its ownership changes queue here, one at a time."""
    row = await w.db.fetchrow(SQL["deployment_for_update"], pk, w.org_id)
    if row is None:
        raise missing("Deployment", field)
    return row


async def _overlapping(w: Write, deployment_id: int, start: datetime):
    """A recorded period of the deployment that an open period from `start` would overlap."""
    return await w.db.fetchrow(SQL["overlapping"], deployment_id, start, w.org_id)


async def _close(w: Write, period, end: datetime, reason: str) -> None:
    """End an open period at `end` (which must be after its start: history is never rewritten)."""
    if end <= comparable(period["since"]):
        raise conflict(f"effectiveAt must be after the current owner's start ({period['since'].isoformat()})",
                       "effectiveAt")
    await w.db.fetch(SQL["close_period"], period["id"], end, reason, w.org_id)


# --- assignOwner ---------------------------------------------------------------------------------

@strawberry.input(description="Make a person the accountable owner of a deployment, handing over from the current one.")
class AssignOwnerInput:
    deployment_id: strawberry.ID = strawberry.field(description="The deployment.")
    person_id: strawberry.ID = strawberry.field(description="The new accountable owner; must be active.")
    reason: str = strawberry.field(description="Why (kept in the ownership history and the audit log).")
    effective_at: datetime | None = strawberry.field(
        default=None, description="When the handover takes effect: now by default; may be in the past, but after "
                                  "the current owner's start and after every recorded period.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The person is the deployment's accountable owner.")
class AssignOwnerSuccess:
    changed: bool = strawberry.field(description="False when the person already owned it: nothing was written.")
    replayed: bool = strawberry.field(description=REPLAYED)
    deployment_pk: strawberry.Private[int]
    assignment_pk: strawberry.Private[int]
    ended_assignment_pk: strawberry.Private[int | None]
    change_pk: strawberry.Private[int | None]

    @strawberry.field(description="The deployment, as of the change.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return await _deployment(info, self.deployment_pk)

    @strawberry.field(description="The new owner's ownership period.")
    async def assignment(self, info: Info) -> OwnershipAssignment:
        return await _assignment(info, self.assignment_pk)

    @strawberry.field(description="The previous owner's period, ended by this handover; null if there was none.")
    async def ended_assignment(self, info: Info) -> OwnershipAssignment | None:
        return await _assignment(info, self.ended_assignment_pk)

    @strawberry.field(description="The audit entry of the change; null when nothing changed.")
    async def change(self, info: Info) -> OwnershipChange | None:
        return await load_change(info, self.change_pk)


AssignOwnerPayload = Annotated[
    AssignOwnerSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("AssignOwnerPayload", description="The result of assignOwner: the success or a typed error."),
]


async def assign_owner(info: Info, input: Annotated[AssignOwnerInput, INPUT]) -> AssignOwnerPayload:
    async def work(w: Write) -> AssignOwnerSuccess:
        person_id = w.decode(input.person_id, "Person", "personId")
        deployment_id = w.decode(input.deployment_id, "Deployment", "deploymentId")
        reason = text(input.reason, "reason", required=True)
        # persons before deployments, in every mutation: no lock cycles with deactivatePerson
        person = await w.db.fetchrow(SQL["person_for_share"], person_id, w.org_id)
        if person is None:
            raise missing("Person", "personId")
        deployment = await _lock_deployment(w, deployment_id)
        if not person["active"]:
            raise invalid("the person is deactivated and cannot own a deployment", "personId")
        if deployment["status"] == "RETIRED":
            raise invalid("the deployment is retired and cannot be given an owner", "deploymentId")
        current = await w.db.fetchrow(SQL["open_period"], deployment_id, w.org_id)
        if current is not None and current["person_id"] == person_id:
            return AssignOwnerSuccess(changed=False, replayed=False, deployment_pk=deployment_id,
                                      assignment_pk=current["id"], ended_assignment_pk=None, change_pk=None)
        start = await w.effective(input.effective_at)
        if current is not None:
            # every other period ended before the current one began: closing it at `start` is enough
            await _close(w, current, start, reason)
        elif (clash := await _overlapping(w, deployment_id, start)) is not None:
            raise conflict(f"an owner period from {start.isoformat()} would overlap the recorded period "
                           f"{clash['since'].isoformat()} .. {clash['until'].isoformat()}", "effectiveAt")
        who = await w.actor()
        assignment_id = await w.db.fetchval(SQL["start_period"], w.org_id, deployment_id, person_id, start, who.label,
                                            reason)
        change_id = await audit.record(
            w.db, who, deployment_id=deployment_id, action="HANDED_OVER" if current else "ASSIGNED",
            effective_at=start, reason=reason, previous_person_id=current["person_id"] if current else None,
            new_person_id=person_id, ended_assignment_id=current["id"] if current else None,
            started_assignment_id=assignment_id)
        w.touch(deployment_id, change_id)
        return AssignOwnerSuccess(changed=True, replayed=False, deployment_pk=deployment_id,
                                  assignment_pk=assignment_id, ended_assignment_pk=current["id"] if current else None,
                                  change_pk=change_id)

    return await run(info, "assignOwner", "write:owners", input, work)


# --- unassignOwner -------------------------------------------------------------------------------

@strawberry.input(description="Remove a deployment's accountable owner: it becomes UNOWNED (an explicit gap).")
class UnassignOwnerInput:
    deployment_id: strawberry.ID = strawberry.field(description="The deployment.")
    reason: str = strawberry.field(description="Why (kept in the ownership history and the audit log).")
    effective_at: datetime | None = strawberry.field(
        default=None, description="When the owner's period ends: now by default; may be in the past, but after "
                                  "the owner's start.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@success
@strawberry.type(description="The deployment has no accountable owner.")
class UnassignOwnerSuccess:
    changed: bool = strawberry.field(description="False when it had no owner already: nothing was written.")
    replayed: bool = strawberry.field(description=REPLAYED)
    deployment_pk: strawberry.Private[int]
    ended_assignment_pk: strawberry.Private[int | None]
    change_pk: strawberry.Private[int | None]

    @strawberry.field(description="The deployment, as of the change.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return await _deployment(info, self.deployment_pk)

    @strawberry.field(description="The owner's period this ended; null when nothing changed.")
    async def ended_assignment(self, info: Info) -> OwnershipAssignment | None:
        return await _assignment(info, self.ended_assignment_pk)

    @strawberry.field(description="The audit entry of the change; null when nothing changed.")
    async def change(self, info: Info) -> OwnershipChange | None:
        return await load_change(info, self.change_pk)


UnassignOwnerPayload = Annotated[
    UnassignOwnerSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("UnassignOwnerPayload", description="The result of unassignOwner: the success or a typed error."),
]


async def unassign_owner(info: Info, input: Annotated[UnassignOwnerInput, INPUT]) -> UnassignOwnerPayload:
    async def work(w: Write) -> UnassignOwnerSuccess:
        deployment_id = w.decode(input.deployment_id, "Deployment", "deploymentId")
        reason = text(input.reason, "reason", required=True)
        await _lock_deployment(w, deployment_id)
        current = await w.db.fetchrow(SQL["open_period"], deployment_id, w.org_id)
        if current is None:
            return UnassignOwnerSuccess(changed=False, replayed=False, deployment_pk=deployment_id,
                                        ended_assignment_pk=None, change_pk=None)
        end = await w.effective(input.effective_at)
        await _close(w, current, end, reason)
        change_id = await audit.record(
            w.db, await w.actor(), deployment_id=deployment_id, action="UNASSIGNED", effective_at=end,
            reason=reason, previous_person_id=current["person_id"], ended_assignment_id=current["id"])
        w.touch(deployment_id, change_id)
        return UnassignOwnerSuccess(changed=True, replayed=False, deployment_pk=deployment_id,
                                    ended_assignment_pk=current["id"], change_pk=change_id)

    return await run(info, "unassignOwner", "write:owners", input, work)


# --- deactivatePerson ----------------------------------------------------------------------------



@strawberry.input(description="A person left: mark them inactive and end every ownership they hold, or hand it to a "
                               "successor.")
class DeactivatePersonInput:
    person_id: strawberry.ID = strawberry.field(description="The person.")
    reason: str = strawberry.field(description="Why (kept in the ownership history and the audit log).")
    successor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Optional: an active person of the organization (not the leaver) who takes over "
                                  "every deployment the leaver owns, in the same transaction, as handovers: no "
                                  "deployment is left unowned. Without it, those deployments become UNOWNED.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY)


@strawberry.type(description="One deployment that passed from the leaver to the successor.")
class Handover:
    deployment_pk: strawberry.Private[int]
    person_pk: strawberry.Private[int]
    assignment_pk: strawberry.Private[int]
    change_pk: strawberry.Private[int]

    @strawberry.field(description="The deployment handed over.")
    async def deployment(self, info: Info) -> DeploymentRef:
        return await _deployment(info, self.deployment_pk)

    @strawberry.field(description="Who owns it now: the successor.")
    async def to(self, info: Info) -> Person:
        return present(await info.context.loaders.person.load(self.person_pk), "the person")

    @strawberry.field(description="The successor's new ownership period.")
    async def assignment(self, info: Info) -> OwnershipAssignment:
        return await _assignment(info, self.assignment_pk)

    @strawberry.field(description="The audit entry of the handover (action HANDED_OVER).")
    async def change(self, info: Info) -> OwnershipChange:
        return await load_change(info, self.change_pk)


@success
@strawberry.type(description="The person is inactive and owns nothing: each deployment they owned was handed to the "
                             "successor, or left UNOWNED when none was given.")
class DeactivatePersonSuccess:
    changed: bool = strawberry.field(description="False when the person was already inactive and owned nothing.")
    replayed: bool = strawberry.field(description=REPLAYED)
    person_pk: strawberry.Private[int]
    unowned_pks: strawberry.Private[list[int]]
    ended_pks: strawberry.Private[list[int]]
    change_pks: strawberry.Private[list[int]]
    # handovers to the successor: parallel lists (deployment, new period, audit row)
    successor_pk: strawberry.Private[int | None] = None
    handed_pks: strawberry.Private[list[int]] = dataclasses.field(default_factory=list)
    started_pks: strawberry.Private[list[int]] = dataclasses.field(default_factory=list)
    handover_change_pks: strawberry.Private[list[int]] = dataclasses.field(default_factory=list)

    @strawberry.field(description="The person, now inactive.")
    async def person(self, info: Info) -> Person:
        return present(await info.context.loaders.person.load(self.person_pk), "the person")

    @strawberry.field(description="Deployments this left without an accountable owner (now UNOWNED); empty when a "
                                  "successor took them over.")
    async def unowned_deployments(
        self, info: Info
    ) -> list[DeploymentRef]:
        return [await _deployment(info, pk) for pk in self.unowned_pks]

    @strawberry.field(description="What moved to whom: one entry per deployment handed to the successor.")
    async def handovers(self) -> list[Handover]:
        if self.successor_pk is None:  # without a successor nothing was handed over (handed_pks is empty)
            return []
        return [Handover(deployment_pk=d, person_pk=self.successor_pk, assignment_pk=a, change_pk=c)
                for d, a, c in zip(self.handed_pks, self.started_pks, self.handover_change_pks, strict=True)]

    @strawberry.field(description="The successor given; null without one.")
    async def successor(self, info: Info) -> Person | None:
        if self.successor_pk is None:
            return None
        return present(await info.context.loaders.person.load(self.successor_pk), "the person")

    @strawberry.field(description="The ownership periods this ended.")
    async def ended_assignments(self, info: Info) -> list[OwnershipAssignment]:
        return [await _assignment(info, pk) for pk in self.ended_pks]

    @strawberry.field(description="The audit entries written, one per deployment (OWNER_DEACTIVATED, or "
                                  "HANDED_OVER to the successor).")
    async def changes(self, info: Info) -> list[OwnershipChange]:
        return [await load_change(info, pk) for pk in self.change_pks]


DeactivatePersonPayload = Annotated[
    DeactivatePersonSuccess | NotFoundError | ConflictError | ValidationError | PermissionError,
    strawberry.union("DeactivatePersonPayload",
                     description="The result of deactivatePerson: the success or a typed error."),
]


async def _successor(w: Write, global_id: str | None, leaver_id: int) -> int | None:
    """The successor, locked like assignOwner locks a new owner; every refusal names successorId."""
    if global_id is None:
        return None
    pk = w.decode(global_id, "Person", "successorId")
    if pk == leaver_id:
        raise invalid("the successor cannot be the person who leaves", "successorId")
    row = await w.db.fetchrow(SQL["person_for_share"], pk, w.org_id)
    if row is None:  # another organization's person is invisible here: not found, like an unknown one
        raise missing("Person", "successorId")
    if not row["active"]:
        raise invalid("the successor is deactivated and cannot own a deployment", "successorId")
    return pk


async def deactivate_person(info: Info, input: Annotated[DeactivatePersonInput, INPUT]) -> DeactivatePersonPayload:
    async def work(w: Write) -> DeactivatePersonSuccess:
        person_id = w.decode(input.person_id, "Person", "personId")
        reason = text(input.reason, "reason", required=True)
        successor_id = None if input.successor_id is None else w.decode(input.successor_id, "Person", "successorId")
        # persons in id order (two offboardings naming each other as successor queue, never deadlock), then
        # deployments, as in every mutation
        if successor_id is not None and successor_id < person_id:
            successor_id = await _successor(w, input.successor_id, person_id)
        # assignOwner of this person waits from here
        person = await w.db.fetchrow(SQL["person_for_no_key_update"], person_id, w.org_id)
        if person is None:
            raise missing("Person", "personId")
        if successor_id is not None and successor_id >= person_id:
            successor_id = await _successor(w, input.successor_id, person_id)
        held = [r["deployment_id"] for r in await w.db.fetch(SQL["held_deployments"], person_id, w.org_id)]
        await w.db.fetch(SQL["lock_deployments"], held, w.org_id)
        periods = await w.db.fetch(SQL["held_periods"], person_id, w.org_id)  # again, under the locks
        now = await w.now()
        deactivated = await w.db.fetchval(SQL["deactivate"], person_id, now, w.org_id) is not None
        change_ids, started_ids = [], []
        for period in periods:
            who = await w.actor()  # (cached after the first period)
            await _close(w, period, now, reason)
            deployment_id = period["deployment_id"]
            started = None
            if successor_id is not None:
                started = await w.db.fetchval(SQL["start_period"], w.org_id, deployment_id, successor_id, now,
                                              who.label, reason)
                started_ids.append(started)
            change_id = await audit.record(
                w.db, who, deployment_id=deployment_id, effective_at=now, reason=reason,
                action="OWNER_DEACTIVATED" if started is None else "HANDED_OVER", previous_person_id=person_id,
                new_person_id=successor_id if started is not None else None, ended_assignment_id=period["id"],
                started_assignment_id=started)
            change_ids.append(change_id)
            w.touch(deployment_id, change_id)
        handed = [p["deployment_id"] for p in periods] if successor_id is not None else []
        return DeactivatePersonSuccess(
            changed=deactivated or bool(periods), replayed=False, person_pk=person_id,
            unowned_pks=[] if successor_id is not None else [p["deployment_id"] for p in periods],
            ended_pks=[p["id"] for p in periods], change_pks=change_ids, successor_pk=successor_id,
            handed_pks=handed, started_pks=started_ids, handover_change_pks=change_ids if handed else [])

    return await run(info, "deactivatePerson", "write:owners", input, work)


@strawberry.type(description="Ownership changes: assign, unassign, deactivate (write:owners).")
class OwnershipMutations:
    assign_owner = strawberry.mutation(resolver=assign_owner, description=(
        "Make a person the accountable owner of a deployment: ends the current owner's period and opens the "
        "new one at effectiveAt, in one transaction. Needs write:owners."))
    unassign_owner = strawberry.mutation(resolver=unassign_owner, description=(
        "End a deployment's ownership: it becomes UNOWNED. Needs write:owners."))
    deactivate_person = strawberry.mutation(resolver=deactivate_person, description=(
        "A person left: mark them inactive and end every ownership they hold, handing each deployment to "
        "`successorId` if given (else it becomes UNOWNED); lists what moved to whom and what was left "
        "UNOWNED. Needs write:owners."))
