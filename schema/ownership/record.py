"""Recording ownership changes in the audit log: who (which token), when, before, after, why.

The read side (the OwnershipChange type and the auditLog lists) is schema/ownership/audit.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from service.sql_files import load

if TYPE_CHECKING:
    from schema.context import Db

ACTIONS = ("ASSIGNED", "HANDED_OVER", "UNASSIGNED", "OWNER_DEACTIVATED")

SQL = load("schema.ownership", "queries.sql")


@dataclass(frozen=True)
class Actor:
    """The caller as the audit log names it: the token, and the request it sent."""

    org_id: int
    token_id: int
    token_name: str
    request_id: str

    @property
    def label(self) -> str:
        """How `ownership_assignments.assigned_by` names the caller."""
        return f"{self.token_name} (token {self.token_id})"


async def actor(db: Db, org_id: int, token_id: int, request_id: str) -> Actor:
    name = await db.fetchval(SQL["token_name"], token_id)
    return Actor(org_id, token_id, name or f"token {token_id}", request_id or "")


async def record(db: Db, who: Actor, *, deployment_id: int, action: str, effective_at: datetime,
                 reason: str | None, previous_person_id: int | None = None, new_person_id: int | None = None,
                 ended_assignment_id: int | None = None, started_assignment_id: int | None = None) -> int:
    """Append one ownership change; returns its id."""
    assert action in ACTIONS, action
    return await db.fetchval(
        SQL["record_change"], who.org_id, deployment_id, action, previous_person_id, new_person_id, ended_assignment_id,
        started_assignment_id, effective_at, reason, who.token_id, who.token_name, who.request_id or None,
    )
