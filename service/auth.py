"""Bearer tokens: random, shown once, stored only as a SHA-256 hash; each belongs to one org."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from service.sql_files import load

SCOPES = ("read", "write:owners", "write:activity", "admin")
TOKEN_PREFIX = "stw_"
SQL = load("service", "auth.sql")


@dataclass(frozen=True)
class Principal:
    token_id: int
    org_id: int
    org_slug: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        # admin implies every other scope
        return scope in self.scopes or "admin" in self.scopes


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Principal | None:
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = await conn.fetchrow(SQL["authenticate"], hash_token(token))
    if row is None:
        return None
    return Principal(row["token_id"], row["org_id"], row["org_slug"], frozenset(row["scopes"]))


async def create_token(conn: asyncpg.Connection, org_slug: str, scopes: list[str], name: str) -> tuple[int, str]:
    """Create a token (as the database owner); return its id and the only copy of its secret."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
    org_id = await conn.fetchval(SQL["organization_id"], org_slug)
    if org_id is None:
        raise LookupError(f"no organization with slug {org_slug!r} (see `steward org list`, or `steward org create`)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = await conn.fetchval(SQL["create_token"], org_id, name, hash_token(token), sorted(set(scopes)))
    return token_id, token


async def revoke_token(conn: asyncpg.Connection, token_id: int) -> bool:
    status = await conn.execute(SQL["revoke_token"], token_id)
    return status.endswith(" 1")
