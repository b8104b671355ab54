"""BI logins: PostgreSQL login roles in bi_reader, each mapped to one organization it cannot change."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from service.sql_files import load

# Lower-case, unquoted-safe SQL identifiers; `pg_` names are reserved by PostgreSQL.
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
SQL = load("service", "bi_logins.sql")
ORGS = load("service", "orgs.sql")


@dataclass(frozen=True)
class BiLogin:
    name: str
    org_slug: str
    created_at: datetime
    can_login: bool
    role_exists: bool


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or name.startswith("pg_"):
        raise ValueError(f"invalid login name {name!r}: use 1-63 characters a-z, 0-9 and _, starting with a letter"
                         " (not pg_…)")
    return name


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the password itself never reaches the server or its logs."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def create_bi_login(conn: asyncpg.Connection, org_slug: str, name: str) -> str:
    """Create login `name` in bi_reader, mapped to the organization; return its password (the only copy)."""
    check_name(name)
    password = secrets.token_urlsafe(24)
    async with conn.transaction():
        org_id = await conn.fetchval(ORGS["org_id"], org_slug)
        if org_id is None:
            raise LookupError(f"no organization with slug {org_slug!r}")
        if await conn.fetchval(SQL["role_exists"], name):
            raise ValueError(f"a role named {name!r} already exists: choose another name")
        if await conn.fetchval(SQL["mapping_exists"], name):
            raise ValueError(f"a BI login mapping named {name!r} is left over: `steward bi-login revoke {name}` first")
        ddl = await conn.fetchval(SQL["create_role_ddl"], name, scram_verifier(password))
        try:
            await conn.execute(ddl)
        except asyncpg.DuplicateObjectError as exc:  # created concurrently
            raise ValueError(f"a role named {name!r} already exists: choose another name") from exc
        await conn.execute(SQL["add_mapping"], name, org_id)
    return password


async def revoke_bi_login(conn: asyncpg.Connection, name: str) -> str:
    """Remove the mapping and drop the login (or, if it still owns something, disable it); say which."""
    async with conn.transaction():
        mapped = await conn.fetchval(SQL["remove_mapping"], name)
        # only ever a BI login: a direct member of bi_reader, not privileged, not the service
        role = await conn.fetchrow(SQL["role_kind"], name)
        if role is None:
            if mapped is None:
                raise LookupError(f"no BI login named {name!r}")
            return "mapping removed (the role was already gone)"
        if role["privileged"] or not role["bi_member"]:
            if mapped is None:
                raise LookupError(f"{name!r} is not a BI login (not a plain member of bi_reader)")
            return "mapping removed; the role is not a BI login and was left as it is"
        ddl = await conn.fetchrow(SQL["revoke_ddl"], name)
        await conn.execute(ddl["nologin"])
        try:
            async with conn.transaction():
                await conn.execute(ddl["drop_role"])
            return "dropped"
        except asyncpg.DependentObjectsStillExistError:
            # it owns or was granted something (perhaps in another database): keep it, unable to log in or read
            await conn.execute(ddl["revoke_reader"])
            return "disabled (nologin, removed from bi_reader): it still owns or holds privileges elsewhere"


async def list_bi_logins(conn: asyncpg.Connection, org_slug: str | None = None) -> list[BiLogin]:
    if org_slug is not None and not await conn.fetchval(SQL["org_exists"], org_slug):
        raise LookupError(f"no organization with slug {org_slug!r}")
    rows = await conn.fetch(SQL["list_logins"], org_slug)
    return [BiLogin(r["role"], r["slug"], r["created_at"], r["can_login"], r["exists"]) for r in rows]
