"""/healthz (the process answers) and /readyz (the database answers in time and is migrated; with read
replicas, each one's state, and read-only readiness while only the replicas answer)."""
from __future__ import annotations

import asyncio
import logging

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.db import pool as db
from service.db.migrate import MigrationError, pending

log = logging.getLogger("steward.health")

# Failures that mean "the database is not there right now", as opposed to a bug:
# refused or dropped connections, a server starting up or shutting down, no free slots.
# QueryCanceledError is an OperatorInterventionError too, so callers test for it first.
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)


def database_down(exc: BaseException) -> bool:
    """True when `exc` says the database is unreachable (not a statement timeout, not a bug)."""
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError):
        return False
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        # asyncpg's own "connection is closed" (the server went away between two statements)
        return "closed" in str(exc)
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # A pooled connection taken while the server's "terminating connection" notice is
        # being processed: "cannot switch to state …". The pool replaces it; a retry works.
        return "cannot switch to state" in str(exc)
    return isinstance(exc, DATABASE_DOWN)


async def healthz(request: Request) -> JSONResponse:
    """The process is alive; says nothing about the database (that is /readyz)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers within the connect timeout and no migration is pending.

    A pool whose every connection is in use says nothing about the database: then the check
    runs on a short connection of its own instead of queueing behind requests (a busy
    instance pulled from the load balancer only moves its load onto the others).
    """
    settings = request.app.state.settings
    pool = request.app.state.pool
    saturated = pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size()
    try:
        async with asyncio.timeout(settings.db_connect_timeout_s):
            if saturated:
                conn = await db.connect(request.app.state.database_url)
                try:
                    todo, views_stale = await pending(conn)
                finally:
                    await conn.close(timeout=settings.db_connect_timeout_s)
            else:
                async with pool.acquire() as conn:
                    todo, views_stale = await pending(conn)
    except MigrationError as exc:
        return _answer(request, {"status": "unavailable", "database": "reachable", "migrations": str(exc)}, 503)
    except Exception as exc:  # any failure means "do not send traffic here", unless a replica serves reads
        serving = [r for r in getattr(request.app.state.replicas, "replicas", ()) if r.usable]
        if serving:
            # read-only, not dark: queries answer from the replicas, writes get 503 with Retry-After
            log.warning("read-only: primary unreachable (%s), %d replica(s) serving reads", type(exc).__name__,
                        len(serving))
            return _answer(request, {"status": "read-only", "database": "unreachable", "error": type(exc).__name__})
        log.warning("not ready: database unreachable (%s)", type(exc).__name__)
        return _answer(request, {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
                       503)
    if todo or views_stale:
        return _answer(request, {"status": "unavailable", "database": "reachable",
                                 "migrations": [f"{m.version}_{m.name}" for m in todo], "viewsStale": views_stale},
                       503)
    return _answer(request, {"status": "ready", "database": "reachable", "pool": "saturated" if saturated else "ok"})


def _answer(request: Request, body: dict, status: int = 200) -> JSONResponse:
    """/readyz's answer, with each read replica's state when there are any."""
    replicas = getattr(request.app.state.replicas, "replicas", ())
    if replicas:
        body["replicas"] = [replica.as_json() for replica in replicas]
    return JSONResponse(body, status_code=status)
