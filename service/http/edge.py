"""One path from a request to its principal, for GraphQL over HTTP, GraphQL over WebSocket and ingest.

    bearer token -> rate limit -> pooled connection (connect timeout) -> authenticate -> token use -> principal

The pooled connection is the primary's, or for a read a replica's (service/db/replicas.py): tokens are
read there too, and their use is written later, on the primary (service/http/token_usage.py).

Each step refuses with the same `RequestError` wherever it runs: 401 UNAUTHENTICATED with
WWW-Authenticate, 429 RATE_LIMITED with Retry-After and RateLimit-*, 503 SERVICE_UNAVAILABLE with
Retry-After when the database is away (`outage`). Nothing here runs SQL before the rate limit.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.auth import Principal, authenticate, bearer
from service.http import scopes
from service.http.errors import RequestError, unauthenticated, unavailable
from service.http.health import database_down
from service.http.observability import record


def token_of(authorization: str | None) -> str:
    """The bearer token of an Authorization header, or 401."""
    token = bearer(authorization)
    if token is None:
        raise unauthenticated(token_sent=False)
    return token


async def rate_limited(state: Any, token: str) -> dict[str, str]:
    """Count the request against its token's limit (no SQL); its RateLimit-* headers, or a 429."""
    limiter = state.rate_limiter
    if limiter is None:
        return {}
    verdict = await limiter.hit(token)
    if not verdict.allowed:
        raise RequestError(429, f"too many requests for this token (limit {verdict.limit} per window); "
                           f"retry in {verdict.reset_s}s", "RATE_LIMITED", verdict.headers)
    return verdict.headers


async def check_token(state: Any, token: str) -> Principal:
    """The token's principal on a connection of its own, or 401; not recorded as a use (a re-check)."""
    async with _pooled(state) as (conn, _):
        return await _principal(conn, token)


@asynccontextmanager
async def authenticated(state: Any, token: str, read: bool = False, after: int | None = None,
                        replicas: bool = True) -> AsyncIterator[tuple[asyncpg.Connection, Principal]]:
    """A pooled connection and the token's principal (or 401), the use recorded; the connection is the caller's
    until the block ends (GraphQL runs its transaction on it, ingest and WebSocket let it go at once).

    A `read` may run on a replica (unless `replicas` is False): one that has replayed the consistency token
    `after` when there is one; `record().replica` says which (None: the primary).
    """
    async with _pooled(state, read, after, replicas) as (conn, replica):
        record().replica = replica
        principal = await _principal(conn, token)
        record().token_id = principal.token_id  # for the request log line
        state.token_usage.seen(principal)
        yield conn, principal


async def principal_of(state: Any, token: str) -> Principal:
    """The token's principal (or 401), its use recorded, no connection held afterwards."""
    async with authenticated(state, token) as (_, principal):
        return principal


def forbidden(refusal: scopes.Refusal) -> RequestError:
    return RequestError(403, refusal.message, "FORBIDDEN", scope=refusal.scope, field=".".join(refusal.path))


def outage(exc: BaseException) -> RequestError | None:
    """503 when `exc` says the database is away: no pooled connection within the connect timeout, or the
    server unreachable; None for anything else (a bug, a statement timeout)."""
    return unavailable() if isinstance(exc, TimeoutError) or database_down(exc) else None


def refusal(exc: BaseException) -> RequestError | None:
    """What a failure of these steps answers: the step's own refusal, 503 for an outage, None for a bug."""
    return exc if isinstance(exc, RequestError) else outage(exc)


def _pooled(state: Any, read: bool = False, after: int | None = None, replicas: bool = True):
    """A pooled connection (and its replica, or None) within the connect timeout: with the database down, fail
    fast instead of queueing."""
    return state.replicas.connection(read, after, state.settings.db_connect_timeout_s, replicas)


async def _principal(conn: asyncpg.Connection, token: str) -> Principal:
    principal = await authenticate(conn, token)
    if principal is None:
        raise unauthenticated(token_sent=True)
    return principal
