"""Replica lag and read routing under the bench's handover load, on a real streaming standby.

    .venv/bin/python -m bench.replicas [--duration 60] [--readers 4] [--handover-rate 2] [--json out.json]

Builds its own primary (embedded PostgreSQL 18, default durability) with the demo data set, clones a hot
standby from it (`pg_basebackup -R`), and runs Steward in process with STEWARD_REPLICA_URLS pointing at it
(default STEWARD_REPLICA_MAX_LAG_MS 1000, checks every 250 ms). Load: `--readers` clients reading a
dashboard page (100 deployments with owner, health and 30-day metrics) back to back, and assignOwner
handovers at `--handover-rate` per second, each read back at once with its consistency token. Reports:
- the replica's lag as Steward measured it (every check), and pg_stat_replication.replay_lag on the
  primary (PostgreSQL's own measure) once a second;
- the reads each server served (/metrics counters) and the replica's share;
- read-your-writes: how many token reads the replica served and how many went to the primary, whether
  each saw its write, and how long the standby took to replay each token (polled on a connection of its own).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from service.app import create_app
from service.auth import create_token
from service.config import ReplicaSettings, Settings
from service.db.embedded import EmbeddedPostgres
from service.db.lag import parse_lsn
from service.db.migrate import migrate
from service.db.pool import connect
from service.demo.load import load_demo

DASHBOARD = """query Dashboard {
  deployments(first: 100, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    edges { node { id key name status owner { name function fteOnAi } health { status reasons { code } }
      metrics(window: {lastDays: 30}) { conversations addressableResolutionRate workflowUpdates reviews } } }
  }
}"""
HANDOVER = """mutation Handover($input: AssignOwnerInput!) {
  assignOwner(input: $input) { __typename ... on AssignOwnerSuccess { changed } ... on UserError { message } }
}"""
OWNER = "query Owner($id: ID!) { node(id: $id) { ... on Deployment { owner { id } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "p50": round(statistics.median(ordered), 2),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2), "max": round(ordered[-1], 2),
            "mean": round(statistics.fmean(ordered), 2)}


async def counters(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    out = {"replica": sum(float(v) for v in re.findall(r"^steward_replica_reads_total\{[^}]*\} (\S+)$", text, re.M))}
    for reason, value in re.findall(r'^steward_primary_reads_total\{reason="(\w+)"\} (\S+)$', text, re.M):
        out[f"primary:{reason}"] = float(value)
    return out


async def world(url: str) -> dict:
    """The demo data set, lumen-beauty's tokens, and the deployment and two CX people the handovers use."""
    await load_demo(url)
    conn = await connect(url)
    try:
        _, read = await create_token(conn, "lumen-beauty", ["read"], "bench read")
        _, write = await create_token(conn, "lumen-beauty", ["read", "write:owners"], "bench write")
        rows = await conn.fetch(
            "select d.id as deployment, p.id as person from steward.deployments d"
            " join steward.organizations o on o.id = d.org_id join steward.persons p on p.org_id = o.id"
            " where o.slug = 'lumen-beauty' and d.key = 'concierge' and p.active order by p.id limit 2")
    finally:
        await conn.close()
    from schema.relay import to_global_id

    return {"read": read, "write": write, "deployment": to_global_id("Deployment", rows[0]["deployment"]),
            "people": [to_global_id("Person", r["person"]) for r in rows]}


async def run(args: argparse.Namespace) -> dict:
    base = Path(tempfile.mkdtemp(prefix="steward-replicas-"))
    primary = EmbeddedPostgres(base / "primary", free_port(), options="-c wal_keep_size=256MB")
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, primary.start)
    standby = None
    try:
        conn = await connect(url)
        await migrate(conn)
        await conn.close()
        w = await world(url)
        standby = await loop.run_in_executor(None, primary.standby, base / "standby", free_port())
        await loop.run_in_executor(None, standby.start)
        settings = Settings(rate_limit=None, health_evaluator_interval_s=0,
                            replicas=ReplicaSettings(urls=(standby.url,), max_lag_ms=args.max_lag_ms))
        app = create_app(settings, url)
        async with app.router.lifespan_context(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://steward",
                                       timeout=30)
            return await measure(args, app, client, w, url, standby.url)
    finally:
        if standby is not None:
            await loop.run_in_executor(None, standby.stop)
        await loop.run_in_executor(None, primary.stop)


