"""When each API token was last used: remembered in memory, written at most once a minute per token.

Authentication itself never writes. A query's transaction stays read-only (so
reads could move to a replica without learning to write there), a burst of
requests with one token costs no SQL at all on the request path, and a token
used all day costs one UPDATE a minute. The app's lifespan runs `flush_forever`
on its (primary) pool and flushes once more at shutdown; a crash loses at most
the last minute of use, which is the precision `steward token list` promises.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg

from service.auth import Principal
from service.db import pool as db
from service.sql_files import load

SQL = load("service.http", "token_usage.sql")
log = logging.getLogger("steward.tokens")

FLUSH_SECONDS = 60.0
SQL = load("service.http", "token_usage.sql")


class TokenUsage:
    """Tokens seen since the last flush, with the time each was last seen."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, datetime]] = {}  # token id -> (org id, last use)

    def seen(self, principal: Principal) -> None:
        """Called once per successful authentication: a dict store, no I/O."""
        self._seen[principal.token_id] = (principal.org_id, datetime.now(UTC))

    async def flush(self, pool: asyncpg.Pool, connect_timeout_s: float, statement_timeout_ms: int) -> int:
        """Write what was seen, one statement per organization in one transaction; return the tokens written."""
        batch, self._seen = self._seen, {}
        if not batch:
            return 0
        by_org: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
        for token_id, (org_id, used_at) in batch.items():
            by_org[org_id].append((token_id, used_at))
        try:
            async with pool.acquire(timeout=connect_timeout_s) as conn, conn.transaction():
                for org_id, uses in by_org.items():
                    # as the service role, scoped to the organization: it may set last_used_at and nothing else
                    await db.scope_transaction(conn, org_id, statement_timeout_ms)
                    await conn.execute(SQL["touch_tokens"], [t for t, _ in uses], [at for _, at in uses])
        except BaseException:
            for token_id, use in batch.items():  # keep them for the next flush; newer sightings win
                self._seen.setdefault(token_id, use)
            raise
        return len(batch)

    async def flush_forever(self, pool: asyncpg.Pool, connect_timeout_s: float, statement_timeout_ms: int,
                            interval_s: float = FLUSH_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.flush(pool, connect_timeout_s, statement_timeout_ms)
            except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("could not record token use (kept for the next flush): %s", type(exc).__name__)
