"""Bulk ingest of conversation outcomes: parse NDJSON or CSV, COPY into staging, merge in one statement.

The body arrives as an async stream of byte chunks and is never held whole:
each chunk is split into complete lines, validated row by row in Python, and
the valid rows are streamed into a temporary staging table with binary COPY.
One `insert … on conflict (org_id, external_id) do update … where <changed>`
statement then merges the staging table into steward.conversations, so the
rollup triggers on that table fire once per request, in the same transaction.

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

import csv
import io
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import asyncpg

from schema.health import record as health_events
from schema.instants import EARLIEST, END, INSTANT_RANGE

FORMATS = ("ndjson", "csv")
CHANNELS = frozenset(("CHAT", "EMAIL", "SMS", "VOICE", "SOCIAL"))
OUTCOMES = frozenset(("AI_RESOLVED", "ESCALATED", "ABANDONED", "OPEN"))
COLUMNS = ("externalId", "deploymentKey", "deploymentId", "topic", "channel", "startedAt", "aiEngaged",
           "outcome", "resolvedAt", "reopenedAt")
REQUIRED_COLUMNS = ("externalId", "topic", "channel", "startedAt", "aiEngaged", "outcome")
MAX_EXTERNAL_ID = 200
MAX_LINE_BYTES = 1 << 20  # a line this long without its newline is rejected, not buffered

# The C scanner behind json.loads, without its Python wrapper; json.loads reports errors.
# (typeshed does not declare `scan_once`, which JSONDecoder.__init__ sets)
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_topic_key = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z").match
_fromiso = datetime.fromisoformat
_BOOLS = {True: True, False: False, "true": True, "false": False, "TRUE": True, "FALSE": False,
          "True": True, "False": False, "1": True, "0": False}

STAGING = "steward_ingest_rows"
CREATE_STAGING = f"""
create temp table {STAGING} (
    line           bigint not null,
    external_id    text not null,
    deployment_id  bigint not null,
    topic_key      text not null,
    channel        text not null,
    started_at     timestamptz not null,
    ai_engaged     boolean not null,
    outcome        text not null,
    resolved_at    timestamptz,
    reopened_at    timestamptz
) on commit drop
"""
STAGING_COLUMNS = ("line", "external_id", "deployment_id", "topic_key", "channel", "started_at", "ai_engaged",
                   "outcome", "resolved_at", "reopened_at")

CREATE_TOPICS = """
insert into steward.topics (org_id, key, name)
select $1, t.key, t.name from unnest($2::text[], $3::text[]) as t(key, name)
on conflict (org_id, key) do nothing
"""

# One statement, so the rollup triggers fire once. A row equal to the stored
# conversation is filtered out before the insert: ON CONFLICT would otherwise
# lock (and so write) every unchanged row of a re-sent file. Rows that changed
# are updated, the rest inserted; xmax = 0 tells a fresh insert from an update.
MERGE = f"""
with merged as (
    insert into steward.conversations as c
        (org_id, external_id, deployment_id, topic_id, channel, started_at, ai_engaged, outcome,
         resolved_at, reopened_at)
    select $1, s.external_id, s.deployment_id, t.id, s.channel, s.started_at, s.ai_engaged, s.outcome,
           s.resolved_at, s.reopened_at
    from {STAGING} s
    join steward.topics t on t.org_id = $1 and t.key = s.topic_key
    where not exists (
        select 1 from steward.conversations o
        where o.org_id = $1 and o.external_id = s.external_id
          and (o.deployment_id, o.topic_id, o.channel, o.started_at, o.ai_engaged, o.outcome, o.resolved_at,
               o.reopened_at)
              is not distinct from
              (s.deployment_id, t.id, s.channel, s.started_at, s.ai_engaged, s.outcome, s.resolved_at,
               s.reopened_at)
    )
    on conflict (org_id, external_id) do update set
        deployment_id = excluded.deployment_id, topic_id = excluded.topic_id, channel = excluded.channel,
        started_at = excluded.started_at, ai_engaged = excluded.ai_engaged, outcome = excluded.outcome,
        resolved_at = excluded.resolved_at, reopened_at = excluded.reopened_at, ingested_at = now()
    -- a concurrent request may have stored the same values since this statement's snapshot
    where (c.deployment_id, c.topic_id, c.channel, c.started_at, c.ai_engaged, c.outcome, c.resolved_at,
           c.reopened_at)
          is distinct from
          (excluded.deployment_id, excluded.topic_id, excluded.channel, excluded.started_at, excluded.ai_engaged,
           excluded.outcome, excluded.resolved_at, excluded.reopened_at)
    returning xmax = 0 as inserted
)
select count(*) filter (where inserted) as inserted, count(*) filter (where not inserted) as updated
from merged
"""

# The deployments a request wrote to, whose health the new outcomes may change.
STAGED_DEPLOYMENTS = f"select distinct deployment_id from {STAGING} order by deployment_id"

# Only run when the merge hit the same externalId twice: every occurrence but
# the last is removed from staging and reported.
DROP_SUPERSEDED = f"""
with last as (
    select external_id, max(line) as line from {STAGING} group by external_id having count(*) > 1
), dropped as (
    delete from {STAGING} s using last
    where s.external_id = last.external_id and s.line < last.line
    returning s.line, last.line as superseded_by
)
select count(*) over () as total, line, superseded_by from dropped order by line limit $1
"""


class IngestError(Exception):
    """The request as a whole cannot be ingested; `status` is the HTTP status to answer with."""

    status = 400


class BodyTooLarge(IngestError):
    status = 413

    def __init__(self, limit: int):
        super().__init__(f"request body exceeds the ingest limit of {limit} bytes; nothing was written."
                         " Split the file into smaller requests")
        self.limit = limit


class Reject(Exception):
    """One field of a row is invalid: reported with the row's line number, the field and a code."""

    def __init__(self, reason: str, field: str | None = None, code: str = "INVALID"):
        super().__init__(reason)
        self.field, self.code = field, code