async def measure(args, app, client: httpx.AsyncClient, w: dict, primary_url: str, standby_url: str) -> dict:
    replica = app.state.replicas.replicas[0]
    while not replica.usable:  # noqa: ASYNC110 (the monitor sets no event)
        await asyncio.sleep(0.05)
    lags: list[float] = []
    pg_lags: list[float] = []
    ryw = {"reads": 0, "saw_write": 0, "replay_ms": [], "handovers": 0, "errors": 0}
    reads_done = [0]
    read_errors = [0]
    stop = asyncio.Event()
    watcher = await connect(standby_url)
    primary = await connect(primary_url)
    auth = {"authorization": f"Bearer {w['read']}"}

    async def reader() -> None:
        while not stop.is_set():
            r = await client.post("/graphql", json={"query": DASHBOARD}, headers=auth)
            reads_done[0] += 1
            if r.status_code != 200 or "errors" in r.json():
                read_errors[0] += 1

    async def sample_lag() -> None:  # the lag of every check
        while not stop.is_set():
            await asyncio.sleep(app.state.settings.replicas.check_interval_s)
            if replica.lag_ms is not None:
                lags.append(replica.lag_ms)

    async def sample_pg() -> None:
        while not stop.is_set():
            value = await primary.fetchval(
                "select extract(epoch from coalesce(replay_lag, interval '0')) * 1000 from pg_stat_replication")
            if value is not None:
                pg_lags.append(float(value))
            await asyncio.sleep(1)

    waits: list[asyncio.Task] = []
    watch_lock = asyncio.Lock()

    async def replayed_after(lsn: int | None, t0: float) -> None:
        """How long after the mutation's answer (at `t0`) the standby had replayed its token."""
        while True:
            async with watch_lock:
                if await watcher.fetchval("select pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn):
                    break
            await asyncio.sleep(0.0005)
        ryw["replay_ms"].append((time.monotonic() - t0) * 1000)

    async def handovers() -> None:
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            person = w["people"][i % 2]
            r = await client.post("/graphql", json={"query": HANDOVER, "variables": {"input": {
                "deploymentId": w["deployment"], "personId": person, "reason": "bench handover"}}},
                headers={"authorization": f"Bearer {w['write']}"})
            token = r.headers.get("steward-consistency-token")
            if token is not None:
                waits.append(asyncio.create_task(replayed_after(parse_lsn(token), time.monotonic())))
            ryw["handovers"] += 1
            if r.status_code != 200 or token is None:
                ryw["errors"] += 1
            else:
                read = await client.post("/graphql", json={"query": OWNER, "variables": {"id": w["deployment"]}},
                                         headers=auth | {"steward-consistency-token": token})
                ryw["reads"] += 1
                if read.json()["data"]["node"]["owner"]["id"] == person:
                    ryw["saw_write"] += 1
            i += 1
            await asyncio.sleep(max(0.0, 1 / args.handover_rate - (time.monotonic() - started)))

    before = await counters(client)
    tasks = [asyncio.create_task(reader()) for _ in range(args.readers)]
    tasks += [asyncio.create_task(t()) for t in (sample_lag, sample_pg, handovers)]
    await asyncio.sleep(args.duration)
    stop.set()
    await asyncio.gather(*tasks, *waits)
    after = await counters(client)
    await watcher.close()
    await primary.close()
    served = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    token_reads = ryw["reads"]
    to_primary = served.get("primary:token_ahead", 0)
    total = sum(served.values())
    return {
        "duration_s": args.duration, "readers": args.readers, "handover_rate": args.handover_rate,
        "dashboard_reads": reads_done[0], "read_errors": read_errors[0],
        "lag_ms_steward": summary(lags), "lag_ms_over_max": sum(1 for v in lags if v > args.max_lag_ms),
        "replay_lag_ms_pg_stat_replication": summary(pg_lags),
        "reads_served": served, "replica_share": round(served.get("replica", 0) / total, 4) if total else None,
        "read_your_writes": {"handovers": ryw["handovers"], "errors": ryw["errors"], "token_reads": token_reads,
                             "saw_their_write": ryw["saw_write"], "sent_to_primary": to_primary,
                             "replay_after_answer_ms": summary(ryw["replay_ms"])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--handover-rate", type=float, default=2.0)
    parser.add_argument("--max-lag-ms", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
