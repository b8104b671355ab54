"""Persisted documents: Apollo's automatic persisted queries, and trusted documents for production.

A request may name its document instead of sending it:
- `extensions.persistedQuery.sha256Hash` (Apollo APQ): the hash alone runs a document this
  process has seen with that hash, or a registered one; otherwise PERSISTED_QUERY_NOT_FOUND,
  and the client sends the query with the hash once, which registers it here.
- `documentId` (the GraphQL-over-HTTP persisted documents proposal): a registered document.
With STEWARD_TRUSTED_DOCUMENTS=only, nothing else runs: a request whose document (by id, by
hash, or by the SHA-256 of its `query`) was not registered by `steward documents import` is
refused with DOCUMENT_NOT_TRUSTED. Registered documents live in PostgreSQL, so every replica
knows them; the APQ cache is per process and bounded (a client just sends the query again).
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from service.sql_files import load

SQL = load("service.http", "documents.sql")


class DocumentError(Exception):
    """The request names a document that cannot run: answered as a request error with `code`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedDocuments:
    def __init__(self, trusted_only: bool = False, cache_size: int = 1000):
        self.trusted_only = trusted_only
        self.cache_size = cache_size
        # hash or id -> body: APQ registrations and trusted documents already read (immutable by hash)
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def resolve(self, params: dict[str, Any], pool: asyncpg.Pool, timeout: float) -> dict[str, Any]:
        """`params` with `query` filled in from the named document; DocumentError if it cannot run."""
        query = params.get("query")
        document_id = params.get("documentId")
        apq_hash = _apq_hash(params.get("extensions"))
        if document_id is not None and (not isinstance(document_id, str) or not 0 < len(document_id) <= 200):
            raise DocumentError("BAD_REQUEST", "`documentId` must be a string of 1 to 200 characters")
        if apq_hash is not None and isinstance(query, str) and sha256_hex(query) != apq_hash:
            raise DocumentError("PERSISTED_QUERY_HASH_MISMATCH",
                                "extensions.persistedQuery.sha256Hash is not the SHA-256 of `query`")
        key = document_id or apq_hash
        if self.trusted_only:
            key = key or (sha256_hex(query) if isinstance(query, str) else None)
            body = await self._registered(key, pool, timeout) if key else None
            if body is None:
                raise DocumentError("DOCUMENT_NOT_TRUSTED", "this server runs only registered documents "
                                    "(STEWARD_TRUSTED_DOCUMENTS=only); send a registered documentId or hash")
            return params | {"query": body}
        if isinstance(query, str) or key is None:
            if apq_hash is not None and isinstance(query, str):
                self._remember(apq_hash, query)
            return params
        body = await self._registered(key, pool, timeout)
        if body is None:
            raise DocumentError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return params | {"query": body}

    async def _registered(self, key: str, pool: asyncpg.Pool, timeout: float) -> str | None:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        async with pool.acquire(timeout=timeout) as conn:
            body = await conn.fetchval(SQL["trusted_document"], key)
        if body is not None:
            self._remember(key, body)
        return body

    def _remember(self, key: str, body: str) -> None:
        self._cache[key] = body
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _apq_hash(extensions: Any) -> str | None:
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise DocumentError("PERSISTED_QUERY_NOT_SUPPORTED", "extensions.persistedQuery must be version 1")
    value = persisted.get("sha256Hash")
    if not isinstance(value, str) or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise DocumentError("BAD_REQUEST", "extensions.persistedQuery.sha256Hash must be 64 lowercase hex digits")
    return value


@dataclass(frozen=True)
class ManifestEntry:
    id: str
    body: str
    operation_name: str | None


def read_manifest(path: Path) -> list[ManifestEntry]:
    """Relay's persisted_queries.json ({id: text}) or Apollo's persisted query manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON manifest ({exc})") from None
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        entries = [ManifestEntry(str(op.get("id")), op.get("body"), op.get("name"))
                   for op in data.get("operations", [])]
    elif isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        entries = [ManifestEntry(key, body, None) for key, body in data.items()]
    else:
        raise ValueError(f"{path}: expected Relay's persisted_queries.json ({{id: text}}) or an Apollo "
                         "persisted query manifest")
    for entry in entries:
        if not isinstance(entry.body, str) or not entry.body.strip() or not 0 < len(entry.id) <= 200:
            raise ValueError(f"{path}: entry {entry.id!r} has no document text or a bad id")
    return entries


async def import_manifest(conn: asyncpg.Connection, path: Path) -> tuple[int, int]:
    """Register a manifest's documents in one transaction; (new, already there). An id reused
    for another text is refused: a trusted id must always mean one document."""
    from graphql import GraphQLError, parse

    entries = read_manifest(path)
    inserted = existing = 0
    async with conn.transaction():
        for entry in entries:
            try:
                parse(entry.body)
            except GraphQLError as exc:
                raise ValueError(f"{path}: document {entry.id!r} does not parse: {exc.message}") from None
            row = await conn.fetchrow(SQL["import_trusted_document"], entry.id, sha256_hex(entry.body), entry.body,
                                      entry.operation_name, path.name)
            if row is None:
                raise ValueError(f"{path}: id {entry.id!r} is already registered for another document")
            inserted, existing = (inserted + 1, existing) if row["inserted"] else (inserted, existing + 1)
    return inserted, existing


async def list_documents(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(SQL["trusted_documents"])
