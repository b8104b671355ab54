"""DataLoaders, built per request: one batched statement per (view, key) however many parents ask.

Each loader returns domain objects (built from their rows inside the batch); `owner` and the paging
loaders (`first_pages`, `counts`) return rows, which a connection needs for its cursors.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg
from aiodataloader import DataLoader

from schema.activity.types import Review, Topic, Workflow, WorkflowUpdate
from schema.deployments.types import Deployment, Health
from schema.health.events import HealthEvent, HealthEventAcknowledgement
from schema.metrics import DeploymentMetrics, TopicOpportunity, WeeklyMetric
from schema.organizations.types import Organization
from schema.ownership.audit import OwnershipChange
from schema.ownership.gaps import OwnershipGap
from schema.people.types import OwnershipAssignment, Person
from schema.webhooks.types import ATTEMPTS_SHOWN, WebhookAttempt
from service.sql_files import load

if TYPE_CHECKING:
    from schema.context import Db

T = TypeVar("T")
Row: TypeAlias = asyncpg.Record

SHARED = load("schema", "queries.sql")
ACTIVITY = load("schema.activity", "queries.sql")
DEPLOYMENTS = load("schema.deployments", "queries.sql")
HEALTH = load("schema.health", "record.sql")
ORGANIZATIONS = load("schema.organizations", "queries.sql")
OWNERSHIP = load("schema.ownership", "queries.sql")
GAPS = load("schema.ownership", "gaps.sql")
PEOPLE = load("schema.people", "queries.sql")
WEBHOOKS = load("schema.webhooks", "queries.sql")


def _row(row: Row) -> Row:
    return row


def one_per_key(db: Db, sql: str, build: Callable[[Row], T], key: str = "id",
                extra: tuple = ()) -> DataLoader[int, T | None]:
    """The object of each key (None where there is no row), from one statement over all keys ($1)."""
    async def batch(keys: list[int]) -> list[T | None]:
        rows = await db.fetch(sql, list(keys), *extra)
        by_key = {r[key]: r for r in rows}
        return [None if (row := by_key.get(k)) is None else build(row) for k in keys]

    return DataLoader(batch)


def many_per_key(db: Db, sql: str, key: str, build: Callable[[Row], T], extra: tuple = ()) -> DataLoader[int, list[T]]:
    """The objects of each key, in the statement's order, from one statement over all keys ($1)."""
    async def batch(keys: list[int]) -> list[list[T]]:
        rows = await db.fetch(sql, list(keys), *extra)
        grouped: dict[int, list[T]] = defaultdict(list)
        for r in rows:
            grouped[r[key]].append(build(r))
        return [grouped.get(k, []) for k in keys]

    return DataLoader(batch)


class Loaders:
    def __init__(self, db: Db, org_id: int):
        self.db = db
        # Statements by id or by parent name the organization too ($2): under Citus that routes them to
        # its one shard, which row-level security's current_org_id() can't (docs/scale-out.md).
        org = (org_id,)
        self.organization = one_per_key(db, ORGANIZATIONS["organizations_by_id"], Organization.from_row)
        self.deployment = one_per_key(db, DEPLOYMENTS["deployments_by_id"], Deployment.from_row, extra=org)
        self.person = one_per_key(db, PEOPLE["persons_by_id"], Person.from_row, extra=org)
        self.topic = one_per_key(db, ACTIVITY["topics_by_id"], Topic.from_row, extra=org)
        self.workflow = one_per_key(db, ACTIVITY["workflows_by_id"], Workflow.from_row, extra=org)
        self.assignment = one_per_key(db, PEOPLE["assignments_by_id"], OwnershipAssignment.from_row,
                                      key="assignment_id", extra=org)
        self.workflow_update = one_per_key(db, ACTIVITY["workflow_updates_by_id"], WorkflowUpdate.from_row, extra=org)
        self.review = one_per_key(db, ACTIVITY["reviews_by_id"], Review.from_row, extra=org)
        self.ownership_change = one_per_key(db, OWNERSHIP["changes_by_id"], OwnershipChange.from_row, extra=org)
        self.health_event = one_per_key(db, HEALTH["events_by_id"], HealthEvent.from_row, extra=org)
        self.health_event_acknowledgement = one_per_key(
            db, HEALTH["acknowledgements_by_event"], HealthEventAcknowledgement.from_row, key="event_id", extra=org)
        # the current owner's row (person_id, assignment_id, tenure_days) of each deployment
        self.owner = one_per_key(db, PEOPLE["current_owners"], _row, key="deployment_id", extra=org)
        self.health = one_per_key(db, SHARED["health"], Health.from_row, key="deployment_id")
        self.history = many_per_key(db, PEOPLE["ownership_history"], "deployment_id", OwnershipAssignment.from_row,
                                    org)
        self.owned_deployments = many_per_key(db, DEPLOYMENTS["owned_deployments"], "person_id", Deployment.from_row,
                                              org)
        self.workflows = many_per_key(db, ACTIVITY["workflows_by_deployment"], "deployment_id", Workflow.from_row,
                                      org)
        self.ownership_gaps = many_per_key(db, GAPS["ownership_gaps"], "deployment_id", OwnershipGap.from_row)
        self.webhook_attempts = many_per_key(db, WEBHOOKS["attempts"], "delivery_id", WebhookAttempt.from_row,
                                             (ATTEMPTS_SHOWN, org_id))
        self._keyed: dict[tuple, DataLoader] = {}

    def _memo(self, key: tuple[Hashable, ...], make: Callable[[], DataLoader[int, T]]) -> DataLoader[int, T]:
        loader = self._keyed.get(key)
        if loader is None:
            loader = self._keyed[key] = make()
        return loader

    def metrics(self, start: date, end: date) -> DataLoader[int, DeploymentMetrics | None]:
        return self._memo(("metrics", start, end), lambda: one_per_key(
            self.db, SHARED["window_metrics"], DeploymentMetrics.from_row, "deployment_id", (start, end)))

    def weekly(self, start: date, end: date) -> DataLoader[int, list[WeeklyMetric]]:
        return self._memo(("weekly", start, end), lambda: many_per_key(
            self.db, SHARED["weekly_metrics"], "deployment_id", WeeklyMetric.from_row, (start, end)))

    def opportunities(self, start: date, end: date, first: int) -> DataLoader[int, list[TopicOpportunity]]:
        return self._memo(("opportunities", start, end, first), lambda: many_per_key(
            self.db, SHARED["topic_opportunities"], "deployment_id", TopicOpportunity.from_row, (start, end, first)))

    def first_pages(self, sql: str, parent: str, extra: tuple = ()) -> DataLoader[int, list[Row]]:
        """First pages of a nested list for many parents at once: `sql` takes the parents ($1), then `extra`."""
        return self._memo(("first_pages", sql, extra), lambda: many_per_key(self.db, sql, parent, _row, extra))

    def counts(self, sql: str, extra: tuple = ()) -> DataLoader[int, int]:
        """Sizes of a nested list for many parents at once: `sql` returns (parent, n) for the parents ($1)."""
        async def batch(keys: list[int]) -> list[int]:
            rows = await self.db.fetch(sql, list(keys), *extra)
            found: dict[Any, int] = {r["parent"]: r["n"] for r in rows}
            return [found.get(k, 0) for k in keys]

        return self._memo(("counts", sql, extra), lambda: DataLoader(batch))
