"""Running a mutation: scope check, idempotency key, one savepoint, typed errors instead of exceptions.

Every mutation's work runs inside its own savepoint of the request transaction.
An expected failure (`Fail`, or a constraint the database enforces) rolls the
savepoint back, so nothing the mutation did survives, and becomes a typed error
member of the payload. Success payloads hold only ids and flags, so the first
answer to an idempotency key can be stored as JSON and replayed.

Each mutation names the deployments whose health it may have changed (`Write.touch`,
`touched_people`, `touched_org`); at the end of its work, inside the savepoint, the
health events those changes cause are appended (schema/health/record.py), so they
commit or roll back with the write.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import asyncpg
import strawberry
from strawberry.utils.str_converters import to_snake_case

from schema import idempotency
from schema.errors import ApiError, ConflictError, NotFoundError, PermissionError, UserError, ValidationError
from schema.health import record as health_events
from schema.info import Info
from schema.instants import INSTANT_RANGE, instant_problem
from schema.ownership import record as audit
from schema.relay import from_global_id
from service.sql_files import load

if TYPE_CHECKING:
    from schema.context import Context

SQL = load("schema", "writes.sql")

# How far in the future a caller's effectiveAt may be (its clock ahead of ours); it then counts as now.
CLOCK_SKEW = timedelta(minutes=1)
MAX_REASON = 1000

IDEMPOTENCY_KEY = ("Optional, 1-200 characters, unique to this change: a retry with the same key and the same input "
                   "returns the first answer and writes nothing more; the same key with another input is a "
                   "ConflictError. Kept per token for 24 hours.")
REPLAYED = ("True when this is the stored answer to an earlier request with the same idempotencyKey: nothing was "
            "written now (objects are shown as they are now).")

INPUT = strawberry.argument(description="What to change, with an optional idempotencyKey.")

S = TypeVar("S")
SUCCESS_TYPES: dict[str, type] = {}


class Fail(Exception):
    """Raised inside a mutation's work: roll its savepoint back and answer with `error`."""

    def __init__(self, error: UserError):
        super().__init__(error.message)
        self.error = error


def invalid(message: str, field: str | None = None) -> Fail:
    return Fail(ValidationError(message=message, field=field))


def conflict(message: str, field: str | None = None) -> Fail:
    return Fail(ConflictError(message=message, field=field))


def missing(what: str, field: str | None = None) -> Fail:
    return Fail(NotFoundError(message=f"{what} not found", field=field))


def success(cls: type[S]) -> type[S]:
    """Register a success payload type (ids and flags only, plus `replayed`) for idempotent replay."""
    SUCCESS_TYPES[cls.__name__] = cls
    return cls


def to_record(result: Any) -> dict:
    # resolver fields are dataclass fields too (their value is the bound resolver): leave them out
    # a type's NOT_REPLAYED fields (a secret shown once) are never stored: a replay shows their defaults
    omit = {"replayed", *getattr(type(result), "NOT_REPLAYED", ())}
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name not in omit}
    return {"type": type(result).__name__, "fields": {k: v for k, v in values.items() if not callable(v)}}


def from_record(record: dict) -> Any:
    return SUCCESS_TYPES[record["type"]](**record["fields"], replayed=True)


