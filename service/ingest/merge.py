"""Bulk ingest of conversation outcomes: parse NDJSON or CSV, COPY into staging, merge in one statement.

The body arrives as an async stream of byte chunks and is never held whole:
each chunk is split into complete lines, validated row by row in Python
(formats.py, validate.py), and the valid rows are streamed into a temporary
staging table with binary COPY. One statement (ingest.sql: update the stored
conversations that changed, insert the new ones, found by external id in
steward.conversation_keys) then merges the staging table into the month-partitioned
steward.conversations, so the rollup triggers on that table fire once per
request, in the same transaction.

Rules a caller can rely on:
- line numbers are 1-based physical lines of the body (for CSV the header is
  line 1; a quoted field spanning lines is reported at its first line);
- blank lines are skipped; unknown keys or columns are ignored;
- an externalId repeated in one request: the **last** occurrence wins and each
  earlier one is rejected with the line that superseded it, so the caller
  learns of the duplicate and `atomic=true` refuses such a file (repeats that
  equal the stored conversation are indistinguishable from a re-send and count
  as unchanged: duplicates are only looked for when the merge meets one);
- with `atomic=True` any rejected row rolls back everything, topics included.
"""
from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable

import asyncpg

from schema.health import record as health_events
from service.ingest.formats import parser_for
from service.ingest.result import BodyTooLarge, Problem, Result
from service.ingest.validate import RowValidator
from service.sql_files import load

SQL = load("service.ingest", "ingest.sql")
# The staging table of ingest.sql, named here for asyncpg's COPY (an identifier, not a statement).
STAGING = "steward_ingest_rows"
STAGING_COLUMNS = ("line", "external_id", "deployment_id", "topic_key", "channel", "started_at", "ai_engaged",
                   "outcome", "resolved_at", "reopened_at")


def topic_name(key: str) -> str:
    """`order-status` -> `Order status`: a readable name for a topic first seen in ingest."""
    return key.replace("-", " ").replace("_", " ").capitalize()



class _Rollback(Exception):
    """Raised inside the savepoint to undo everything of an atomic request that had bad rows."""


async def ingest(
    conn: asyncpg.Connection,
    org_id: int,
    chunks: AsyncIterable[bytes],
    fmt: str,
    *,
    atomic: bool = False,
    max_errors: int = 100,
    max_bytes: int | None = None,
    timeout: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    request_id: str | None = None,
) -> Result:
    """Ingest one body into `org_id`. Call inside a transaction scoped to that org (service.db.pool).

    The health changes the new outcomes cause (ARR) are recorded as events in the same
    transaction, with `request_id` (schema/health/record.py).
    """
    deployments = await conn.fetch(SQL["deployments"], org_id)
    topics = await conn.fetch(SQL["topics"], org_id)
    validator = RowValidator([(r["id"], r["key"]) for r in deployments], [r["key"] for r in topics])
    parser = parser_for(fmt, validator, max_errors)

    async def records() -> AsyncIterator[tuple]:
        size = 0
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise BodyTooLarge(max_bytes)
            batch = parser.feed(chunk)
            if progress is not None:
                progress(size, parser.accepted + parser.rejected)  # data rows: no CSV header, no blank line
            if atomic and parser.rejected:
                continue  # keep validating to report errors; nothing will be written
            for rec in batch:
                yield rec
        batch = parser.finish()
        if progress is not None:
            progress(size, parser.accepted + parser.rejected)  # data rows: no CSV header, no blank line
        if not (atomic and parser.rejected):
            for rec in batch:
                yield rec

    result = Result()
    try:
        async with conn.transaction():  # a savepoint inside the caller's transaction
            await conn.execute(SQL["create_staging"])
            await conn.copy_records_to_table(STAGING, records=records(), columns=STAGING_COLUMNS, timeout=timeout)
            if atomic and parser.rejected:
                raise _Rollback
            await conn.execute(SQL["analyze_staging"], timeout=timeout)
            fresh = sorted(validator.new_topics)
            if fresh:
                await conn.execute(SQL["create_topics"], org_id, fresh, [topic_name(k) for k in fresh], timeout=timeout)
            superseded = await _merge(conn, org_id, result, max_errors, timeout)
            if superseded:
                total, first = superseded
                parser.accepted -= total
                parser.rejected += total
                parser.errors = sorted(parser.errors + first, key=lambda problem: problem.line)[:max_errors]
                if atomic:
                    raise _Rollback
            if result.inserted or result.updated:
                staged = await conn.fetch(SQL["staged_deployments"], timeout=timeout)
                await health_events.record(conn, [r["deployment_id"] for r in staged], "WRITE", request_id)
            await conn.execute(SQL["drop_staging"])
    except _Rollback:
        return Result(rejected=parser.rejected, errors=parser.errors, written=False)
    result.accepted = parser.accepted
    result.unchanged = parser.accepted - result.inserted - result.updated
    result.rejected = parser.rejected
    result.errors = parser.errors
    return result


class _Duplicated(Exception):
    """Raised inside the merge's savepoint: the request changes one stored conversation twice."""


async def _merge(conn: asyncpg.Connection, org_id: int, result: Result, max_errors: int,
                 timeout: float | None) -> tuple[int, list[Problem]] | None:
    """Merge staging into steward.conversations; return (count, first) of superseded duplicates.

    steward.conversations is partitioned by month (migration 0015), so (org_id, external_id) is
    unique in steward.conversation_keys, which also says where a stored conversation lives (id,
    started_at): the merge's update reads one partition per row, and a corrected started_at moves
    the row to its month (its key follows: sql/views/011). A concurrent request that inserted the
    same new conversation first surfaces as a unique violation on conversation_keys, one that moved
    a row this one updates as a serialization failure: both are retried with a fresh snapshot.
    `duplicated`: one stored conversation would change twice (the same externalId twice in the
    request, which UPDATE … FROM would apply once, silently): rolled back, the last one kept.
    """
    superseded = None
    for attempt in range(4):
        try:
            async with conn.transaction():
                row = await conn.fetchrow(SQL["merge"], org_id, timeout=timeout)
                if row["duplicated"]:
                    raise _Duplicated
            result.inserted, result.updated = row["inserted"], row["updated"]
            return superseded
        except (_Duplicated, asyncpg.UniqueViolationError):
            # The same externalId twice in this request (a new one fails on conversation_keys, a stored
            # one is flagged): keep the last, report the others. Without duplicates, a concurrent
            # request inserted the same new conversation first: the next attempt sees it.
            if superseded is None:
                dropped = await conn.fetch(SQL["drop_superseded"], max_errors, timeout=timeout)
                if dropped:
                    superseded = (dropped[0]["total"],
                                  [Problem(r["line"], "DUPLICATE_EXTERNAL_ID",
                                           f"duplicate externalId: superseded by line {r['superseded_by']}")
                                   for r in dropped][:max_errors])
                    continue
            if attempt == 3:
                raise
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            # a concurrent ingest touched (or moved) the same conversations; staging is intact
            if attempt == 3:
                raise
    raise AssertionError("unreachable")
