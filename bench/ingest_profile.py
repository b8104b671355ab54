"""Where an ingest's merge spends its time: EXPLAIN (ANALYZE, BUFFERS) of the real merge statement.

Used by `bench/ingest_bench.py --profile`. The ingest runs in-process through the real code path
(service.ingest.merge.ingest, as steward_app inside an org transaction); only the merge statement is
run under EXPLAIN ANALYZE, which executes it, so its writes and triggers happen and are committed.
Prints, per run: parse + COPY to staging, the merge's execution time, each trigger's time and calls
(the per-row foreign-key checks and the statement-level rollup triggers), and the plan's heaviest
nodes. Timing every plan node adds overhead: compare the parts, not the total, with the bench.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import asyncpg

from service.config import Settings
from service.db import pool as db
from service.ingest import merge as ingest


def _nodes(plan: dict, depth: int = 0):
    """(depth, label, total ms, rows) of each plan node, depth first."""
    label = plan["Node Type"] + (f" on {plan['Relation Name']}" if "Relation Name" in plan else "")
    if "Index Name" in plan:
        label += f" using {plan['Index Name']}"
    loops = plan.get("Actual Loops", 1)
    yield depth, label, plan.get("Actual Total Time", 0.0) * loops, plan.get("Actual Rows", 0) * loops
    for child in plan.get("Plans", []):
        yield from _nodes(child, depth + 1)


async def profile(url: str, path: Path, fmt: str, slug: str, label: str) -> list[str]:
    """Ingest `path` once with the merge under EXPLAIN ANALYZE; return the report's lines."""
    pool = await db.create_pool(Settings(pool_min=1, pool_max=1), url)
    marks: dict[str, float] = {}
    explained: dict = {}
    merge = ingest._merge

    async def explained_merge(conn: asyncpg.Connection, org_id: int, result, max_errors, timeout):
        marks["copy_done"] = time.perf_counter()
        text = await conn.fetchval("explain (analyze, buffers, format json) " + ingest.SQL["merge"], org_id,
                                     timeout=3600)
        explained.update(json.loads(text)[0])
        marks["merge_done"] = time.perf_counter()
        result.inserted = result.updated = 0  # the counts are in the plan; no health events for the profile
        return None

    async def chunks():
        with open(path, "rb") as f:  # noqa: ASYNC230 (the bench reads its own file)
            while chunk := f.read(1 << 16):
                yield chunk

    ingest._merge = explained_merge
    try:
        async with pool.acquire() as conn:
            org_id = await conn.fetchval("select id from steward.organizations where slug = $1", slug)
        async with db.org_transaction(pool, org_id, 3_600_000) as conn:
            t0 = time.perf_counter()
            await ingest.ingest(conn, org_id, chunks(), fmt, timeout=3600)
            t1 = time.perf_counter()
    finally:
        ingest._merge = merge
        await pool.close()

    lines = [f"\nprofile: {label}",
             f"  parse + COPY to staging        {marks['copy_done'] - t0:8.2f} s",
             f"  merge under EXPLAIN ANALYZE    {marks['merge_done'] - marks['copy_done']:8.2f} s"
             f"  (execution {explained['Execution Time'] / 1000:.2f} s, planning {explained['Planning Time']:.1f} ms)",
             f"  whole request (in-process)     {t1 - t0:8.2f} s"]
    triggers = explained.get("Triggers", [])
    for trig in triggers:
        lines.append(f"  trigger {trig['Trigger Name']:<40} {trig['Time'] / 1000:8.2f} s  calls {trig['Calls']:>9,}"
                     f"  ({trig['Relation']})")
    trigger_s = sum(t["Time"] for t in triggers) / 1000
    lines.append(f"  statement without triggers     {explained['Execution Time'] / 1000 - trigger_s:8.2f} s")
    lines.append("  plan (inclusive ms, rows):")
    for depth, node, ms, nrows in _nodes(explained["Plan"]):
        if ms >= 50 or depth < 2:
            lines.append(f"    {'  ' * depth}{node:<60} {ms:10.0f} ms {nrows:>10,.0f} rows")
    return lines
