"""DataLoaders, built per request: one batched statement per (view, key) however many parents ask."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from aiodataloader import DataLoader

from schema import queries as q
from schema.context import Db
from schema.health.record import SQL as EVENTS_SQL
from service.sql_files import load

GAPS = load("schema.ownership", "gaps.sql")


def one_per_key(db: Db, sql: str, key: str = "id", extra: tuple = ()) -> DataLoader:
    async def load(keys: list[int]) -> list[Any]:
        rows = await db.fetch(sql, list(keys), *extra)
        by_key = {r[key]: r for r in rows}
        return [by_key.get(k) for k in keys]

    return DataLoader(load)


def many_per_key(db: Db, sql: str, key: str, extra: tuple = ()) -> DataLoader:
    async def load(keys: list[int]) -> list[list[Any]]:
        rows = await db.fetch(sql, list(keys), *extra)
        grouped: dict[int, list[Any]] = defaultdict(list)
        for r in rows:
            grouped[r[key]].append(r)
        return [grouped.get(k, []) for k in keys]

    return DataLoader(load)


class Loaders:
    def __init__(self, db: Db):
        self.db = db
        self.organization = one_per_key(db, q.ORGS_BY_ID)
        self.deployment = one_per_key(db, q.DEPLOYMENTS_BY_ID)
        self.person = one_per_key(db, q.PERSONS_BY_ID)
        self.topic = one_per_key(db, q.TOPICS_BY_ID)
        self.workflow = one_per_key(db, q.WORKFLOWS_BY_ID)
        self.assignment = one_per_key(db, q.ASSIGNMENTS_BY_ID, key="assignment_id")
        self.workflow_update = one_per_key(db, q.UPDATES_BY_ID)
        self.review = one_per_key(db, q.REVIEWS_BY_ID)
        self.ownership_change = one_per_key(db, q.CHANGES_BY_ID)
        self.health_event = one_per_key(db, EVENTS_SQL["events_by_id"])
        self.health_event_acknowledgement = one_per_key(db, EVENTS_SQL["acknowledgements_by_event"], key="event_id")
        self.owner = one_per_key(db, q.CURRENT_OWNERS, key="deployment_id")
        self.health = one_per_key(db, q.HEALTH, key="deployment_id")
        self.history = many_per_key(db, q.OWNERSHIP_HISTORY, key="deployment_id")
        self.owned_deployments = many_per_key(db, q.OWNED_DEPLOYMENTS, key="person_id")
        self.workflows = many_per_key(db, q.WORKFLOWS_BY_DEPLOYMENT, key="deployment_id")
        self.ownership_gaps = many_per_key(db, GAPS["ownership_gaps"], key="deployment_id")
        self._keyed: dict[tuple, DataLoader] = {}

    def _memo(self, key: tuple, make: Callable[[], DataLoader]) -> DataLoader:
        loader = self._keyed.get(key)
        if loader is None:
            loader = self._keyed[key] = make()
        return loader

    def metrics(self, start: date, end: date) -> DataLoader:
        return self._memo(("metrics", start, end),
                          lambda: one_per_key(self.db, q.WINDOW_METRICS, "deployment_id", (start, end)))

    def weekly(self, start: date, end: date) -> DataLoader:
        return self._memo(("weekly", start, end),
                          lambda: many_per_key(self.db, q.WEEKLY_METRICS, "deployment_id", (start, end)))

    def opportunities(self, start: date, end: date, first: int) -> DataLoader:
        return self._memo(("opportunities", start, end, first),
                          lambda: many_per_key(self.db, q.TOPIC_OPPORTUNITIES, "deployment_id", (start, end, first)))

    def children(self, base: str, parent: str, sort_column: str, descending: bool, limit: int,
                 extra: tuple = ()) -> DataLoader:
        """First page (limit rows + 1 to tell if there is more) of a nested list, for many parents at once."""
        direction = "desc" if descending else "asc"
        sql = (f"select * from (select b.*, row_number() over (partition by b.{parent} "
               f"order by b.{sort_column} {direction}, b.id {direction}) as _rn from ({base}) b) x "
               f"where _rn <= {int(limit) + 1} order by {parent}, _rn")
        return self._memo(("children", sql, extra), lambda: many_per_key(self.db, sql, parent, extra))

    def child_counts(self, base: str, parent: str, extra: tuple = ()) -> DataLoader:
        """Sizes of a nested list, for many parents at once."""
        sql = f"select b.{parent} as parent, count(*) as n from ({base}) b group by b.{parent}"

        async def load(keys: list[int]) -> list[int]:
            rows = await self.db.fetch(sql, list(keys), *extra)
            counts = {r["parent"]: r["n"] for r in rows}
            return [counts.get(k, 0) for k in keys]

        return self._memo(("counts", sql, extra), lambda: DataLoader(load))