@dataclass(frozen=True)
class Problem:
    """Why one line was rejected: a `code` for programs, a `reason` for people, and every field at fault."""

    line: int
    code: str
    reason: str
    fields: tuple[Reject, ...] = ()

    def as_json(self) -> dict:
        body = {"line": self.line, "code": self.code, "reason": self.reason}
        if self.fields:
            body["fields"] = [{"field": f.field, "code": f.code, "reason": str(f)} for f in self.fields]
        return body


@dataclass
class Result:
    accepted: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[Problem] = field(default_factory=list)
    written: bool = True

    def as_json(self) -> dict:
        return {
            "accepted": self.accepted, "inserted": self.inserted, "updated": self.updated,
            "unchanged": self.unchanged, "rejected": self.rejected,
            "errors": [problem.as_json() for problem in self.errors],
        }


def topic_name(key: str) -> str:
    """`order-status` -> `Order status`: a readable name for a topic first seen in ingest."""
    return key.replace("-", " ").replace("_", " ").capitalize()


def _timestamp(value, name: str) -> datetime:
    if type(value) is not str:
        raise Reject(f"{name} must be an ISO 8601 timestamp string", name)
    try:
        ts = _fromiso(value)
    except ValueError:
        raise Reject(f"{name} is not an ISO 8601 timestamp: {value[:40]!r}", name) from None
    if ts.tzinfo is None:
        raise Reject(f"{name} has no UTC offset; naive timestamps are ambiguous (add Z or +hh:mm)", name)
    # compared as instants (no UTC conversion, which overflows for year 1 or 9999 with an offset)
    if not EARLIEST <= ts < END:
        raise Reject(f"{name} is out of range: {value[:40]!r}; instants must be {INSTANT_RANGE}", name,
                     "OUT_OF_RANGE")
    return ts


