"""Where each read operation spends its time: SQL (EXPLAIN ANALYZE of every statement) and Python (cProfile).

    .venv/bin/python -m bench.profile [--db steward_bench] [--repeat 5] [--out bench/.data/profile]

For each operation of bench/load.py (dashboard, detail, bi, summary), on one
representative parameter set:
  1. runs it through `schema.execute` (in process, one scoped connection, as
     graphql_http does) --repeat times under cProfile, timing every statement the
     resolvers await (Db.fetch & co.), so wall time splits into "waiting for
     PostgreSQL" and "Python";
  2. runs EXPLAIN (ANALYZE, BUFFERS) on each statement the resolvers ran, with the
     same arguments, inside the same scoping, and prints execution time, buffers and
     the top plan nodes; the full plans go to OUT/explain-<op>.txt and the cProfile
     tables to OUT/cprofile-<op>.txt.
Single client, nothing else running: this attributes cost, it does not measure
throughput (that is bench/load.py). "Awaiting SQL" is wall time spent in the
statement awaits, so it also holds Python work of sibling resolvers that ran on
the event loop meanwhile; the EXPLAIN ANALYZE sum is the database's own time.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

from bench.generate import DEFAULT_DB, DEFAULT_SERVER, with_database
from bench.load import STEWARD, STATEMENT_TIMEOUT_MS, load_world, make_tokens, to_global_id
from service.db.pool import connect, scope_transaction

ROOT = Path(__file__).resolve().parent.parent


class TimedConn:
    """The request's asyncpg connection with a stopwatch around each statement (inside Db's lock)."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _timed(self, method):
        async def call(sql, *args):
            t0 = time.perf_counter()
            try:
                return await method(sql, *args)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1
        return call

    @property
    def fetch(self):
        return self._timed(self.inner.fetch)

    @property
    def fetchrow(self):
        return self._timed(self.inner.fetchrow)

    @property
    def fetchval(self):
        return self._timed(self.inner.fetchval)


async def run_once(db_url: str, org, query: str, variables: dict | None, profiler: cProfile.Profile | None):
    from schema import schema
    from service.auth import authenticate
    from service.config import Settings
    from schema.context import Context, Db

    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, org.read_token)
        logged: list[tuple[str, tuple]] = []
        async with conn.transaction(readonly=True):
            await scope_transaction(conn, principal.org_id, STATEMENT_TIMEOUT_MS)
            conn.add_query_logger(lambda r: logged.append((r.query, tuple(r.args or ()))))
            timed = TimedConn(conn)
            context = Context(db=Db(timed), principal=principal, settings=Settings())
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            result = await schema.execute(query, variable_values=variables, context_value=context)
            if profiler:
                profiler.disable()
            wall = time.perf_counter() - t0
        if result.errors:
            raise RuntimeError(result.errors)
        statements = [(q, a) for q, a in logged if "typeinfo_tree" not in q and "current_setting('jit')" not in q]
        return wall, timed.seconds, statements, result.data
    finally:
        await conn.close()


async def explain(db_url: str, org_id: int, statements: list[tuple[str, tuple]]) -> list[dict]:
    conn = await connect(db_url)
    out = []
    try:
        for sql, args in statements:
            async with conn.transaction(readonly=True):
                await scope_transaction(conn, org_id, STATEMENT_TIMEOUT_MS)
                rows = await conn.fetch("explain (analyze, buffers, format json) " + sql, *args)
                plan = json.loads(rows[0][0])[0]
                text = await conn.fetch("explain (analyze, buffers, costs off) " + sql, *args)
            top = plan["Plan"]
            out.append({
                "sql": " ".join(sql.split()),
                "args": [a if not isinstance(a, list) or len(a) <= 5 else f"[{len(a)} ids]" for a in args],
                "execution_ms": plan["Execution Time"], "planning_ms": plan["Planning Time"],
                "shared_hit": top.get("Shared Hit Blocks", 0), "shared_read": top.get("Shared Read Blocks", 0),
                "temp_written": top.get("Temp Written Blocks", 0),
                "plan": "\n".join(r[0] for r in text),
            })
    finally:
        await conn.close()
    return out


def op_inputs(world) -> dict[str, tuple]:
    org = world.orgs[0]  # the largest organization
    org_id, dep = world.detail[0]
    return {
        "dashboard": (org, STEWARD["dashboard"], None),
        "detail": (org_id, STEWARD["detail"], {"id": to_global_id("Deployment", dep)}),
        "bi": (org, STEWARD["bi"], {"after": None}),
        "summary": (org, STEWARD["summary"], None),
    }


async def main_async(args) -> int:
    db_url = with_database(args.url, args.db)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    world = await load_world(db_url, 40, 7)
    await make_tokens(world)
    summary = {}
    for op, (org, query, variables) in op_inputs(world).items():
        if args.ops and op not in args.ops.split(","):
            continue
        await run_once(db_url, org, query, variables, None)  # warm caches and the schema
        profiler = cProfile.Profile()
        walls, dbs = [], []
        statements = []
        for _ in range(args.repeat):
            wall, db_s, statements, _data = await run_once(db_url, org, query, variables, profiler)
            walls.append(wall)
            dbs.append(db_s)
        wall = sorted(walls)[len(walls) // 2]
        db_s = sorted(dbs)[len(dbs) // 2]
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        (out / f"cprofile-{op}.txt").write_text(stream.getvalue())
        plans = await explain(db_url, org.id, statements)
        with open(out / f"explain-{op}.txt", "w") as f:
            for p in plans:
                f.write(f"-- {p['execution_ms']:.1f} ms (planning {p['planning_ms']:.1f} ms)\n-- {p['sql']}\n"
                        f"-- args {p['args']}\n{p['plan']}\n\n")
        explain_ms = sum(p["execution_ms"] + p["planning_ms"] for p in plans)
        summary[op] = {"wall_ms": wall * 1000, "in_sql_ms": db_s * 1000, "python_ms": (wall - db_s) * 1000,
                       "explain_sum_ms": explain_ms, "statement_count": len(plans),
                       "statements": [{k: p[k] for k in ("sql", "execution_ms", "planning_ms", "shared_hit",
                                                         "shared_read", "temp_written")} for p in plans]}
        print(f"\n== {op}: median of {args.repeat} in process: {wall * 1000:.1f} ms wall, "
              f"{db_s * 1000:.1f} ms awaiting SQL, {(wall - db_s) * 1000:.1f} ms Python (incl. cProfile overhead); "
              f"{len(plans)} statements, {explain_ms:.1f} ms planning + execution by EXPLAIN ANALYZE")
        for p in sorted(plans, key=lambda p: -p["execution_ms"]):
            print(f"   {p['execution_ms']:8.1f} ms  plan {p['planning_ms']:5.1f}  hit {p['shared_hit']:>8} "
                  f"read {p['shared_read']:>6} tmp {p['temp_written']:>5}  {p['sql'][:110]}")
        print("   python top (tottime):")
        quiet = io.StringIO()
        pstats.Stats(profiler, stream=quiet).sort_stats("tottime").print_stats(8)
        for line in quiet.getvalue().splitlines():
            if line.strip() and (line.strip()[0].isdigit()):
                print("     " + line.strip()[:150])
    (out / "profile.json").write_text(json.dumps(summary, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER)
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ops", default="")
    parser.add_argument("--out", default=str(ROOT / "bench" / ".data" / "profile"))
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
