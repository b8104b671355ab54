"""POST /ingest/conversations: authenticate, spool the body, stream it into service.ingest.merge, answer JSON."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from service.db import pool as db
from service.http import consistency, edge, rate_limit
from service.http.body import BodyTooBig, BodyTooSlow, chunks_of, spool
from service.http.errors import RequestError
from service.http.health import database_down
from service.http.observability import record, record_ingest
from service.ingest import BodyTooLarge, IngestError, ingest

log = logging.getLogger("steward.ingest")

SCOPE = "write:activity"
CONTENT_TYPES = {"application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "text/csv": "csv"}
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    """Ingest's documented error body: `{"error": message}`."""
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def _refused(exc: RequestError) -> JSONResponse:
    """A refusal of the edge (service/http/edge.py), in ingest's body; the same status and headers as GraphQL's."""
    return _error(exc.status, str(exc), **exc.headers)


def _content_format(header: str | None) -> str | None:
    """The ingest format named by a Content-Type header (UTF-8 only), or None."""
    media, _, params = (header or "").partition(";")
    fmt = CONTENT_TYPES.get(media.strip().lower())
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return None
    return fmt


@contextmanager
def _slot(request: Request, token_id: int) -> Iterator[bool]:
    """Bound concurrent ingests per token (per process); yields False when none is free."""
    state = request.app.state
    if not hasattr(state, "ingest_in_flight"):
        state.ingest_in_flight = {}
    busy: dict[int, int] = state.ingest_in_flight
    if busy.get(token_id, 0) >= request.app.state.settings.ingest_concurrency:
        yield False
        return
    busy[token_id] = busy.get(token_id, 0) + 1
    try:
        yield True
    finally:
        busy[token_id] -= 1
        if not busy[token_id]:
            del busy[token_id]


@asynccontextmanager
async def _transaction_slot(request: Request) -> AsyncIterator[bool]:
    """One of the process's ingest transactions (a share of the pool); False when none frees up in time."""
    slots: asyncio.Semaphore = request.app.state.ingest_transactions
    try:
        async with asyncio.timeout(request.app.state.settings.request_timeout_s):
            await slots.acquire()
    except TimeoutError:
        yield False
        return
    try:
        yield True
    finally:
        slots.release()


async def ingest_conversations(request: Request) -> JSONResponse:
    """Ingest an NDJSON or CSV body of conversation outcomes for the token's organization.

    Order matters: authenticate on a short connection, spool the whole body (bounded in
    size and rate) with no connection held, then take one connection for the ingest.
    """
    state = request.app.state
    settings = state.settings
    atomic_arg = request.query_params.get("atomic", "").lower()
    fmt = _content_format(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    timeout_ms = settings.ingest_timeout_ms
    try:
        token = edge.token_of(request.headers.get("authorization"))
        if atomic_arg not in TRUE + FALSE:
            return _error(400, "atomic must be true or false")
        await edge.rate_limited(state, token)
        # on a short connection of its own: no connection is held while the body arrives
        principal = await edge.principal_of(state, token)
    except Exception as exc:
        if (refusal := edge.refusal(exc)) is None:
            raise
        return _refused(refusal)

    try:
        if not principal.can(SCOPE):
            return _error(403, f"this token lacks the {SCOPE} scope")
        if fmt is None:
            return _error(415, "Content-Type must be application/x-ndjson or text/csv (UTF-8)")
        if declared and declared.isdigit() and int(declared) > settings.max_ingest_bytes:
            return _error(413, BodyTooLarge(settings.max_ingest_bytes).args[0])
        with _slot(request, principal.token_id) as free:
            if not free:
                return _error(429, f"at most {settings.ingest_concurrency} concurrent ingest requests per token;"
                              " retry when one has finished",
                              **rate_limit.concurrency_headers(settings.ingest_concurrency, 5))
            with await spool(request, settings.max_ingest_bytes, settings.body_min_bytes_per_s,
                             settings.body_grace_s) as spooled:
                async with _transaction_slot(request) as slot:
                    if not slot:
                        return _error(503, "every ingest slot of this instance is busy; nothing was written, retry",
                                      **{"Retry-After": "5"})
                    # queued behind GraphQL at worst: wait longer than a query would
                    async with request.app.state.pool.acquire(timeout=settings.request_timeout_s) as conn:
                        async with conn.transaction():
                            await db.scope_transaction(conn, principal.org_id, timeout_ms)
                            result = await ingest(
                                conn, principal.org_id, chunks_of(spooled), fmt,
                                atomic=atomic_arg in TRUE, max_errors=settings.ingest_max_errors,
                                max_bytes=settings.max_ingest_bytes, timeout=timeout_ms / 1000,
                                request_id=record().request_id,
                            )
                        # read-your-writes for the rows just written (service/http/consistency.py)
                        written = (await consistency.written(conn)
                                   if result.written and state.replicas.replicas else None)
    # Both leave the rest of the body unread: the connection cannot serve another request.
    except BodyTooBig as exc:
        return _error(413, BodyTooLarge(exc.limit).args[0], Connection="close")
    except BodyTooSlow as exc:
        log.info("ingest refused: %s", exc)
        return _error(408, f"{exc}; nothing was written", Connection="close")
    except IngestError as exc:
        return _error(exc.status, str(exc))
    except ClientDisconnect:
        log.info("ingest aborted: client disconnected; nothing was written")
        return _error(400, "client disconnected; nothing was written")
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, asyncpg.LockNotAvailableError):
        return _error(503, "the ingest conflicted with concurrent writes; nothing was written, retry",
                      **{"Retry-After": "1"})
    except asyncpg.QueryCanceledError:
        return _error(503, "the ingest exceeded its time limit; nothing was written")
    except Exception as exc:
        if database_down(exc):
            return _error(503, "the database is unavailable; nothing was written, retry", **{"Retry-After": "5"})
        log.exception("ingest failed")
        return _error(500, "internal error; nothing was written")

    body = result.as_json()
    if not result.written:
        body["message"] = f"atomic request rejected: {result.rejected} bad row(s); nothing was written"
        return JSONResponse(body, status_code=422)
    record_ingest(request.app, result.inserted + result.updated)
    log.info("ingested org=%s accepted=%s inserted=%s updated=%s rejected=%s", principal.org_slug,
             result.accepted, result.inserted, result.updated, result.rejected)
    return JSONResponse(body, headers={consistency.HEADER: written} if written else None)