class RowValidator:
    """Turns one row's raw values into a staging tuple, or raises Reject with the reason."""

    def __init__(self, deployments: list[tuple[int, str]], topics: list[str]):
        self.by_key = {key: dep_id for dep_id, key in deployments}
        # deploymentId arrives as a JSON number or a CSV string
        self.by_id: dict[int | str, int] = {dep_id: dep_id for dep_id, _ in deployments}
        self.by_id.update({str(dep_id): dep_id for dep_id, _ in deployments})
        self.topics = set(topics)  # known or already validated keys
        self.new_topics: set[str] = set()

    def row(self, line, ext, dkey, did, topic, channel, started, engaged, outcome, resolved, reopened):
        # The common case runs straight through; every failure raises with its reason.
        if type(ext) is not str or not 0 < len(ext) <= MAX_EXTERNAL_ID or not ext.isprintable():
            ext = self._external_id(ext)
        if dkey:
            dep = self.by_key.get(dkey) if type(dkey) is str else None
            if dep is None:
                raise Reject(f"unknown deployment {str(dkey)[:80]!r}", "deploymentKey", "UNKNOWN")
            if did is not None and did != "" and self._deployment_id(did) != dep:
                raise Reject("deploymentKey and deploymentId name different deployments", "deploymentId",
                             "INCONSISTENT")
        elif did is not None and did != "":
            dep = self._deployment_id(did)
        else:
            raise Reject("missing deploymentKey or deploymentId", "deploymentKey", "MISSING")
        if topic not in self.topics:
            self._topic(topic)
        if channel not in CHANNELS:
            raise Reject(f"channel must be one of {', '.join(sorted(CHANNELS))}; got {str(channel)[:40]!r}",
                         "channel", "MISSING" if channel in (None, "") else "INVALID")
        st = _timestamp(started, "startedAt") if started else _missing("startedAt")
        ae = _BOOLS.get(engaged) if type(engaged) in (bool, str) else None
        if ae is None:
            if engaged in (None, ""):
                raise Reject("missing aiEngaged", "aiEngaged", "MISSING")
            raise Reject("aiEngaged must be true or false", "aiEngaged")
        if outcome not in OUTCOMES:
            if not outcome:
                raise Reject("missing outcome", "outcome", "MISSING")
            raise Reject(f"outcome must be one of {', '.join(sorted(OUTCOMES))}; got {str(outcome)[:40]!r}",
                         "outcome")
        if resolved is None or resolved == "":
            ra = None
        else:
            ra = _timestamp(resolved, "resolvedAt")
            if ra < st:
                raise Reject("resolvedAt is before startedAt", "resolvedAt", "INCONSISTENT")
        if reopened is None or reopened == "":
            rp = None
        else:
            rp = _timestamp(reopened, "reopenedAt")
            if ra is not None:
                if rp < ra:
                    raise Reject("reopenedAt is before resolvedAt", "reopenedAt", "INCONSISTENT")
            elif rp < st:
                raise Reject("reopenedAt is before startedAt", "reopenedAt", "INCONSISTENT")
        if topic not in self.topics:
            # only a valid row may create a topic
            self.topics.add(topic)
            self.new_topics.add(topic)
        return (line, ext, dep, topic, channel, st, ae, outcome, ra, rp)

    def problems(self, line: int, values: tuple) -> tuple[Reject, ...]:
        """Every field at fault in a rejected row, not only the first: `row` runs again with each field
        found at fault replaced by a valid stand-in, until it passes; nothing of the row is kept."""
        current = list(values)
        topics, new_topics = set(self.topics), set(self.new_topics)
        found: list[Reject] = []
        for _ in range(len(current)):
            try:
                self.row(line, *current)
                break
            except Reject as exc:
                if exc.field is None or any(f.field == exc.field for f in found):
                    found.append(exc)
                    break
                found.append(exc)
                self._stand_in(current, exc.field)
        self.topics, self.new_topics = topics, new_topics
        return tuple(found)

    def _stand_in(self, values: list, name: str) -> None:
        some_key = next(iter(self.by_key), None)
        if name == "deploymentKey":
            values[1:3] = [some_key, None]
        elif name == "deploymentId":
            values[2] = None
            if not values[1]:
                values[1] = some_key
        else:
            values[COLUMNS.index(name)] = STAND_INS[name]

    @staticmethod
    def _external_id(ext) -> str:
        if ext is None or ext == "":
            raise Reject("missing externalId", "externalId", "MISSING")
        if type(ext) is int:
            ext = str(ext)
        if type(ext) is not str:
            raise Reject("externalId must be a string", "externalId")
        if len(ext) > MAX_EXTERNAL_ID:
            raise Reject(f"externalId is longer than {MAX_EXTERNAL_ID} characters", "externalId")
        if not ext.isprintable():
            raise Reject("externalId contains control or non-printable characters", "externalId")
        return ext

    def _deployment_id(self, did) -> int:
        dep = self.by_id.get(did) if type(did) in (int, str) else None
        if dep is None:
            raise Reject(f"unknown deployment id {str(did)[:40]!r}", "deploymentId", "UNKNOWN")
        return dep

    def _topic(self, topic) -> None:
        if topic is None or topic == "":
            raise Reject("missing topic", "topic", "MISSING")
        if type(topic) is not str or not _topic_key(topic):
            raise Reject(f"topic must be a key matching [a-z0-9][a-z0-9_-]{{0,62}}; got {str(topic)[:70]!r}", "topic")