class Write:
    """What a mutation's work gets: the request's connection, the caller, and the instant of the write."""

    def __init__(self, info: Info):
        self.ctx = info.context
        self.db = info.context.db
        self.principal = info.context.principal
        self.org_id = info.context.principal.org_id
        self._now: datetime | None = None
        self._actor: audit.Actor | None = None
        # what the work may have changed the health of: deployment -> the audit row that changed it
        self.touched: dict[int, int | None] = {}
        self.touched_people: set[int] = set()
        self.touched_org = False
        self.events: list[int] = []

    def touch(self, deployment_id: int, change_id: int | None = None) -> None:
        """The work may have changed this deployment's health (change_id: the ownership change that did)."""
        if change_id is not None or deployment_id not in self.touched:
            self.touched[deployment_id] = change_id

    async def record_health(self) -> None:
        """Append the health events the work caused, in its transaction (schema/health/record.py)."""
        touched = dict(self.touched)
        if self.touched_people:
            for pk in await health_events.owned_by(self.db, sorted(self.touched_people)):
                touched.setdefault(pk, None)
        if self.touched_org:
            for pk in await health_events.live_deployments(self.db, self.org_id):
                touched.setdefault(pk, None)
        if not touched:
            return
        if self._now is not None:  # health as of the write's instant, which may be after the transaction's start
            await self.db.fetch(SQL["pin_clock"], self._now.isoformat())
        self.events = await health_events.record(self.db, list(touched), "WRITE", self.ctx.request_id,
                                                 list(touched.values()))

    async def now(self) -> datetime:
        """The instant of this write, read once, after the work has taken its locks.

        clock_timestamp(), not now(): requests that queue on one deployment's lock
        must get increasing instants in the order they take it. A test may pin
        steward.now for the transaction; then that is the instant.
        """
        if self._now is None:
            # once an earlier mutation of this request pinned steward.now, it is no test's pin
            self._now = await self.db.fetchval(SQL["clock" if self.ctx.clock_pinned else "pinned_clock"])
        return self._now

    async def effective(self, value: datetime | None, field: str = "effectiveAt") -> datetime:
        """When a change takes effect: now by default; the past is allowed, the future is not."""
        now = await self.now()
        if value is None:
            return now
        if value.tzinfo is None:
            raise invalid("give a time zone offset (e.g. 2026-03-01T09:00:00Z)", field)
        if (reason := instant_problem(value)) is not None:  # the DateTime scalar refuses these first
            raise invalid(f"{field} {reason}", field)
        if value > now + CLOCK_SKEW:
            raise invalid(f"{field} is in the future; changes are recorded when they happen, not scheduled",
                          field)
        return min(value, now)

    async def actor(self) -> audit.Actor:
        if self._actor is None:
            self._actor = await audit.actor(self.db, self.org_id, self.principal.token_id, self.ctx.request_id)
        return self._actor

    def decode(self, global_id: str, type_name: str, field: str) -> int:
        """A global ID of `type_name`: malformed → ValidationError, another type → NotFoundError."""
        try:
            return from_global_id(global_id, type_name, field=field)[1]
        except ApiError as exc:
            if exc.extensions["code"] == "NOT_FOUND":
                raise missing(type_name, field) from None
            raise invalid(str(exc), field) from None


@overload
def text(value: str | None, field: str, *, required: Literal[True], limit: int = MAX_REASON) -> str: ...


@overload
def text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_REASON) -> str | None: ...


def text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_REASON) -> str | None:
    """Trimmed text, or None when blank; required text must not be blank."""
    value = value.strip() if value is not None else None
    if not value:
        if required:
            raise invalid(f"{field} must not be blank", field)
        return None
    if len(value) > limit:
        raise invalid(f"{field} is longer than {limit} characters", field)
    return value


async def run(info: Info, operation: str, scope: str, input: Any,
              work: Callable[[Write], Awaitable[Any]]) -> Any:
    """Run one mutation's `work` under the rules above; return its success or a typed error."""
    ctx = info.context
    principal = ctx.principal
    if not principal.can(scope):
        return PermissionError(message=f"this token lacks the {scope!r} scope that {operation} needs")
    key = getattr(input, "idempotency_key", None)
    if key is not None and not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH:
        return ValidationError(message=f"idempotencyKey must be 1 to {idempotency.MAX_KEY_LENGTH} characters",
                               field="idempotencyKey")
    await _lock_timeout(ctx)
    write = Write(info)
    try:
        async with ctx.db.conn.transaction():  # a savepoint inside the request transaction
            if key is not None:
                digest = idempotency.request_hash(operation, input)
                earlier = await idempotency.claim(ctx.db, principal.org_id, principal.token_id, key,
                                                  operation, digest)
                if earlier is not None:
                    if (earlier.operation, earlier.request_hash) != (operation, digest) or earlier.response is None:
                        raise conflict("this idempotencyKey was already used with a different input",
                                       "idempotencyKey")
                    return from_record(earlier.response)
            result = await work(write)
            await write.record_health()  # the events this write caused commit, or roll back, with it
            if key is not None:
                await idempotency.remember(ctx.db, principal.org_id, principal.token_id, key, to_record(result))
    except Fail as failure:
        return failure.error
    except asyncpg.PostgresError as exc:
        error = translate(exc)
        if error is None:
            raise
        if error.field and not hasattr(input, to_snake_case(error.field)):
            error.field = None  # e.g. deactivatePerson has no effectiveAt: the instant was its own
        return error
    await _settle(ctx, write)
    return result


