"""steward import FILE [--org SLUG] [--format ndjson|csv] [--atomic]: bulk ingest from the command line."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import asyncpg

from service.cli_support import database, say
from service.config import ConfigError, Settings
from service.db import pool as db
from service.ingest.formats import FORMATS
from service.ingest.merge import ingest
from service.ingest.result import IngestError, Result
from service.orgs import SQL as ORGS
from service.sql_files import load

CHUNK = 1 << 16
SQL = load("service.ingest", "ingest.sql")


class CommandError(Exception):
    """A usage problem, reported in one line and exit status 2."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import", help="ingest a file of conversation outcomes (NDJSON or CSV) into one organization",
        description="Validate and merge conversation outcomes by externalId; prints a JSON summary on stdout."
                    " Exit status 0: every row accepted; 1: some rows rejected; 2: nothing could be done.")
    parser.add_argument("file", type=Path, help="an NDJSON (.ndjson, .jsonl) or CSV (.csv) file")
    parser.add_argument("--org", metavar="SLUG", help="organization slug (default: the only organization)")
    parser.add_argument("--format", choices=FORMATS, help="default: from the file's extension")
    parser.add_argument("--atomic", action="store_true", help="write nothing if any row is rejected")
    return parser


class Progress:
    """A one-line progress bar on stderr: share of the file, rows, rows/s and ETA from bytes read."""

    def __init__(self, total_bytes: int, out: TextIO = sys.stderr, interval: float = 0.25):
        self.total = max(total_bytes, 1)
        self.out = out
        self.tty = out.isatty()
        self.interval = interval if self.tty else 5.0
        self.start = time.monotonic()
        self.last = 0.0
        self.bytes = self.rows = 0
        self.read_all = False

    def __call__(self, nbytes: int, rows: int) -> None:
        self.bytes, self.rows = nbytes, rows
        now = time.monotonic()
        if nbytes >= self.total and not self.read_all:
            # the whole file is parsed and copied; the merge statement runs next
            self.read_all = True
            self.draw(now, end="\n")
            print("steward: merging into steward.conversations…", file=self.out, flush=True)
        elif now - self.last >= self.interval and not self.read_all:
            self.last = now
            self.draw(now)

    def draw(self, now: float, end: str = "") -> None:
        elapsed = max(now - self.start, 1e-6)
        share = min(self.bytes / self.total, 1.0)
        eta = (elapsed / share - elapsed) if share > 0 else 0.0
        bar = "#" * int(share * 30)
        line = (f"[{bar:<30}] {share:6.1%}  {self.rows:,} rows  {self.rows / elapsed:,.0f} rows/s"
                f"  ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        print(("\r" + line) if self.tty else line, end=end if self.tty else "\n", file=self.out, flush=True)

    def done(self, message: str) -> None:
        if not self.read_all:
            self.draw(time.monotonic(), end="\n")
        print(f"{message} after {time.monotonic() - self.start:.1f} s", file=self.out, flush=True)


async def read_file(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:  # noqa: ASYNC230 - each read runs in a thread
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk


def file_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    raise CommandError(f"cannot tell the format of {path.name}; pass --format ndjson or --format csv")


async def find_org(conn: asyncpg.Connection, slug: str | None) -> int:
    """The org named by slug, or the only one; the CLI runs as the owner, so this sees every org."""
    if slug:
        org_id = await conn.fetchval(ORGS["org_id"], slug)
        if org_id is None:
            raise CommandError(f"no organization with slug {slug!r}")
        return org_id
    orgs = await conn.fetch(SQL["first_orgs"])
    if len(orgs) == 1:
        return orgs[0]["id"]
    if not orgs:
        raise CommandError("the database has no organization; create one first (steward demo)")
    names = ", ".join(r["slug"] for r in orgs[:5]) + (", …" if len(orgs) > 5 else "")
    raise CommandError(f"several organizations ({names}); choose one with --org SLUG")


async def run_import(settings: Settings, url: str, path: Path, fmt: str, slug: str | None, atomic: bool,
                     progress: Progress | None = None) -> Result:
    pool = await db.create_pool(replace(settings, pool_min=1, pool_max=1), url)
    try:
        async with pool.acquire() as conn:
            org_id = await find_org(conn, slug)
        # Still scoped: the merge runs as steward_app with row-level security on the one org.
        async with db.org_transaction(pool, org_id, settings.ingest_timeout_ms) as conn:
            result = await ingest(conn, org_id, read_file(path), fmt, atomic=atomic,
                                  max_errors=settings.ingest_max_errors, timeout=settings.ingest_timeout_ms / 1000,
                                  progress=progress)
            if progress is not None:
                progress.done("steward: merged, committing" if result.written else "steward: rolled back (atomic)")
        return result
    finally:
        await pool.close()


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        path: Path = args.file
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        fmt = file_format(path, args.format)
        with database(settings) as url:
            progress = Progress(path.stat().st_size)
            result = asyncio.run(run_import(settings, url, path, fmt, args.org, args.atomic, progress))
    except (CommandError, IngestError) as exc:
        say(f"steward: import: {exc}")
        return 2
    except asyncpg.UndefinedTableError:
        say("steward: import: the database is not migrated; run `steward migrate` first")
        return 2
    except (OSError, asyncpg.PostgresError) as exc:
        say(f"steward: import failed, nothing was written: {exc}")
        return 2
    print(json.dumps(result.as_json()))
    if not result.written:
        say(f"steward: atomic import rejected: {result.rejected} bad row(s); nothing was written")
    return 0 if result.rejected == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m service.ingest.cli FILE …`, the same as `steward import FILE …`."""
    parser = argparse.ArgumentParser(prog="steward")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["import", *(sys.argv[1:] if argv is None else argv)])
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"steward: {exc}", file=sys.stderr)
        return 2
    return cmd_import(settings, args)


if __name__ == "__main__":
    sys.exit(main())