# Valid values that replace a faulty field while `RowValidator.problems` looks for the next one.
STAND_INS = {"externalId": "x", "topic": "x", "channel": "CHAT", "startedAt": "1970-01-01T00:00:00+00:00",
             "aiEngaged": True, "outcome": "OPEN", "resolvedAt": None, "reopenedAt": None}


def _missing(name: str):
    raise Reject(f"missing {name}", name, "MISSING")


class Parser:
    """Incremental parser: feed() byte chunks, get staging tuples of the complete rows back."""

    def __init__(self, validator: RowValidator, max_errors: int):
        self.validator = validator
        self.max_errors = max_errors
        self.errors: list[Problem] = []
        self.rejected = 0
        self.accepted = 0
        self.line = 0  # physical lines consumed so far
        self._pending = b""
        self._skipping = False  # inside an over-long line

    def reject(self, line: int, code: str, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(Problem(line, code, reason))

    def reject_row(self, line: int, values: tuple) -> None:
        """A row whose fields did not validate: report every field at fault (while errors are listed)."""
        self.rejected += 1
        if len(self.errors) < self.max_errors:
            fields = self.validator.problems(line, values)
            self.errors.append(Problem(line, "INVALID_FIELDS", "; ".join(str(f) for f in fields), fields))

    def feed(self, chunk: bytes) -> list[tuple]:
        data = self._pending + chunk if self._pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._hold(data)
            return []
        if self._skipping:
            # the over-long line ends at the first newline; it was already reported
            first = data.find(b"\n")
            self.line += 1
            self._skipping = False
            block, self._pending = data[first + 1:cut + 1], data[cut + 1:]
        else:
            block, self._pending = data[:cut + 1], data[cut + 1:]
        rows = self._block(block) if block else []
        if len(self._pending) > MAX_LINE_BYTES:
            self._hold(self._pending)
        return rows

    def finish(self) -> list[tuple]:
        rows = [] if self._skipping or not self._pending else self._block(self._pending + b"\n")
        self._pending = b""
        return rows + self._end()

    def _hold(self, data: bytes) -> None:
        if self._skipping:
            self._pending = b""
        elif len(data) > MAX_LINE_BYTES:
            self.reject(self.line + 1, "LINE_TOO_LONG", f"line longer than {MAX_LINE_BYTES} bytes")
            self._skipping, self._pending = True, b""
        else:
            self._pending = data

    def _decode(self, block: bytes) -> str:
        """Decode a block of whole lines; a line that is not UTF-8 is rejected and blanked."""
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            lines = block.split(b"\n")
            for i, raw in enumerate(lines):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.reject(self.line + i + 1, "NOT_UTF8", "line is not valid UTF-8")
                    lines[i] = b""
            return b"\n".join(lines).decode("utf-8")

    def _block(self, block: bytes) -> list[tuple]:
        raise NotImplementedError

    def _end(self) -> list[tuple]:
        return []


class NdjsonParser(Parser):
    def _block(self, block: bytes) -> list[tuple]:
        lines = self._decode(block).split("\n")
        lines.pop()  # the block ends with a newline
        out: list[tuple] = []
        append = out.append
        scan = _scan
        row = self.validator.row
        n = self.line
        for text in lines:
            n += 1
            if not text or text.isspace():
                continue
            obj = None
            try:
                try:
                    obj, end = scan(text, 0)
                    if end != len(text) and not text[end:].isspace():
                        raise ValueError
                except (StopIteration, ValueError):
                    obj = json.loads(text)  # leading blanks, or raises the precise error
                get = obj.get
                values = (get("externalId"), get("deploymentKey"), get("deploymentId"), get("topic"),
                          get("channel"), get("startedAt"), get("aiEngaged"), get("outcome"),
                          get("resolvedAt"), get("reopenedAt"))
                append(row(n, *values))
            except Reject:
                self.reject_row(n, values)
            except json.JSONDecodeError as exc:
                self.reject(n, "INVALID_JSON", f"invalid JSON: {exc}")
            except Exception:
                if isinstance(obj, dict):
                    self.reject(n, "WRONG_TYPE", "a field has a value of the wrong type")
                else:
                    self.reject(n, "NOT_AN_OBJECT", "expected a JSON object with the conversation's fields")
        self.line = n
        self.accepted += len(out)
        return out


class CsvParser(Parser):
    def __init__(self, validator: RowValidator, max_errors: int):
        super().__init__(validator, max_errors)
        self._getter: Callable | None = None
        self._width = 0
        self._carry = ""  # whole lines held back while a quoted field spans them

    def _block(self, block: bytes) -> list[tuple]:
        text = self._carry + self._decode(block) if self._carry else self._decode(block)
        if text.count('"') % 2:
            # A quoted field is still open: parse up to the last line boundary outside quotes.
            boundary, inside, pos = 0, False, 0
            for piece in text.split("\n")[:-1]:
                pos += len(piece) + 1
                inside ^= piece.count('"') % 2 == 1
                if not inside:
                    boundary = pos
            text, self._carry = text[:boundary], text[boundary:]
            if len(self._carry) > MAX_LINE_BYTES:
                start = self.line + text.count("\n") + 1
                raise IngestError(f"unterminated quoted field starting near line {start}")
        else:
            self._carry = ""
        return self._rows(text) if text else []

    def _end(self) -> list[tuple]:
        rows = self._rows(self._carry) if self._carry else []
        self._carry = ""
        if self._getter is None:
            raise IngestError("empty CSV: expected a header row naming the columns "
                              f"({', '.join(COLUMNS)})")
        return rows

    def _header(self, names: list[str]) -> None:
        names = [n.strip() for n in names]
        if names and names[0].startswith("\ufeff"):
            names[0] = names[0][1:]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if "deploymentKey" not in names and "deploymentId" not in names:
            missing.append("deploymentKey or deploymentId")
        if missing:
            raise IngestError(f"CSV header lacks column(s): {', '.join(missing)}")
        self._width = len(names)
        # an absent optional column reads the empty string appended to every row
        self._getter = itemgetter(*[names.index(c) if c in names else self._width for c in COLUMNS])

    def _rows(self, text: str) -> list[tuple]:
        out: list[tuple] = []
        append = out.append
        row = self.validator.row
        base = self.line
        reader = csv.reader(io.StringIO(text, newline="\n"))
        start = 0  # lines consumed by the reader before the current record
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.reject(base + start + 1, "MALFORMED_CSV", f"malformed CSV: {exc}")
                start = reader.line_num
                continue
            n = base + start + 1
            start = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if self._getter is None:
                self._header(fields)
                continue
            if len(fields) != self._width:
                self.reject(n, "WRONG_FIELD_COUNT",
                            f"expected {self._width} fields as in the header, got {len(fields)}")
                continue
            fields.append("")
            values = self._getter(fields)
            try:
                append(row(n, *values))
            except Reject:
                self.reject_row(n, values)
            except Exception:
                self.reject(n, "INVALID_ROW", "invalid row")
        self.line = base + reader.line_num
        self.accepted += len(out)
        return out


def parser_for(fmt: str, validator: RowValidator, max_errors: int) -> Parser:
    if fmt == "ndjson":
        return NdjsonParser(validator, max_errors)
    if fmt == "csv":
        return CsvParser(validator, max_errors)
    raise IngestError(f"format must be one of {', '.join(FORMATS)}")


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
    deployments = await conn.fetch("select id, key from steward.deployments where org_id = $1", org_id)
    topics = await conn.fetch("select key from steward.topics where org_id = $1", org_id)
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
            await conn.execute(CREATE_STAGING)
            await conn.copy_records_to_table(STAGING, records=records(), columns=STAGING_COLUMNS, timeout=timeout)
            if atomic and parser.rejected:
                raise _Rollback
            # row counts and distinct keys let the planner pick index probes or a hash anti-join
            await conn.execute(f"analyze {STAGING}", timeout=timeout)
            fresh = sorted(validator.new_topics)
            if fresh:
                await conn.execute(CREATE_TOPICS, org_id, fresh, [topic_name(k) for k in fresh], timeout=timeout)
            superseded = await _merge(conn, org_id, result, max_errors, timeout)
            if superseded:
                total, first = superseded
                parser.accepted -= total
                parser.rejected += total
                parser.errors = sorted(parser.errors + first, key=lambda problem: problem.line)[:max_errors]
                if atomic:
                    raise _Rollback
            if result.inserted or result.updated:
                staged = await conn.fetch(STAGED_DEPLOYMENTS, timeout=timeout)
                await health_events.record(conn, [r["deployment_id"] for r in staged], "WRITE", request_id)
            await conn.execute(f"drop table {STAGING}")
    except _Rollback:
        return Result(rejected=parser.rejected, errors=parser.errors, written=False)
    result.accepted = parser.accepted
    result.unchanged = parser.accepted - result.inserted - result.updated
    result.rejected = parser.rejected
    result.errors = parser.errors
    return result


async def _merge(conn: asyncpg.Connection, org_id: int, result: Result, max_errors: int,
                 timeout: float | None) -> tuple[int, list[Problem]] | None:
    """Merge staging into steward.conversations; return (count, first) of superseded duplicates."""
    superseded = None
    for attempt in range(4):
        try:
            async with conn.transaction():
                row = await conn.fetchrow(MERGE, org_id, timeout=timeout)
            result.inserted, result.updated = row["inserted"], row["updated"]
            return superseded
        except asyncpg.CardinalityViolationError:
            # the same externalId twice in this request: keep the last, report the others
            if superseded is not None:
                raise
            dropped = await conn.fetch(DROP_SUPERSEDED, max_errors, timeout=timeout)
            superseded = (dropped[0]["total"] if dropped else 0,
                          [Problem(r["line"], "DUPLICATE_EXTERNAL_ID",
                                   f"duplicate externalId: superseded by line {r['superseded_by']}") for r in dropped])
        except asyncpg.DeadlockDetectedError:
            # a concurrent ingest touched the same conversations in another order; staging is intact
            if attempt == 3:
                raise
    raise AssertionError("unreachable")
