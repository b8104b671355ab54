"""Simulated Citus shard distribution of a data set: rows per shard and the largest tenant's share.

    .venv/bin/python -m bench.shards [--url postgresql://root@127.0.0.1:5432/postgres]
                                     [--db steward_bench] [--shards 32] [--workers 4]

Citus places a row of a table distributed by org_id (docs/scale-out.md) in the shard whose
hash range holds hashint8(org_id): the bigint hash function PostgreSQL itself uses, split into
--shards equal ranges of the int32 space (citus.shard_count, 32 by default; ranges as in Citus'
create_shards.c: shard i covers [-2^31 + i * (2^32 / n), next - 1], the last one up to 2^31 - 1).
Co-located tables share the ranges, so an organization's rows of every table sit in one shard.
Shards are placed on --workers nodes round-robin (shard i on node i mod workers), as Citus
places a new table's shards; rebalancing later moves whole shards.

The tables counted are those docs/scale-out.md distributes (create_distributed_table), read from
the doc so the figures follow its statements. Prints the figures as Markdown.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
from pathlib import Path

from bench.generate import DEFAULT_DB, DEFAULT_SERVER, with_database
from service.db.pool import connect

ROOT = Path(__file__).resolve().parent.parent
SCALE_OUT = ROOT / "docs" / "scale-out.md"

# Rows per organization of one table, with the shard of the organization.
SHARD_OF_ORG = """
select t.org_id, t.n,
       least((hashint8(t.org_id)::bigint + 2147483648) / (4294967296 / $1::bigint), $1::bigint - 1)::int as shard
  from (select org_id, count(*) as n from {table} group by org_id) t
"""


def distributed_tables() -> list[str]:
    return re.findall(r"select create_distributed_table\('([a-z_.]+)'", SCALE_OUT.read_text())


async def figures(url: str, shards: int) -> dict:
    conn = await connect(url)
    try:
        per_table: dict[str, list[tuple[int, int, int]]] = {}
        for table in distributed_tables():
            rows = await conn.fetch(SHARD_OF_ORG.format(table=table), shards)
            per_table[table] = [(r["org_id"], r["n"], r["shard"]) for r in rows]
    finally:
        await conn.close()
    return per_table


def summary(per_table: dict[str, list[tuple[int, int, int]]], shards: int, tables: list[str] | None) -> dict:
    per_shard = [0] * shards
    per_org: dict[int, int] = {}
    shard_of: dict[int, int] = {}
    for table, rows in per_table.items():
        if tables is not None and table not in tables:
            continue
        for org, n, shard in rows:
            per_shard[shard] += n
            per_org[org] = per_org.get(org, 0) + n
            shard_of[org] = shard
    total = sum(per_shard)
    top_org = max(per_org, key=per_org.__getitem__) if per_org else None
    tenants = [0] * shards
    for shard in shard_of.values():
        tenants[shard] += 1
    return {
        "total": total,
        "shards": per_shard,
        "tenants": tenants,
        "min": min(per_shard), "median": statistics.median(per_shard), "max": max(per_shard),
        "empty": sum(1 for n in per_shard if n == 0),
        "top_org": top_org,
        "top_share": per_org[top_org] / total if top_org is not None and total else 0.0,
        "top_shard_share": max(per_shard) / total if total else 0.0,
        "orgs": len(per_org),
    }


def report(per_table: dict[str, list[tuple[int, int, int]]], shards: int, workers: int) -> str:
    everything = summary(per_table, shards, None)
    conversations = summary(per_table, shards, ["steward.conversations"])
    lines = [f"{everything['orgs']} organizations, {len(per_table)} distributed tables, {shards} shards.", "",
             "| rows of | total | per shard min | median | max | empty shards | largest shard's share "
             "| largest tenant | its share |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in (("every distributed table", everything), ("steward.conversations", conversations)):
        lines.append(f"| {name} | {s['total']:,} | {s['min']:,} | {s['median']:,.0f} | {s['max']:,} | {s['empty']} "
                     f"| {s['top_shard_share']:.1%} | org {s['top_org']} | {s['top_share']:.1%} |")
    nodes = [sum(everything["shards"][i::workers]) for i in range(workers)]
    lines += ["", f"On {workers} workers (round-robin placement), rows per worker: "
                  + ", ".join(f"{n:,}" for n in nodes)
                  + f" (largest {max(nodes) / everything['total']:.1%} of all rows)."]
    lines += ["", "Rows (every distributed table) and tenants per shard:", "",
              "| shard | tenants | rows |", "|---:|---:|---:|"]
    for shard, (n, t) in enumerate(zip(everything["shards"], everything["tenants"], strict=True)):
        lines.append(f"| {shard} | {t} | {n:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER, help="server (superuser: reads every organization)")
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--shards", type=int, default=32, help="citus.shard_count")
    parser.add_argument("--workers", type=int, default=4, help="worker nodes the shards are spread over")
    args = parser.parse_args(argv)
    per_table = asyncio.run(figures(with_database(args.url, args.db), args.shards))
    print(report(per_table, args.shards, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
