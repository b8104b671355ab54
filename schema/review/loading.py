"""DataLoaders of the weekly review: one statement per (query, arguments), however many deployments ask.

They are kept with the request's other loaders (schema/loaders.py, keyed by query and arguments), so a
write renews them too (Context.read_afresh) and a mutation's payload reads fresh figures. This module
imports nothing of the schema: the types that use it are imported by schema/loaders.py.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiodataloader import DataLoader

from schema.info import Info
from service.sql_files import load

SQL = load("schema.review", "queries.sql")


def rows_by_key(info: Info, name: str, *args: Any, key: str = "deployment_id") -> DataLoader[int, list[Any]]:
    """Loader of the rows of query `name` for each key (a list, possibly empty), given the extra `args`."""
    db = info.context.db

    async def batch(keys: list[int]) -> list[list[Any]]:
        grouped: dict[int, list[Any]] = defaultdict(list)
        for row in await db.fetch(SQL[name], list(keys), *args):
            grouped[row[key]].append(row)
        return [grouped.get(k, []) for k in keys]

    return info.context.loaders._memo(("review", "many", name, key, args), lambda: DataLoader(batch))


def row_by_key(info: Info, name: str, *args: Any, key: str = "deployment_id") -> DataLoader[int, Any]:
    """Loader of the one row (or None) of query `name` for each key."""
    db = info.context.db

    async def batch(keys: list[int]) -> list[Any]:
        found = {row[key]: row for row in await db.fetch(SQL[name], list(keys), *args)}
        return [found.get(k) for k in keys]

    return info.context.loaders._memo(("review", "one", name, key, args), lambda: DataLoader(batch))


async def fetch(info: Info, name: str, *args: Any) -> list[Any]:
    """Rows of an organization-wide query (one per request and arguments: the caller asks once)."""
    return await info.context.db.fetch(SQL[name], *args)
