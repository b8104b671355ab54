"""Idempotency keys: a retried mutation gets its first answer back instead of writing twice."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry

from service.sql_files import load

if TYPE_CHECKING:
    from schema.context import Db

SQL = load("schema", "idempotency.sql")

# Keys are honoured for this long after their first use, then forgotten (deleted lazily).
RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Stored:
    """An earlier use of a key: what it was sent with and what it answered."""

    operation: str
    request_hash: bytes
    response: dict | None


def canonical(value: Any) -> Any:
    """A JSON-ready form of an input object: unset fields dropped, enums by value, times in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not strawberry.UNSET}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items() if v is not strawberry.UNSET}
    return value


def request_hash(operation: str, input: Any) -> bytes:
    """SHA-256 of the mutation name and its input (the key itself left out), as canonical JSON."""
    body = canonical(input)
    if isinstance(body, dict):
        body.pop("idempotency_key", None)
    text = json.dumps({"operation": operation, "input": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).digest()


async def claim(db: Db, org_id: int, token_id: int, key: str, operation: str, digest: bytes) -> Stored | None:
    """Take the key for this request (None), or return the earlier use that holds it.

    Insert first: a concurrent request with the same key waits on the primary key
    until the first one commits (then reads its answer) or rolls back (then takes
    the key itself), so two retries never both write.
    """
    await db.fetch(SQL["forget_expired"], org_id, token_id, RETENTION)
    for _ in range(3):
        if await db.fetchval(SQL["claim"], org_id, token_id, key, operation, digest) is not None:
            return None
        row = await db.fetchrow(SQL["look_up"], org_id, token_id, key)
        if row is not None:
            return Stored(row["operation"], bytes(row["request_hash"]), _json(row["response"]))
        # the holder was deleted between our insert and our read (expired concurrently): try again
    raise RuntimeError(f"could not claim idempotency key {key!r}")


async def remember(db: Db, org_id: int, token_id: int, key: str, response: dict) -> None:
    """Store the answer of the request that holds the key."""
    await db.fetch(SQL["remember"], org_id, token_id, key, json.dumps(response, separators=(",", ":")))


def _json(value: Any) -> dict | None:
    return json.loads(value) if isinstance(value, str) else value
