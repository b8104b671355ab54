"""steward serve | migrate | demo | import | token"""
from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import contextmanager
from typing import Iterator

from .config import ConfigError, Settings
from .db import connect
from .embedded import EmbeddedPostgres
from .migrate import MigrationError, migrate


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """Yield the server URL: DATABASE_URL, or the embedded cluster (stopped on exit if started here)."""
    if settings.database_url:
        say("steward: using PostgreSQL at DATABASE_URL")
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.pgdata, settings.embedded_port)
    url = embedded.start()
    state = "started" if embedded.started_here else "reusing running"
    say(f"steward: {state} embedded PostgreSQL in {embedded.pgdata} on 127.0.0.1:{settings.embedded_port}")
    try:
        yield url
    finally:
        if embedded.started_here:
            embedded.stop()
            say("steward: stopped embedded PostgreSQL")


async def _migrate(url: str) -> None:
    conn = await connect(url)
    try:
        report = await migrate(conn)
    finally:
        await conn.close()
    applied = ", ".join(report.applied) or "none"
    say(f"steward: migrations applied: {applied}; views {'rebuilt' if report.views_rebuilt else 'current'}")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as url:
        asyncio.run(_migrate(url))
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from .demo import load_demo, print_reference_figures

    with database(settings) as url:
        asyncio.run(_migrate(url))
        summary = asyncio.run(load_demo(url))
        say(summary)
        asyncio.run(print_reference_figures(url))
    return 0


COMMANDS = {"migrate": cmd_migrate, "demo": cmd_demo}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steward", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending migrations and rebuild changed views")
    sub.add_parser("demo", help="migrate, load the demo data set and print the reference figures")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return COMMANDS[args.command](settings, args)
    except (ConfigError, MigrationError) as exc:
        say(f"steward: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
