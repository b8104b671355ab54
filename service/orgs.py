"""steward org create | org list, and steward token list: what a fresh database needs before its first token."""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from service.sql_files import load

# The same rule as the check constraint on steward.organizations.slug (which enforces it).
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

SQL = load("service", "orgs.sql")


class UsageError(ValueError):
    """Bad input on the command line: reported as `steward: …`, exit status 2."""


def add_org_parser(sub: argparse._SubParsersAction) -> None:
    org = sub.add_parser("org", help="create or list organizations")
    actions = org.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create an organization (its default health policy comes with it)")
    create.add_argument("--slug", required=True, help="lowercase letters, digits and hyphens, e.g. acme-retail")
    create.add_argument("--name", required=True, help="display name, 1 to 200 characters")
    create.add_argument("--vertical", default="retail", help="industry vertical (default: retail)")
    actions.add_parser("list", help="list organizations with their number of active tokens")


def add_token_list_parser(actions: argparse._SubParsersAction) -> None:
    listing = actions.add_parser("list", help="list an organization's tokens (never their secrets)")
    listing.add_argument("--org", required=True, help="organization slug")


def check_slug(slug: str) -> str:
    if not SLUG.fullmatch(slug):
        raise UsageError(f"--slug {slug!r} is not a valid slug: use 1 to 63 lowercase letters, digits and "
                         "hyphens, starting with a letter or digit (e.g. acme-retail)")
    return slug


def check_name(name: str, option: str) -> str:
    if not 1 <= len(name.strip()) <= 200:
        raise UsageError(f"{option} must be 1 to 200 characters")
    return name.strip()


async def create_org(conn: asyncpg.Connection, slug: str, name: str, vertical: str) -> asyncpg.Record:
    """Create an organization (as the database owner); a clear error for a taken slug."""
    values = check_slug(slug), check_name(name, "--name"), check_name(vertical, "--vertical")
    try:
        return await conn.fetchrow(SQL["create_org"], *values)
    except asyncpg.UniqueViolationError:
        raise UsageError(f"an organization with slug {slug!r} already exists (see `steward org list`)") from None


async def org_id(conn: asyncpg.Connection, slug: str) -> int:
    found = await conn.fetchval(SQL["org_id"], slug)
    if found is None:
        raise LookupError(f"no organization with slug {slug!r} (see `steward org list`, or `steward org create`)")
    return found


async def list_tokens(conn: asyncpg.Connection, slug: str) -> list[asyncpg.Record]:
    org = await org_id(conn, slug)
    async with conn.transaction(readonly=True):
        # pinned to the organization, so row-level security agrees even for an owner it binds
        await conn.execute(SQL["pin_org"], str(org))
        return await conn.fetch(SQL["list_tokens"], org)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def table(headers: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in (headers, *rows))


async def run_org(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    if args.action == "create":
        row = await create_org(conn, args.slug, args.name, args.vertical)
        print(row["slug"])
        print(f"steward: organization {row['slug']} ({row['name']}, {row['vertical']}) created with id {row['id']};"
              f" next: steward token create --org {row['slug']}", file=sys.stderr)
        return
    rows = await conn.fetch(SQL["list_orgs"])
    print(table(("id", "slug", "name", "vertical", "created", "active tokens"),
                [(r["id"], r["slug"], r["name"], r["vertical"], _when(r["created_at"]), r["tokens"]) for r in rows]))


async def run_token_list(conn: asyncpg.Connection, slug: str) -> None:
    rows = await list_tokens(conn, slug)
    print(table(("id", "name", "scopes", "created", "last used", "revoked"),
                [(r["id"], r["name"], ",".join(r["scopes"]), _when(r["created_at"]), _when(r["last_used_at"]),
                  _when(r["revoked_at"])) for r in rows]))
