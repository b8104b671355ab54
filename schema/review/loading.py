"""DataLoaders of the weekly review: one statement per (query, arguments), however many deployments ask.

They live in the request's context (`extra`), keyed by query and arguments; a write drops them
(schema/writes.py), as it renews the other loaders, so a mutation's payload reads fresh figures.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import strawberry
from aiodataloader import DataLoader

from service.sql_files import load

SQL = load("schema.review", "queries.sql")
EXTRA_KEY = "review_loaders"


def _loaders(info: strawberry.Info) -> dict[tuple, DataLoader]:
    return info.context.extra.setdefault(EXTRA_KEY, {})


def rows_by_key(info: strawberry.Info, name: str, *args: Any, key: str = "deployment_id") -> DataLoader:
    """Loader of the rows of query `name` for each key (a list, possibly empty), given the extra `args`."""
    loaders = _loaders(info)
    memo = ("many", name, key, args)
    if memo not in loaders:
        db = info.context.db

        async def batch(keys: list[int]) -> list[list[Any]]:
            grouped: dict[int, list[Any]] = defaultdict(list)
            for row in await db.fetch(SQL[name], list(keys), *args):
                grouped[row[key]].append(row)
            return [grouped.get(k, []) for k in keys]

        loaders[memo] = DataLoader(batch)
    return loaders[memo]


def row_by_key(info: strawberry.Info, name: str, *args: Any, key: str = "deployment_id") -> DataLoader:
    """Loader of the one row (or None) of query `name` for each key."""
    loaders = _loaders(info)
    memo = ("one", name, key, args)
    if memo not in loaders:
        db = info.context.db

        async def batch(keys: list[int]) -> list[Any]:
            found = {row[key]: row for row in await db.fetch(SQL[name], list(keys), *args)}
            return [found.get(k) for k in keys]

        loaders[memo] = DataLoader(batch)
    return loaders[memo]


async def fetch(info: strawberry.Info, name: str, *args: Any) -> list[Any]:
    """Rows of an organization-wide query (one per request and arguments: the caller asks once)."""
    return await info.context.db.fetch(SQL[name], *args)
