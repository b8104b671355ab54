"""Generate a realistic NDJSON or CSV file of conversation outcomes for existing deployments.

    python bench/gen_conversations.py --rows 1000000 --format ndjson --org lumen-beauty -o conv.ndjson
    python bench/gen_conversations.py --rows 1000 --deployments concierge:CHAT+EMAIL -o small.csv

With --org the deployments (keys and channels) are read from DATABASE_URL;
with --deployments they are given as key:CHANNEL+CHANNEL,…. Deterministic for a seed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

# Retail CX conversation types and their share of volume.
TOPICS = [
    ("order-status", 24), ("returns", 14), ("refund-status", 9), ("shipping-delay", 8), ("exchange", 6),
    ("product-question", 7), ("size-guide", 5), ("promo-code", 5), ("account-access", 4), ("cancel-order", 4),
    ("payment-failed", 3), ("loyalty-points", 3), ("store-hours", 2), ("gift-card", 2), ("damaged-item", 2),
    ("subscription", 1), ("warranty", 1),
]
CHANNEL_WEIGHT = {"CHAT": 50, "EMAIL": 25, "SMS": 10, "SOCIAL": 8, "VOICE": 7}
COLUMNS = ["externalId", "deploymentKey", "topic", "channel", "startedAt", "aiEngaged", "outcome",
           "resolvedAt", "reopenedAt"]


def _iso(ts: datetime, offset_hours: int) -> str:
    if offset_hours:
        local = ts + timedelta(hours=offset_hours)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{'+' if offset_hours > 0 else '-'}{abs(offset_hours):02d}:00"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(n: int, deployments: list[tuple[str, list[str]]], *, days: int = 90, seed: int = 1,
         prefix: str = "conv", end: datetime | None = None) -> Iterator[list]:
    """Yield n rows as lists in COLUMNS order (None for absent timestamps)."""
    rnd = random.Random(seed)
    end = end or datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    span = int((end - start).total_seconds())
    topic_keys = [k for k, _ in TOPICS]
    topic_weights = [w for _, w in TOPICS]
    dep_weights = [rnd.uniform(0.5, 2.0) for _ in deployments]
    channel_choices = [(chs, [CHANNEL_WEIGHT.get(c, 1) for c in chs]) for _, chs in deployments]
    batch = 4096
    for base in range(0, n, batch):
        k = min(batch, n - base)
        dep_idx = rnd.choices(range(len(deployments)), dep_weights, k=k)
        topics = rnd.choices(topic_keys, topic_weights, k=k)
        for j in range(k):
            d = dep_idx[j]
            key = deployments[d][0]
            chs, weights = channel_choices[d]
            channel = rnd.choices(chs, weights)[0]
            started = start + timedelta(seconds=rnd.randrange(span))
            offset = 0 if rnd.random() < 0.9 else rnd.choice((-5, -4, 1, 2))
            engaged = rnd.random() < 0.92
            p = rnd.random()
            if engaged:
                outcome = "AI_RESOLVED" if p < 0.52 else "ESCALATED" if p < 0.78 else "ABANDONED" if p < 0.93 else "OPEN"
            else:
                outcome = "ESCALATED" if p < 0.7 else "ABANDONED" if p < 0.9 else "OPEN"
            resolved = reopened = None
            if outcome in ("AI_RESOLVED", "ESCALATED"):
                resolved = started + timedelta(seconds=int(rnd.lognormvariate(6.0, 1.0)))
                if outcome == "AI_RESOLVED" and rnd.random() < 0.07:
                    reopened = resolved + timedelta(seconds=rnd.randrange(72 * 3600))
            yield [f"{prefix}-{base + j:09d}", key, topics[j], channel, _iso(started, offset),
                   "true" if engaged else "false", outcome,
                   None if resolved is None else _iso(resolved, offset),
                   None if reopened is None else _iso(reopened, offset)]


def write(path: Path, fmt: str, it: Iterator[list]) -> int:
    count = 0
    with open(path, "w", newline="") as out:
        if fmt == "csv":
            out.write(",".join(COLUMNS) + "\n")
            for r in it:
                out.write(",".join("" if v is None else v for v in r) + "\n")
                count += 1
        else:
            for r in it:
                obj = {c: v for c, v in zip(COLUMNS, r) if v is not None}
                obj["aiEngaged"] = r[5] == "true"
                out.write(json.dumps(obj, separators=(",", ":")) + "\n")
                count += 1
    return count


async def org_deployments(url: str, slug: str) -> list[tuple[str, list[str]]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        recs = await conn.fetch(
            "select d.key, d.channels from steward.deployments d join steward.organizations o on o.id = d.org_id"
            " where o.slug = $1 and d.status <> 'RETIRED' order by d.key", slug)
    finally:
        await conn.close()
    return [(r["key"], list(r["channels"])) for r in recs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=("ndjson", "csv"))
    parser.add_argument("--org", help="read the deployments of this organization from DATABASE_URL")
    parser.add_argument("--deployments", help="key:CHANNEL+CHANNEL,… instead of --org")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--prefix", default="conv", help="externalId prefix")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    fmt = args.format or ("csv" if args.output.suffix == ".csv" else "ndjson")
    if args.org:
        url = os.environ.get("DATABASE_URL")
        if not url:
            parser.error("--org needs DATABASE_URL")
        deployments = asyncio.run(org_deployments(url, args.org))
        if not deployments:
            parser.error(f"organization {args.org!r} has no deployments")
    elif args.deployments:
        deployments = []
        for item in args.deployments.split(","):
            key, _, chans = item.partition(":")
            deployments.append((key, chans.split("+") if chans else ["CHAT"]))
    else:
        parser.error("give --org or --deployments")
    count = write(args.output, fmt, rows(args.rows, deployments, days=args.days, seed=args.seed, prefix=args.prefix))
    print(f"wrote {count} rows to {args.output} ({args.output.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
