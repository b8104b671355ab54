"""Recording health events: the SQL lives in record.sql and sql/views/050_health_events.sql.

A write records the changes it caused before its transaction commits (schema/writes.py
calls `record` with the deployments the mutation touched; ingest with the deployments it
wrote); the TIME evaluator (service/events/evaluator.py) calls `evaluate_org`. Either way the
database decides what changed, under a per-deployment lock, so nothing is recorded twice.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from service.sql_files import load

SQL = load("schema.health", "record.sql")
CAUSES = ("WRITE", "TIME")
# The kind of announcement (service/events/hub.py) that a health event was committed; subscriptions listen for it.
HEALTH_CHANGED = "HEALTH_CHANGED"


class Fetcher(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list: ...


async def record(db: Fetcher, deployment_ids: Sequence[int], cause: str, request_id: str | None = None,
                 change_ids: Sequence[int | None] | None = None) -> list[int]:
    """Append an event for each deployment whose health changed; return the new events' ids."""
    assert cause in CAUSES, cause
    if not deployment_ids:
        return []
    rows = await db.fetch(SQL["record_changes"], list(deployment_ids), cause, request_id or None,
                          None if change_ids is None else list(change_ids))
    return [r["id"] for r in rows]


async def owned_by(db: Fetcher, person_ids: Sequence[int]) -> list[int]:
    """Deployments these people own now."""
    return [r["deployment_id"] for r in await db.fetch(SQL["owned_by"], list(person_ids))]


async def live_deployments(db: Fetcher, org_id: int) -> list[int]:
    """The organization's deployments that are not retired."""
    return [r["id"] for r in await db.fetch(SQL["live_deployments"], org_id)]
