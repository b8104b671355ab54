"""Time `steward demo` + the first query, from a warm install (the .venv exists, no data yet).

    .venv/bin/python -m bench.demo_time [--url postgresql://root@127.0.0.1:5432/postgres] [--skip-embedded]

Two cases, each from nothing but the installed package:
  embedded  no DATABASE_URL: `steward demo` starts the pip-installed PostgreSQL in a new
            empty data folder (initdb included), migrates, loads the demo, stops it; then
            `steward serve` starts it again and the first query is answered;
  server    DATABASE_URL = a new empty database on --url: the same without initdb.
"First query" is the demo's own example query with one of the read tokens it prints,
sent as soon as `steward serve` accepts connections. The time reported is from the
start of `steward demo` to the first query's answer.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.generate import DEFAULT_SERVER, with_database

ROOT = Path(__file__).resolve().parent.parent
STEWARD = str(ROOT / ".venv" / "bin" / "steward")
FIRST_QUERY = "{ deployments { edges { node { key owner { name } health { status } } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(env: dict[str, str], label: str) -> dict:
    t0 = time.perf_counter()
    demo = subprocess.run([STEWARD, "demo"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    t_demo = time.perf_counter() - t0
    if demo.returncode != 0:
        return {"case": label, "error": f"steward demo exited {demo.returncode}: {demo.stderr[-500:]}"}
    tokens = re.findall(r"\bread\s+(stw_[A-Za-z0-9_\-]+)", demo.stdout)
    if not tokens:
        return {"case": label, "error": "steward demo printed no read token", "demo_s": t_demo}
    port = free_port()
    t1 = time.perf_counter()
    serve = subprocess.Popen([STEWARD, "serve", "--port", str(port)], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while time.perf_counter() - t1 < 120:
                if serve.poll() is not None:
                    return {"case": label, "error": f"steward serve exited: {serve.stderr.read()[-500:]}"}
                try:
                    answer = http.post("/graphql", json={"query": FIRST_QUERY},
                                       headers={"authorization": f"Bearer {tokens[0]}"})
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
        t_end = time.perf_counter()
        ok = answer is not None and answer.status_code == 200 and "errors" not in answer.json()
        edges = len(answer.json()["data"]["deployments"]["edges"]) if ok else 0
        return {"case": label, "demo_s": round(t_demo, 2), "serve_and_first_query_s": round(t_end - t1, 2),
                "total_s": round(t_end - t0, 2), "first_query_ok": ok, "deployments_returned": edges}
    finally:
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER)
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args(argv)
    if not (ROOT / "service" / "demo" / "dataset.py").exists():
        print("demo_time: service/demo/dataset.py is missing: `steward demo` cannot be measured yet")
        return 0
    base = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_") and k != "DATABASE_URL"}
    results = []
    if not args.skip_embedded:
        data = Path(tempfile.mkdtemp(prefix="steward-demo-"))
        try:
            env = base | {"STEWARD_DATA_DIR": str(data), "STEWARD_EMBEDDED_PORT": str(free_port()),
                          "STEWARD_LOG_LEVEL": "WARNING"}
            results.append(measure(env, "embedded PostgreSQL, empty data folder"))
        finally:
            if (data / "pgdata" / "postmaster.pid").exists():
                # `steward serve` stops the cluster it started when it exits; this is a safety net
                from service.db.embedded import EmbeddedPostgres

                EmbeddedPostgres(data / "pgdata", int(env["STEWARD_EMBEDDED_PORT"])).stop()
            shutil.rmtree(data, ignore_errors=True)
    name = f"steward_demo_{uuid.uuid4().hex[:8]}"
    import asyncio

    import asyncpg

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(args.url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'create database "{name}"'))
    try:
        env = base | {"DATABASE_URL": with_database(args.url, name), "STEWARD_LOG_LEVEL": "WARNING"}
        results.append(measure(env, "DATABASE_URL, empty database"))
    finally:
        asyncio.run(admin(f'drop database if exists "{name}" with (force)'))
    for r in results:
        if "error" in r:
            print(f"demo_time: {r['case']}: ERROR {r['error']}")
        else:
            print(f"demo_time: {r['case']}: steward demo {r['demo_s']:.2f}s + serve and first query "
                  f"{r['serve_and_first_query_s']:.2f}s = {r['total_s']:.2f}s "
                  f"(first query {'ok' if r['first_query_ok'] else 'FAILED'}, {r['deployments_returned']} deployments)")
    import json

    (ROOT / "bench" / ".data").mkdir(exist_ok=True)
    (ROOT / "bench" / ".data" / "demo.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
