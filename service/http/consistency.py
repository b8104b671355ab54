"""Read-your-writes across replicas: a write answers with a consistency token, a read may send it back.

The token is the primary's WAL position right after the write committed (`X/Y`, as PostgreSQL writes an
LSN), in the `Steward-Consistency-Token` response header and in `extensions.consistencyToken`, given when
read replicas are configured (STEWARD_REPLICA_URLS: without them every read sees every write). A read that
sends it in the same request header runs on a replica only once that replica has replayed the position
(service/db/replicas.py), so it sees the write; any other read may see data up to
STEWARD_REPLICA_MAX_LAG_MS old. Tokens are ordered: keep the latest one and send it with every read. A
malformed token is refused (400) with or without replicas.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import asyncpg

from service.db import replicas
from service.db.lag import format_lsn, parse_lsn
from service.http.errors import RequestError
from service.http.observability import record

log = logging.getLogger("steward.replicas")

HEADER = "Steward-Consistency-Token"
EXTENSION = "consistencyToken"


def requested(headers: Mapping[str, str]) -> int | None:
    """The token a request sent (None without one); a malformed one is a 400 and nothing runs."""
    raw = headers.get(HEADER.lower())
    if raw is None:
        return None
    lsn = parse_lsn(raw)
    if lsn is None:
        raise RequestError(400, f"{HEADER} must be a token a write answered with, such as 0/1A2B3C4D; "
                           f"got {raw[:40]!r}", "BAD_REQUEST", header=HEADER)
    return lsn


async def written(conn: asyncpg.Connection) -> str | None:
    """The token of the write `conn` has just committed; None if the primary went away since the commit (the
    answer still tells the write happened; only its token is missing)."""
    try:
        return format_lsn(await replicas.commit_position(conn))
    except Exception as exc:
        if not replicas.failed(exc):
            raise
        log.warning("no consistency token for a committed write: %s", type(exc).__name__)
        return None


def attach(body: dict[str, Any], headers: dict[str, str], token: str | None) -> None:
    """Put a write's token in the response (a read's response carries none)."""
    if token is not None:
        body.setdefault("extensions", {})[EXTENSION] = token
        headers[HEADER] = token


class ReplicaLost(Exception):
    """The replica a read ran on failed during it (the read is run again on the primary)."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


# A hot standby cancels a query that blocks the replay of a conflicting change (40001, 40P01): the primary
# has no such conflict, so the read is run again there, and the replica stays in use.
RECOVERY_CONFLICTS = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)


def check(result: Any) -> None:
    """ReplicaLost when a read that ran on a replica has an error saying the replica went away or cancelled it."""
    if record().replica is None:
        return
    for error in result.errors or ():
        original = error.original_error
        if original is not None and (replicas.failed(original) or isinstance(original, RECOVERY_CONFLICTS)):
            raise ReplicaLost(original)


def lost_replica(exc: BaseException, replica_set: replicas.ReplicaSet) -> bool:
    """True when `exc` ended a read because of the replica it ran on: that read is worth running again on the
    primary (the replica is set aside unless it only cancelled a conflicting query)."""
    replica = record().replica
    if replica is None:
        return False
    cause = exc.cause if isinstance(exc, ReplicaLost) else exc
    if isinstance(cause, RECOVERY_CONFLICTS):
        return True
    if not replicas.failed(cause):
        return False
    replica_set.lost(replica, cause)
    return True
