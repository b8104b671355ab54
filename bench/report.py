"""Write the raw-figures section of bench/RESULTS.md from the files bench/run.sh leaves in bench/.data.

Only the part between `<!-- raw:begin -->` and `<!-- raw:end -->` is replaced; the
written analysis around it is kept.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import psutil

from bench.generate import DEFAULT_DB, DEFAULT_SERVER, with_database
from service.db.pool import connect

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- raw:begin -->", "<!-- raw:end -->"


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return [f"- machine: {os.cpu_count()} cores ({model}), {psutil.virtual_memory().total / 2**30:.1f} GiB memory, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
            f"- load average when the report was written: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
            "(1/5/15 min; the machine is shared, so figures are noisy)"]


async def generated(url: str, db: str) -> tuple[dict, str]:
    conn = await connect(with_database(url, db))
    try:
        meta = dict(await conn.fetch("select key, value from bench_meta.generated"))
        version = await conn.fetchval("select version()")
        settings = {r["name"]: r["setting"] + (r["unit"] or "") for r in await conn.fetch(
            "select name, setting, unit from pg_settings where name in "
            "('shared_buffers', 'work_mem', 'effective_cache_size', 'max_parallel_workers_per_gather', 'jit')")}
    finally:
        await conn.close()
    return meta, f"{version.split(' on ')[0]}; " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))


def render(args, meta: dict, pg: str) -> str:
    out = [BEGIN, "", "## Raw figures (written by `bench/run.sh`)", ""]
    out += [f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", f"- command: `{args.command}`"]
    out += machine()
    out += [f"- PostgreSQL: {pg}"]
    if os.path.exists(ROOT / ".git"):
        try:
            head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                  text=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--", "service", "schema", "sql"], cwd=ROOT,
                                   capture_output=True, text=True).stdout.strip()
            out += [f"- code: git {head}{' with uncommitted changes in service/, schema/ or sql/' if dirty else ''}"]
        except OSError:
            pass
    out += ["", "### Data set", ""]
    out += [f"Generated {meta.get('generated_on')} (seed {meta.get('seed')}, rollup mode {meta.get('rollup')}): "
            f"{int(meta.get('conversations', 0)):,} conversations. Load time {meta.get('load_seconds')} s "
            f"(conversations COPY {meta.get('copy_seconds')} s, one rollup refresh {meta.get('refresh_seconds')} s, "
            f"VACUUM ANALYZE {meta.get('vacuum_seconds')} s). One more day's batch of "
            f"{int(meta.get('daily_batch_rows', 0)):,} conversations through COPY: "
            f"{meta.get('daily_batch_trigger_s')} s with the rollup trigger, {meta.get('daily_batch_no_trigger_s')} s "
            "without.", "", "| table | rows | total size (MiB) |", "|---|---:|---:|"]
    for part in meta.get("sizes", "").split("; "):
        if not part:
            continue
        name, rest = part.split("=")
        rows, size = rest.split(":")
        out.append(f"| {name} | {int(rows):,} | {int(size) / 2**20:.1f} |")
    out.append(f"| *database* | | {int(meta.get('database_bytes', 0)) / 2**20:.1f} |")

    load_file = DATA / "load.json"
    if load_file.exists():
        load = json.loads(load_file.read_text())
        out += ["", "### Load (steward vs floor vs PostGraphile)", "",
                f"{load['clients']} concurrent clients, {load['duration_s']} s measured per op and target after "
                f"{load['warmup_s']} s of warm-up; handovers at {load['handover_rate']}/s during every read phase "
                f"(assignOwner for Steward, the same two statements in SQL for the other two). Organizations "
                f"used: {', '.join(f'{k} ({v} deployments)' for k, v in load['orgs'].items())}. "
                "Latency is per operation (the BI pull's whole page walk is one operation). CPU columns: "
                "the target's server process, the PostgreSQL backends of the benchmark database, and the "
                "load driver, per operation.", "", load["table_md"]]
        if load.get("floor_statements"):
            out += ["", "Statements per operation in the floor (what Steward's resolvers ran, captured): " +
                    ", ".join(f"{op} {min(v)}–{max(v)}" for op, v in load["floor_statements"].items())]
    profile_file = DATA / "profile" / "profile.json"
    if profile_file.exists():
        prof = json.loads(profile_file.read_text())
        out += ["", "### Profile (single client, in process, bench/profile.py)", "",
                "| op | wall ms | awaiting SQL ms | statements | EXPLAIN ANALYZE sum ms "
                "| slowest statements (EXPLAIN ANALYZE ms) |",
                "|---|---:|---:|---:|---:|---|"]
        for op, p in prof.items():
            top = sorted(p["statements"], key=lambda s: -s["execution_ms"])[:3]
            cells = "; ".join(f"{s['execution_ms']:.1f} `{s['sql'][:70]}…`" for s in top)
            out.append(f"| {op} | {p['wall_ms']:.1f} | {p['in_sql_ms']:.1f} | {p.get('statement_count', '–')} | "
                       f"{p.get('explain_sum_ms', 0):.1f} | {cells} |")
        out += ["", "Wall and awaiting-SQL times are medians under cProfile (which inflates Python); the "
                "database's own time is the EXPLAIN ANALYZE sum. Full plans: `bench/.data/profile/explain-<op>.txt`; "
                "Python: `bench/.data/profile/cprofile-<op>.txt`."]
    demo_file = DATA / "demo.json"
    if demo_file.exists():
        out += ["", "### `steward demo` + first query (warm install)", ""]
        for r in json.loads(demo_file.read_text()):
            if "error" in r:
                out.append(f"- {r['case']}: error: {r['error']}")
            else:
                out.append(f"- {r['case']}: `steward demo` {r['demo_s']} s + `steward serve` and first query "
                           f"{r['serve_and_first_query_s']} s = **{r['total_s']} s**")
    out += ["", END]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER)
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--command", default="bench/run.sh")
    args = parser.parse_args(argv)
    meta, pg = asyncio.run(generated(args.url, args.db))
    raw = render(args, meta, pg)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + raw + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + raw + "\n"
    RESULTS.write_text(text)
    print(f"report: wrote the raw figures into {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
