"""Ingest benchmark: N rows through the HTTP endpoint (uvicorn), the CLI and a bare COPY floor.

    DATABASE_URL=postgresql://root@127.0.0.1:5432/postgres python bench/ingest_bench.py --rows 1000000

Creates its own database on the server (dropped at the end unless --keep),
an organization with deployments, topics and workflows, and a generated file
of conversations. Every path starts from an empty conversations table after a
CHECKPOINT, and inserts the same rows. The floor is asyncpg
`copy_records_to_table` of the same rows, already parsed and resolved to ids
(untimed), into `create table … (like steward.conversations)`: no index, no
constraint, no trigger. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gen_conversations import TOPICS, rows, write  # noqa: E402
from ingest_profile import profile  # noqa: E402

from service.ingest import merge as ingest  # noqa: E402

from service.db import pool as db
from service.auth import create_token  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db.migrate import migrate  # noqa: E402

DEPLOYMENTS = [("concierge", ["CHAT", "EMAIL", "SMS"]), ("assistant", ["CHAT", "EMAIL"]),
               ("helpdesk", ["CHAT", "VOICE"]), ("returns-bot", ["CHAT", "SOCIAL"]),
               ("sms-agent", ["SMS"]), ("email-triage", ["EMAIL"]), ("voice-ivr", ["VOICE"]),
               ("social-care", ["SOCIAL", "CHAT"])]
SLUG = "bench-retail"


def url_with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def setup(server_url: str, name: str) -> tuple[str, str]:
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'create database "{name}"')
    await admin.close()
    url = url_with_db(server_url, name)
    conn = await db.connect(url)
    try:
        await migrate(conn)
        org = await conn.fetchval("insert into steward.organizations (slug, name) values ($1, 'Bench Retail') returning id",
                                  SLUG)
        deps = {}
        for key, channels in DEPLOYMENTS:
            deps[key] = await conn.fetchval(
                "insert into steward.deployments (org_id, key, name, channels, launched_at)"
                " values ($1, $2, $2, $3, '2024-01-01') returning id", org, key, channels)
        # workflows for the busier half of the topics, so coverage and ARR are realistic
        for i, (topic, _) in enumerate(TOPICS):
            topic_id = await conn.fetchval(
                "insert into steward.topics (org_id, key, name) values ($1, $2, $3) returning id",
                org, topic, ingest.topic_name(topic))
            if i % 2 == 0:
                for key, channels in DEPLOYMENTS[: 5]:
                    wf = await conn.fetchval(
                        "insert into steward.workflows (org_id, deployment_id, topic_id, name, channels)"
                        " values ($1, $2, $3, $4, $5) returning id", org, deps[key], topic_id, topic, channels)
                    await conn.execute(
                        "insert into steward.workflow_periods (org_id, workflow_id, active)"
                        " values ($1, $2, tstzrange('2024-01-01', null))", org, wf)
        _, token = await create_token(conn, SLUG, ["write:activity"], "bench")
    finally:
        await conn.close()
    return url, token


async def reset(url: str) -> None:
    conn = await db.connect(url)
    try:
        await conn.execute("truncate steward.conversations, steward.conversation_daily")
        await conn.execute("vacuum analyze steward.conversations")
        await conn.execute("checkpoint")
    finally:
        await conn.close()


async def count(url: str) -> int:
    conn = await db.connect(url)
    try:
        return await conn.fetchval("select count(*) from steward.conversations")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen:
    code = ("import uvicorn; from service.app import create_app; from service.config import Settings;"
            f"uvicorn.run(create_app(Settings.from_env(), {url!r}), host='127.0.0.1', port={port},"
            " log_level='warning', access_log=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "DATABASE_URL": url})
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start")


async def via_http(port: int, token: str, path: Path, content_type: str) -> tuple[float, dict]:
    async def body():
        with open(path, "rb") as f:
            while chunk := f.read(1 << 18):
                yield chunk

    headers = {"authorization": f"Bearer {token}", "content-type": content_type,
               "content-length": str(path.stat().st_size)}
    async with httpx.AsyncClient(timeout=httpx.Timeout(1200.0)) as client:
        t0 = time.perf_counter()
        r = await client.post(f"http://127.0.0.1:{port}/ingest/conversations", content=body(), headers=headers)
        elapsed = time.perf_counter() - t0
    if r.status_code != 200:
        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:500]}")
    return elapsed, r.json()


def via_cli(url: str, path: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "service.ingest.cli", str(path), "--org", SLUG], cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr[-2000:])
    return elapsed, json.loads(proc.stdout)


async def phases(url: str, path: Path, fmt: str) -> tuple[float, float]:
    """In-process ingest with the COPY (parse + stream) and merge phases timed apart."""
    pool = await db.create_pool(Settings(pool_min=1, pool_max=1), url)
    marks = {}
    merge = ingest._merge

    async def timed_merge(*args, **kwargs):
        marks["copy_done"] = time.perf_counter()
        try:
            return await merge(*args, **kwargs)
        finally:
            marks["merge_done"] = time.perf_counter()

    async def chunks():
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                yield chunk

    ingest._merge = timed_merge
    try:
        async with pool.acquire() as conn:
            org_id = await conn.fetchval("select id from steward.organizations where slug = $1", SLUG)
        async with db.org_transaction(pool, org_id, 3_600_000) as conn:
            t0 = time.perf_counter()
            await ingest.ingest(conn, org_id, chunks(), fmt, timeout=3600)
    finally:
        ingest._merge = merge
        await pool.close()
    return marks["copy_done"] - t0, marks["merge_done"] - marks["copy_done"]


async def floor(url: str, path: Path, fmt: str) -> float:
    """Bare COPY of the same rows, pre-parsed (untimed), into an unindexed copy of the table."""
    conn = await db.connect(url)
    try:
        deps = {r["key"]: r["id"] for r in await conn.fetch("select key, id from steward.deployments")}
        topics = {r["key"]: r["id"] for r in await conn.fetch("select key, id from steward.topics")}
        org_id = await conn.fetchval("select id from steward.organizations where slug = $1", SLUG)
        now = datetime.now().astimezone()
        recs = []
        with open(path, newline="") as f:
            if fmt == "csv":
                import csv

                reader = csv.reader(f)
                next(reader)
                items = ((r[0], r[1], r[2], r[3], r[4], r[5] == "true", r[6], r[7] or None, r[8] or None)
                         for r in reader)
            else:
                items = ((o["externalId"], o["deploymentKey"], o["topic"], o["channel"], o["startedAt"],
                          o["aiEngaged"], o["outcome"], o.get("resolvedAt"), o.get("reopenedAt"))
                         for o in map(json.loads, f))
            fi = datetime.fromisoformat
            for i, (ext, dk, tk, ch, st, ae, oc, ra, rp) in enumerate(items):
                recs.append((org_id, i + 1, ext, deps[dk], topics[tk], ch, fi(st), ae, oc,
                             fi(ra) if ra else None, fi(rp) if rp else None, now))
        await conn.execute("drop table if exists bench_floor")
        await conn.execute("create table bench_floor (like steward.conversations)")
        await conn.execute("checkpoint")
        t0 = time.perf_counter()
        await conn.copy_records_to_table("bench_floor", records=recs, timeout=3600)
        elapsed = time.perf_counter() - t0
        await conn.execute("drop table bench_floor")
        return elapsed
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: http,cli,phases,rerun")
    parser.add_argument("--profile", action="store_true",
                        help="then EXPLAIN ANALYZE the merge of a fresh and of a re-sent file (bench/ingest_profile.py)")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        parser.error("set DATABASE_URL to a PostgreSQL server the bench may create a database on")
    skip = set(filter(None, args.skip.split(",")))
    name = f"steward_bench_{uuid.uuid4().hex[:8]}"
    report: list[str] = []
    url, token = await setup(server_url, name)
    say(f"bench database {name}; generating {args.rows:,} rows")
    results: list[tuple[str, float, int]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"conversations.{args.format}"
            write(path, args.format, rows(args.rows, DEPLOYMENTS, days=args.days))
            size = path.stat().st_size
            say(f"file {path.name}: {size / 1e6:.0f} MB")
            content_type = "text/csv" if args.format == "csv" else "application/x-ndjson"

            floor_s = await floor(url, path, args.format)
            results.append(("bare COPY floor (unindexed, pre-parsed)", floor_s, args.rows))

            if "http" not in skip:
                await reset(url)
                port = free_port()
                server = start_server(url, port)
                try:
                    elapsed, summary = await via_http(port, token, path, content_type)
                    assert summary["inserted"] == args.rows, summary
                    results.append(("HTTP endpoint, fresh insert", elapsed, args.rows))
                    if "rerun" not in skip:
                        elapsed, summary = await via_http(port, token, path, content_type)
                        assert summary["unchanged"] == args.rows, summary
                        results.append(("HTTP endpoint, same file again (unchanged)", elapsed, args.rows))
                finally:
                    server.terminate()
                    server.wait(timeout=30)

            if "cli" not in skip:
                await reset(url)
                elapsed, summary = await asyncio.to_thread(via_cli, url, path)
                assert summary["inserted"] == args.rows, summary
                results.append(("CLI steward import, fresh insert", elapsed, args.rows))

            if "phases" not in skip:
                await reset(url)
                copy_s, merge_s = await phases(url, path, args.format)
                results.append(("  in-process: parse + COPY to staging", copy_s, args.rows))
                results.append(("  in-process: merge statement (incl. triggers)", merge_s, args.rows))
            if args.profile:
                await reset(url)
                report = await profile(url, path, args.format, SLUG, "fresh insert")
                report += await profile(url, path, args.format, SLUG, "same file again (unchanged)")
            assert await count(url) == args.rows
    finally:
        if not args.keep:
            admin = await asyncpg.connect(server_url)
            await admin.execute(f'drop database if exists "{name}" with (force)')
            await admin.close()

    print(f"\ningest benchmark: {args.rows:,} rows, {args.format}, {os.cpu_count()} cores")
    print(f"{'path':<50} {'seconds':>8} {'rows/s':>10} {'x floor':>8}")
    for label, seconds, n in results:
        print(f"{label:<50} {seconds:8.2f} {n / seconds:10,.0f} {seconds / floor_s:8.2f}")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
