"""Which of the service's statements pin their organization: captured at run time, judged on their plans.

Citus routes a statement to one shard when every distributed table in it is restricted to one
value of the distribution column by the statement itself (`org_id = $1`, or an equality on
`org_id` with a table that is): docs/scale-out.md. Row-level security's
`org_id = steward.current_org_id()` does not count (a function of a setting, not a constant).

* `Capture` adds a query logger to every asyncpg connection opened while it is installed: the
  app's pool, the evaluator's, the webhook worker's and the event hub's connections alike.
* `named_statements()` indexes every `-- name:` statement of service/ and schema/ by its text,
  so a logged query is known as `file:name` (anything else, the tests' own SQL, is ignored).
* `judge()` EXPLAINs a statement with the arguments it ran with, as the superuser (row-level
  security does not apply, so no policy qual hides a missing filter) and with custom plans (the
  arguments become constants, so `org_id = '7'::bigint` is the statement's own and a `$n` can
  only be an InitPlan's output), then checks each scan of a tenant table in the plan.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from service.sql_files import _NAME

ROOT = Path(__file__).resolve().parents[2]

# org_id equal to a constant (a bound argument, in a custom plan), or to one of a constant list.
_CONSTANT = r"(?:'-?\d+'::bigint|-?\d+)"
PINNED = re.compile(rf"\b(?:\w+\.)?org_id = (?:{_CONSTANT}|ANY \('\{{[\d,]+\}}'::bigint\[\]\))"
                    rf"|{_CONSTANT} = (?:\w+\.)?org_id\b")
# org_id equal to another table's org_id: a co-located join, single-shard when that table is pinned.
JOINED = re.compile(r"\b(?:\w+\.)?org_id = \w+\.org_id\b")
_COMMENTS = r"^\s*(?:--[^\n]*\n\s*)*"
# Statements EXPLAIN can take; the others (create temp table, analyze, drop, listen) are utility statements.
EXPLAINABLE = re.compile(_COMMENTS + r"(?:select|with|insert|update|delete|values|merge)\b", re.I)
TEMP_TABLE = re.compile(_COMMENTS + r"create\s+temp", re.I)
SCAN_CONDITIONS = ("Index Cond", "Recheck Cond", "Filter", "TID Cond")
# A call of one of the project's functions left in the plan (not inlined): its own statements are out of sight.
FUNCTION_CALL = re.compile(r"\b((?:steward|internals|metrics)\.\w+)\(")


def named_statements() -> dict[str, str]:
    """{statement text: 'relative/path.sql:name'} of every named statement of service/ and schema/."""
    found: dict[str, str] = {}
    for path in sorted([*ROOT.joinpath("service").rglob("*.sql"), *ROOT.joinpath("schema").rglob("*.sql")]):
        parts = _NAME.split(path.read_text(encoding="utf-8"))[1:]
        for name, body in zip(parts[::2], parts[1::2], strict=True):
            found[body.strip()] = f"{path.relative_to(ROOT)}:{name}"
    return found


@dataclass
class Capture:
    """Every (query, args) run on connections opened while installed, in order."""

    calls: list[tuple[str, tuple]] = field(default_factory=list)

    def install(self, monkeypatch) -> None:
        original = asyncpg.connection.Connection.__init__
        record = self.record

        def logging_init(conn, *args, **kwargs):
            original(conn, *args, **kwargs)
            conn.add_query_logger(record)

        monkeypatch.setattr(asyncpg.connection.Connection, "__init__", logging_init)

    def record(self, logged) -> None:
        self.calls.append((logged.query, logged.args))

    def by_statement(self, names: dict[str, str]) -> dict[str, list[tuple]]:
        """{statement name: [args of each run]} of the named statements that ran."""
        runs: dict[str, list[tuple]] = {}
        for query, args in self.calls:
            if query.strip() in names:
                runs.setdefault(names[query.strip()], []).append(args)
        return runs

    def temp_tables(self) -> list[str]:
        """The `create temp table` statements that ran: replayed before EXPLAIN of what reads them."""
        return list(dict.fromkeys(q for q, _ in self.calls if TEMP_TABLE.match(q)))


@dataclass
class Verdict:
    statement: str
    kind: str  # "pinned", "unpinned", "no tenant table", "through functions", "utility", "explain failed"
    scans: list[str] = field(default_factory=list)  # the tenant-table scans that are not pinned
    detail: str = ""


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def classify(plan: dict, tenant: set[str]) -> tuple[str, list[str]]:
    """('pinned' | 'unpinned' | 'no tenant table' | 'through functions', the unpinned scans or the functions)."""
    pinned, joined, unpinned, called = 0, [], [], set()
    for node in _nodes(plan):
        called |= set(FUNCTION_CALL.findall(json.dumps({k: v for k, v in node.items() if k != "Plans"})))
        table = f"{node.get('Schema')}.{node.get('Relation Name')}"
        if "Relation Name" not in node or table not in tenant or node.get("Node Type") == "ModifyTable":
            continue  # an INSERT routes by the org_id it inserts; UPDATE/DELETE are judged by their scan
        conditions = " ".join(node.get(key, "") for key in SCAN_CONDITIONS)
        where = f"{node['Node Type']} on {table} {node.get('Alias', '')}".strip()
        if PINNED.search(conditions):
            pinned += 1
        elif JOINED.search(conditions):
            joined.append(where)
        else:
            unpinned.append(f"{where} [{conditions or 'no condition'}]")
    if not pinned and not joined and not unpinned:
        # functions of the current organization's helpers (the RLS setting, the clock) read no tenant table
        opaque = sorted(called - {"steward.current_org_id", "steward.clock", "internals.utc"})
        return ("through functions", opaque) if opaque else ("no tenant table", [])
    if not pinned:  # joined on org_id to each other, but none of them to a constant
        unpinned += joined
    return ("unpinned" if unpinned else "pinned"), unpinned


async def judge(conn: asyncpg.Connection, statement: str, query: str, args: tuple, tenant: set[str],
                temp_tables: list[str]) -> Verdict:
    """EXPLAIN the statement with its arguments in a transaction that is rolled back, and classify it."""
    if not EXPLAINABLE.match(query):
        return Verdict(statement, "utility")
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("set local plan_cache_mode = force_custom_plan")
        for ddl in temp_tables:
            await conn.execute(ddl)
        plan = json.loads(await conn.fetchval(f"explain (verbose, format json) {query}", *args))[0]["Plan"]
    except asyncpg.PostgresError as error:
        return Verdict(statement, "explain failed", detail=f"{type(error).__name__}: {error}")
    finally:
        await tx.rollback()
    kind, scans = classify(plan, tenant)
    return Verdict(statement, kind, scans)