async def _lock_timeout(ctx: Context) -> None:
    """Waiting for another writer's lock ends in a ConflictError well before the statement timeout."""
    if not ctx.lock_timeout_set:
        timeout = max(100, ctx.settings.statement_timeout_ms * 3 // 5)
        await ctx.db.fetch(SQL["lock_timeout"], f"{timeout}ms")
        ctx.lock_timeout_set = True


async def _settle(ctx: Context, write: Write) -> None:
    """After a write: the payload reads the new state, as of the write's instant."""
    if write._now is not None:
        # metrics views read steward.clock(); the write's instant may be later than now() (the
        # transaction start) when the request queued on a lock
        await ctx.db.fetch(SQL["pin_clock"], write._now.isoformat())
        ctx.clock_pinned = True
    ctx.read_afresh()


# Unique constraints → the input field at fault.
UNIQUE_FIELDS = {"persons_email_key": "email", "deployments_org_id_key_key": "key"}
# Range constraints (migration 0007) → the input field whose instant lands in that column.
RANGE_FIELDS = {"ownership_assignments_valid_in_range": "effectiveAt",
                "ownership_changes_effective_at_in_range": "effectiveAt",
                "workflow_updates_occurred_at_in_range": "occurredAt",
                "performance_reviews_reviewed_at_in_range": "reviewedAt",
                "deployments_launched_at_in_range": "launchedAt"}
# Other check constraints → (the input field at fault, what is wrong with it).
CHECK_FIELDS = {"performance_reviews_brief_week_monday": ("briefWeek", "briefWeek must be a Monday (the start of "
                                                                       "the ISO week whose brief was reviewed)")}


def translate(exc: asyncpg.PostgresError) -> UserError | None:
    """The database refused an expected kind of change: the typed error for it (None: unexpected)."""
    constraint = getattr(exc, "constraint_name", None)
    if isinstance(exc, asyncpg.ExclusionViolationError):
        if constraint == "one_accountable_owner":
            return ConflictError(message="the ownership period would overlap another one: a deployment has one "
                                         "accountable owner at a time", field="effectiveAt")
        return ConflictError(message="the change overlaps an existing period")
    if isinstance(exc, asyncpg.UniqueViolationError):
        field = UNIQUE_FIELDS.get(constraint or "")
        return ConflictError(message=f"{field or 'a value'} is already taken in this organization", field=field)
    if isinstance(exc, asyncpg.CheckViolationError):
        if (constraint or "").endswith("_in_range"):
            # the scalars refuse such input first: this is a row stored before the range was enforced
            return ValidationError(message=f"the change would keep a time outside the supported range "
                                           f"({INSTANT_RANGE}) that was stored before that range was enforced; "
                                           "an operator must correct it", field=RANGE_FIELDS.get(constraint or ""))
        if (constraint or "") in CHECK_FIELDS:
            field, message = CHECK_FIELDS[constraint or ""]
            return ValidationError(message=message, field=field)
        return ValidationError(message=exc.message)
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return NotFoundError(message="a referenced object does not exist in this organization")
    if isinstance(exc, (asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError,
                        asyncpg.SerializationError)):
        return ConflictError(message="a concurrent change got in the way; retry the request")
    return None
