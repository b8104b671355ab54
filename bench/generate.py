"""Deterministic large data set for the benchmark, loaded with COPY into its own database.

    .venv/bin/python -m bench.generate [--url postgresql://root@127.0.0.1:5432/postgres]
                                       [--db steward_bench] [--conversations 10000000] [--force]

Creates the database on the server at --url (a superuser or database-owner
connection), runs the migrations (service.db.migrate), then loads with
`copy_records_to_table`: 20 organizations, 1,000 deployments, 5,000 people,
200 topics (10 per org), workflows with active periods, ownership histories
with handovers and gaps, 200,000 workflow updates, 20,000 reviews and
--conversations conversations over the 13 months before today (UTC).
Everything derives from one seed, so the same day gives the same rows.

Rollup (steward.conversation_daily). The statement trigger on
steward.conversations recomputes the rollup of every (deployment, day) a
statement touched by re-reading internals.conversation_facts; for a bulk load
that is one recomputation per COPY over a growing table. With --rollup bulk
(the default) each conversations COPY runs with `set local
session_replication_role = replica` (as pg_restore --disable-triggers does:
no user triggers, so no rollup trigger, and no per-row foreign-key checks,
the ids coming from the database itself; this needs a superuser), then the
script runs ANALYZE and calls
`internals.refresh_conversation_daily(array(select id from steward.deployments))`
once, which yields the same rollup rows (the function the trigger calls, over
every day). `alter table steward.conversations disable trigger user` (owner
only) would skip the trigger but keep the foreign-key checks, about twice the
COPY time. --rollup trigger keeps everything on (one COPY per 30-day chunk)
for comparison. After the load the script times one extra day's batch through COPY
with and without the trigger, in a transaction it rolls back: the per-batch
cost of ingest at this size.

The database is skipped (not regenerated) when it exists and holds the
expected row counts for the same parameters; --force drops and rebuilds it.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.db.pool import connect
from service.db.migrate import migrate

UTC = timezone.utc
SEED = 20261124
DEFAULT_SERVER = "postgresql://root@127.0.0.1:5432/postgres"
DEFAULT_DB = "steward_bench"

ORGS = 20
DEPLOYMENTS = 1_000
PEOPLE = 5_000
TOPICS_PER_ORG = 10
WORKFLOW_UPDATES = 200_000
REVIEWS = 20_000
HISTORY_DAYS = 395  # 13 months of conversations before today
# Deployments per organization: four large ones (the dashboard / BI / summary
# targets: 100 deployments on one page, BI paging over 200) and sixteen small.
LARGE_ORGS = (200, 150, 100, 100)

CHANNELS = ("CHAT", "EMAIL", "SMS", "VOICE", "SOCIAL")
FUNCTIONS = (("CX", 0.55), ("ENGINEERING", 0.15), ("IT", 0.10), ("VENDOR", 0.10), ("OTHER", 0.10))
KINDS = ("WORKFLOW_CHANGE", "KNOWLEDGE_REFRESH", "POLICY_UPDATE", "NEW_USE_CASE", "CHANNEL_LAUNCH", "CONFIG_CHANGE")
VENDORS = ("Ada", "Sierra", "Decagon", "Intercom Fin", "Zendesk AI", "Forethought", "in-house")
TOPIC_NAMES = ("order status", "returns", "refunds", "shipping", "product questions", "account access",
               "payment issues", "promotions", "store locator", "loyalty program")
WORDS = ("Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fjord", "Garnet", "Harbor", "Iris", "Juniper",
         "Kestrel", "Lumen", "Meridian", "Nova", "Orchid", "Pioneer", "Quartz", "Rowan", "Sierra", "Tundra")
WEEKDAY_VOLUME = (1.10, 1.05, 1.00, 1.00, 0.95, 0.85, 0.80)
CONVERSATION_COLUMNS = ["org_id", "external_id", "deployment_id", "topic_id", "channel", "started_at",
                        "ai_engaged", "outcome", "resolved_at", "reopened_at"]


def say(message: str) -> None:
    print(message, flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


# ----------------------------------------------------------------------------- the plan (Python objects)

@dataclass
class Org:
    index: int
    slug: str
    deployments: int
    people: int
    id: int = 0
    topic_ids: list[int] = field(default_factory=list)
    topic_weights: list[float] = field(default_factory=list)
    person_ids: list[int] = field(default_factory=list)


@dataclass
class Person:
    org: Org
    email: str
    name: str
    function: str
    fte: float
    left_at: datetime | None
    id: int = 0


@dataclass
class Period:
    person: Person
    start: datetime
    end: datetime | None
    reason: str
    ended_reason: str | None


@dataclass
class WorkflowPlan:
    topic_index: int
    name: str
    channels: list[str]
    periods: list[tuple[datetime, datetime | None]]
    id: int = 0


@dataclass
class Deployment:
    org: Org
    key: str
    name: str
    channels: list[str]
    vendor: str
    status: str
    launched_at: datetime
    integrations: int
    weight: float          # conversation volume
    cadence: float         # workflow updates per owned week, relative
    arr: float             # base AI resolution rate of addressable conversations
    id: int = 0
    workflows: list[WorkflowPlan] = field(default_factory=list)
    owners: list[Period] = field(default_factory=list)
    # (topic index, channel) -> list of (start, end) epoch seconds when a workflow covered it
    coverage: dict = field(default_factory=dict)


def org_sizes() -> list[int]:
    rest = ORGS - len(LARGE_ORGS)
    left = DEPLOYMENTS - sum(LARGE_ORGS)
    small = [left // rest + (1 if i < left % rest else 0) for i in range(rest)]
    return list(LARGE_ORGS) + small


def plan(today: date, rng: random.Random) -> tuple[list[Org], list[Person], list[Deployment]]:
    now = midnight(today)
    history_start = now - timedelta(days=HISTORY_DAYS)
    orgs: list[Org] = []
    sizes = org_sizes()
    people_left = PEOPLE
    for i, size in enumerate(sizes):
        n_people = PEOPLE * size // DEPLOYMENTS if i < ORGS - 1 else people_left
        people_left -= n_people
        orgs.append(Org(i, f"bench-{i + 1:02d}", size, n_people))

    people: list[Person] = []
    by_org: dict[int, list[Person]] = {}
    for org in orgs:
        mine = []
        for j in range(org.people):
            function = rng.choices([f for f, _ in FUNCTIONS], [w for _, w in FUNCTIONS])[0]
            fte = round(rng.choice((0.1, 0.2, 0.3, 0.5, 0.5, 0.75, 0.8, 1.0)), 2)
            # one in ten left the company during the history
            left = (history_start + timedelta(days=rng.uniform(10, HISTORY_DAYS - 5))) if rng.random() < 0.10 else None
            first, last = rng.choice(WORDS), rng.choice(WORDS)
            p = Person(org, f"p{j:05d}@{org.slug}.example", f"{first} {last} {j}", function, fte,
                       left.replace(microsecond=0) if left else None)
            mine.append(p)
        by_org[org.index] = mine
        people += mine

    deployments: list[Deployment] = []
    for org in orgs:
        for j in range(org.deployments):
            # three in four launched before the history window, the rest during it
            if rng.random() < 0.75:
                launched = history_start - timedelta(days=rng.uniform(30, 600))
            else:
                launched = history_start + timedelta(days=rng.uniform(0, HISTORY_DAYS - 30))
            launched = launched.replace(microsecond=0)
            k = rng.choice((1, 1, 2, 2, 3))
            channels = ["CHAT"] + rng.sample(CHANNELS[1:], k - 1)
            status = rng.choices(("ACTIVE", "PAUSED", "RETIRED"), (0.90, 0.05, 0.05))[0]
            dep = Deployment(
                org=org, key=f"ai-{j:04d}", name=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {j:04d}",
                channels=channels, vendor=rng.choice(VENDORS), status=status, launched_at=launched,
                integrations=rng.randint(0, 12), weight=math.exp(rng.gauss(0, 0.7)),
                cadence=math.exp(rng.gauss(0, 0.9)), arr=rng.uniform(0.15, 0.65),
            )
            dep.workflows = plan_workflows(dep, now, rng)
            dep.owners = plan_owners(dep, by_org[org.index], now, rng)
            for w in dep.workflows:
                for ch in w.channels:
                    spans = dep.coverage.setdefault((w.topic_index, ch), [])
                    for s, e in w.periods:
                        spans.append((s.timestamp(), e.timestamp() if e else float("inf")))
            deployments.append(dep)
    return orgs, people, deployments


def plan_workflows(dep: Deployment, now: datetime, rng: random.Random) -> list[WorkflowPlan]:
    """3 to 8 of the org's topics, popular ones likelier; some retired, some relaunched later."""
    topics = sorted(rng.sample(range(TOPICS_PER_ORG), rng.randint(3, 8)))
    plans = []
    for t in topics:
        channels = [c for c in dep.channels if rng.random() < 0.8] or [dep.channels[0]]
        start = dep.launched_at + timedelta(days=rng.uniform(0, 200) if rng.random() < 0.6 else 0)
        periods = []
        while start < now:
            if rng.random() < 0.25:
                end = start + timedelta(days=rng.uniform(20, 200))
                if end >= now:
                    periods.append((start, None))
                    break
                periods.append((start, end))
                start = end + timedelta(days=rng.uniform(5, 90))
            else:
                periods.append((start, None))
                break
        if periods:
            plans.append(WorkflowPlan(t, f"{TOPIC_NAMES[t]} ({'/'.join(channels).lower()})", channels, periods))
    return plans


def plan_owners(dep: Deployment, people: list[Person], now: datetime, rng: random.Random) -> list[Period]:
    """Periods from launch to now: handovers, gaps, and owners who left without a replacement."""
    periods: list[Period] = []
    t = dep.launched_at + timedelta(days=rng.choice((0, 0, rng.uniform(1, 45))))
    reason = "named at launch"
    while t < now:
        candidates = [p for p in rng.sample(people, min(12, len(people))) if p.left_at is None or p.left_at > t]
        if not candidates:
            break
        person = candidates[0]
        end = t + timedelta(days=rng.expovariate(1 / 150))
        ended = "handover"
        if person.left_at is not None and person.left_at < end:
            end, ended = person.left_at, "owner left the company"
        if end >= now and person.left_at is None:
            periods.append(Period(person, t, None, reason, None))
            break
        end = min(end, now - timedelta(hours=1))
        periods.append(Period(person, t, end, reason, ended))
        if ended == "owner left the company" and rng.random() < 0.45:
            break  # nobody replaced them: unowned from here on
        if rng.random() < 0.3:
            t = end + timedelta(days=rng.uniform(3, 60))
            reason = "named after a gap"
        else:
            t = end
            reason = "handover"
    return periods


# ----------------------------------------------------------------------------- loading the small tables

async def load_entities(conn: asyncpg.Connection, orgs, people, deployments, rng: random.Random) -> dict:
    counts = {}
    for org in orgs:
        org.id = await conn.fetchval(
            "insert into steward.organizations (slug, name, vertical) values ($1, $2, 'retail') returning id",
            org.slug, f"Bench Retailer {org.index + 1:02d}")
    counts["organizations"] = len(orgs)

    await conn.copy_records_to_table(
        "persons", schema_name="steward",
        columns=["org_id", "name", "email", "title", "function", "fte_on_ai", "active", "deactivated_at"],
        records=[(p.org.id, p.name, p.email, "CX lead" if p.function == "CX" else p.function.title(), p.function,
                  p.fte, p.left_at is None, p.left_at) for p in people])
    ids = {r["email"]: r["id"] for r in await conn.fetch("select id, email from steward.persons")}
    for p in people:
        p.id = ids[p.email]
    counts["persons"] = len(people)

    topic_rows = []
    for org in orgs:
        for t in range(TOPICS_PER_ORG):
            topic_rows.append((org.id, f"topic-{t}", TOPIC_NAMES[t], round(rng.uniform(2, 12), 2)))
    await conn.copy_records_to_table("topics", schema_name="steward",
                                     columns=["org_id", "key", "name", "escalation_cost"], records=topic_rows)
    topics = {(r["org_id"], r["key"]): r["id"] for r in await conn.fetch("select id, org_id, key from steward.topics")}
    for org in orgs:
        org.topic_ids = [topics[(org.id, f"topic-{t}")] for t in range(TOPICS_PER_ORG)]
        # topic popularity: roughly Zipf, shuffled per org
        weights = [1 / (k + 1) for k in range(TOPICS_PER_ORG)]
        rng.shuffle(weights)
        org.topic_weights = weights
    counts["topics"] = len(topic_rows)

    await conn.copy_records_to_table(
        "deployments", schema_name="steward",
        columns=["org_id", "key", "name", "channels", "vendor", "status", "launched_at", "integrations"],
        records=[(d.org.id, d.key, d.name, d.channels, d.vendor, d.status, d.launched_at, d.integrations)
                 for d in deployments])
    dep_ids = {(r["org_id"], r["key"]): r["id"]
               for r in await conn.fetch("select id, org_id, key from steward.deployments")}
    for d in deployments:
        d.id = dep_ids[(d.org.id, d.key)]
    counts["deployments"] = len(deployments)

    await conn.copy_records_to_table(
        "workflows", schema_name="steward", columns=["org_id", "deployment_id", "topic_id", "name", "channels"],
        records=[(d.org.id, d.id, d.org.topic_ids[w.topic_index], w.name, w.channels)
                 for d in deployments for w in d.workflows])
    wf_ids = {(r["deployment_id"], r["name"]): r["id"]
              for r in await conn.fetch("select id, deployment_id, name from steward.workflows")}
    for d in deployments:
        for w in d.workflows:
            w.id = wf_ids[(d.id, w.name)]
    counts["workflows"] = sum(len(d.workflows) for d in deployments)

    period_rows = [(d.org.id, w.id, asyncpg.Range(s, e, lower_inc=True, upper_inc=False))
                   for d in deployments for w in d.workflows for s, e in w.periods]
    await conn.copy_records_to_table("workflow_periods", schema_name="steward",
                                     columns=["org_id", "workflow_id", "active"], records=period_rows)
    counts["workflow_periods"] = len(period_rows)

    owner_rows = [(d.org.id, d.id, p.person.id, asyncpg.Range(p.start, p.end, lower_inc=True, upper_inc=False),
                   "bench", p.reason, p.ended_reason) for d in deployments for p in d.owners]
    await conn.copy_records_to_table(
        "ownership_assignments", schema_name="steward",
        columns=["org_id", "deployment_id", "person_id", "valid", "assigned_by", "reason", "ended_reason"],
        records=owner_rows)
    counts["ownership_assignments"] = len(owner_rows)
    return counts


def _owned_spans(d: Deployment, now: datetime) -> list[tuple[float, float, Person]]:
    return [(p.start.timestamp(), (p.end or now).timestamp(), p.person) for p in d.owners]


def _pick_instant(spans, total: float, rng: random.Random) -> tuple[float, Person | None]:
    x = rng.random() * total
    for s, e, person in spans:
        if x < e - s:
            return s + x, person
        x -= e - s
    s, e, person = spans[-1]
    return e - 1, person


async def load_activity(conn: asyncpg.Connection, deployments: list[Deployment], people_by_org: dict,
                        now: datetime, rng: random.Random) -> dict:
    """Workflow updates and reviews, made mostly by the owner of the time, while owned."""
    history_start = (now - timedelta(days=HISTORY_DAYS)).timestamp()
    spans_by_dep = {}
    owned_days = {}
    for d in deployments:
        spans = [(max(s, history_start), e, p) for s, e, p in _owned_spans(d, now) if e > history_start]
        spans_by_dep[d.id] = spans
        owned_days[d.id] = sum(e - s for s, e, _ in spans) / 86400
    weights = [owned_days[d.id] * d.cadence + 1 for d in deployments]

    def allocate(total: int) -> list[int]:
        raw = [total * w / sum(weights) for w in weights]
        counts = [int(x) for x in raw]
        for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
            counts[i] += 1
        return counts

    update_rows, review_rows = [], []
    for d, n_updates, n_reviews in zip(deployments, allocate(WORKFLOW_UPDATES), allocate(REVIEWS)):
        spans = spans_by_dep[d.id]
        total = sum(e - s for s, e, _ in spans)
        others = people_by_org[d.org.index]
        for kind_rows, n in ((update_rows, n_updates), (review_rows, n_reviews)):
            for i in range(n):
                if total > 0 and rng.random() < 0.95:
                    instant, person = _pick_instant(spans, total, rng)
                else:  # someone else, at any time of the history
                    instant, person = rng.uniform(history_start, now.timestamp() - 60), None
                if person is None or (person.left_at and person.left_at.timestamp() <= instant):
                    person = rng.choice(others)
                at = datetime.fromtimestamp(int(instant), UTC)
                if kind_rows is update_rows:
                    kind = rng.choice(KINDS)
                    wf = rng.choice(d.workflows).id if d.workflows and rng.random() < 0.6 else None
                    kind_rows.append((d.org.id, d.id, person.id, wf, kind,
                                      f"{kind.replace('_', ' ').lower()} #{i} on {d.key}", at))
                else:
                    kind_rows.append((d.org.id, d.id, person.id, at, "weekly review",
                                      ["keep"] if rng.random() < 0.7 else ["refresh knowledge", "new use case"]))
    await conn.copy_records_to_table(
        "workflow_updates", schema_name="steward",
        columns=["org_id", "deployment_id", "author_id", "workflow_id", "kind", "summary", "occurred_at"],
        records=update_rows)
    await conn.copy_records_to_table(
        "performance_reviews", schema_name="steward",
        columns=["org_id", "deployment_id", "reviewer_id", "reviewed_at", "notes", "decisions"],
        records=review_rows)
    return {"workflow_updates": len(update_rows), "performance_reviews": len(review_rows)}


# ----------------------------------------------------------------------------- conversations

class ConversationStream:
    """Conversations day by day (oldest first), every deployment each day: the order a daily ingest writes."""

    def __init__(self, deployments: list[Deployment], total: int, today: date, seed: int):
        self.deployments = deployments
        self.today = today
        self.first_day = today - timedelta(days=HISTORY_DAYS)
        self.rng = random.Random(seed)
        self.seq = {d.id: 0 for d in deployments}
        # volume per deployment-day so that the whole history holds `total` conversations
        live_days = {d.id: sum(WEEKDAY_VOLUME[(self.first_day + timedelta(days=n)).weekday()]
                               for n in range(HISTORY_DAYS)
                               if midnight(self.first_day + timedelta(days=n + 1)) > d.launched_at)
                     for d in deployments}
        mass = sum(d.weight * live_days[d.id] for d in deployments)
        self.per_day = {d.id: total * d.weight / mass for d in deployments}
        self.target = total
        self.produced = 0
        self.channel_weights = {d.id: [3 if c == "CHAT" else 1 for c in d.channels] for d in deployments}

    def day(self, n: int, suffix: str = "") -> list[tuple]:
        """Rows of day n (0 = the first day of the history)."""
        rng = self.rng
        random_ = rng.random
        d0 = self.first_day + timedelta(days=n)
        base = midnight(d0)
        base_ts = base.timestamp()
        weekday = WEEKDAY_VOLUME[d0.weekday()]
        season = 1 + 0.15 * math.sin(n / 58.0)
        rows = []
        for dep in self.deployments:
            if midnight(d0 + timedelta(days=1)) <= dep.launched_at:
                continue
            expected = self.per_day[dep.id] * weekday * season
            count = int(expected) + (1 if random_() < expected - int(expected) else 0)
            if count == 0:
                continue
            org = dep.org
            topics = rng.choices(range(TOPICS_PER_ORG), org.topic_weights, k=count)
            channels = rng.choices(dep.channels, self.channel_weights[dep.id], k=count)
            arr = min(0.95, max(0.02, dep.arr + 0.08 * math.sin(n / 37.0 + dep.id)))
            coverage = dep.coverage
            seq = self.seq[dep.id]
            launched_ts = dep.launched_at.timestamp()
            for k in range(count):
                offset = 25200 + random_() * 57600  # 07:00 .. 23:00 UTC
                ts = base_ts + offset
                if ts < launched_ts:
                    ts = launched_ts + random_() * max(1.0, base_ts + 86399 - launched_ts)
                t, ch = topics[k], channels[k]
                addressable = False
                for s, e in coverage.get((t, ch), ()):
                    if s <= ts < e:
                        addressable = True
                        break
                started = base + timedelta(seconds=ts - base_ts)
                r = random_()
                resolved_at = reopened_at = None
                if addressable:
                    engaged = True
                    if r < arr:
                        outcome = "AI_RESOLVED"
                        resolved_at = started + timedelta(seconds=60 + random_() * 900)
                        if random_() < 0.06:
                            reopened_at = resolved_at + timedelta(hours=random_() * 60)
                    elif r < arr + (1 - arr) * 0.7:
                        outcome = "ESCALATED"
                    elif r < arr + (1 - arr) * 0.95:
                        outcome = "ABANDONED"
                    else:
                        outcome = "OPEN"
                else:
                    engaged = r < 0.35
                    if engaged and random_() < 0.1:
                        outcome = "AI_RESOLVED"
                        resolved_at = started + timedelta(seconds=60 + random_() * 900)
                    else:
                        outcome = "ESCALATED" if r < 0.8 else "ABANDONED"
                rows.append((org.id, f"c{dep.id:05d}-{seq + k:08d}{suffix}", dep.id, org.topic_ids[t], ch, started,
                             engaged, outcome, resolved_at, reopened_at))
            self.seq[dep.id] = seq + count
        self.produced += len(rows)
        return rows


async def copy_conversations(conn: asyncpg.Connection, stream: ConversationStream, days: range,
                             disable_trigger: bool) -> int:
    produced = 0

    async def records():
        nonlocal produced
        for n in days:
            rows = stream.day(n)
            produced += len(rows)
            for row in rows:
                yield row
            await asyncio.sleep(0)

    async with conn.transaction():
        if disable_trigger:
            # Like pg_restore --disable-triggers: no rollup trigger and no per-row foreign-key
            # checks (the ids come from the database); the rollup is refreshed once afterwards.
            await conn.execute("set local session_replication_role = replica")
        await conn.copy_records_to_table("conversations", schema_name="steward", columns=CONVERSATION_COLUMNS,
                                         records=records())
    return produced


async def time_daily_batch(conn: asyncpg.Connection, stream: ConversationStream) -> tuple[int, float, float]:
    """One more day of conversations through COPY, with and without the rollup trigger; both rolled back."""
    rows = stream.day(HISTORY_DAYS - 1, suffix="-x")
    timings = []
    for trigger in (True, False):
        tx = conn.transaction()
        await tx.start()
        try:
            if not trigger:
                await conn.execute("alter table steward.conversations disable trigger user")
            started = time.perf_counter()
            await conn.copy_records_to_table("conversations", schema_name="steward",
                                             columns=CONVERSATION_COLUMNS, records=rows)
            timings.append(time.perf_counter() - started)
        finally:
            await tx.rollback()
    return len(rows), timings[0], timings[1]


# ----------------------------------------------------------------------------- driver

TABLES = ("organizations", "persons", "deployments", "topics", "workflows", "workflow_periods",
          "ownership_assignments", "workflow_updates", "performance_reviews", "conversations", "conversation_daily")


async def table_sizes(conn: asyncpg.Connection) -> list[tuple[str, int, int]]:
    out = []
    for t in TABLES:
        n = await conn.fetchval(f"select count(*) from steward.{t}")
        # a partitioned table holds nothing itself: sum its partitions (PostgreSQL 15 gives a plain
        # table no tree at all)
        size = await conn.fetchval("select coalesce((select sum(pg_total_relation_size(relid))"
                                   " from pg_partition_tree($1::regclass)), pg_total_relation_size($1::regclass))",
                                   f"steward.{t}")
        out.append((t, n, size))
    return out


async def existing_matches(db_url: str, conversations: int) -> str | None:
    """The generation date of a complete data set of this size in the database, else None."""
    try:
        conn = await connect(db_url)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        if not await conn.fetchval("select to_regclass('bench_meta.generated') is not null"):
            return None
        meta = dict(await conn.fetch("select key, value from bench_meta.generated"))
        if meta.get("complete") != "yes" or int(meta.get("requested_conversations", -1)) != conversations:
            return None
        n = await conn.fetchval("select count(*) from steward.conversations")
        deps = await conn.fetchval("select count(*) from steward.deployments")
        return meta["generated_on"] if n == int(meta["conversations"]) and deps == DEPLOYMENTS else None
    finally:
        await conn.close()


async def generate(server_url: str, db: str, conversations: int, rollup: str, force: bool, seed: int) -> str:
    db_url = with_database(server_url, db)
    generated_on = None if force else await existing_matches(db_url, conversations)
    if generated_on:
        # The rows are relative to the generation day: "last 30 days" shifts by a day per day.
        say(f"generate: {db} already holds the data set ({conversations:,} conversations requested, "
            f"generated {generated_on} relative to that day): skipped (--force rebuilds)")
        return db_url
    admin = await connect(server_url)
    try:
        await admin.execute(f'drop database if exists "{db}" with (force)')
        await admin.execute(f'create database "{db}"')
    finally:
        await admin.close()

    started = time.perf_counter()
    conn = await connect(db_url)
    try:
        await migrate(conn)
        say(f"generate: migrated {db} in {time.perf_counter() - started:.1f}s")
        await conn.execute("create schema bench_meta;"
                           " create table bench_meta.generated (key text primary key, value text)")
        today = await conn.fetchval("select (now() at time zone 'UTC')::date")
        now = midnight(today)
        rng = random.Random(seed)
        t0 = time.perf_counter()
        orgs, people, deployments = plan(today, rng)
        people_by_org: dict[int, list[Person]] = {}
        for p in people:
            people_by_org.setdefault(p.org.index, []).append(p)
        async with conn.transaction():
            counts = await load_entities(conn, orgs, people, deployments, rng)
            counts |= await load_activity(conn, deployments, people_by_org, now, rng)
        say(f"generate: entities, ownership, {counts['workflow_updates']:,} updates and "
            f"{counts['performance_reviews']:,} reviews in {time.perf_counter() - t0:.1f}s")

        stream = ConversationStream(deployments, conversations, today, seed + 1)
        t0 = time.perf_counter()
        # steward.conversations is partitioned by month: create the history's months before the COPY
        # (rows of a month without a partition would land in DEFAULT, to be moved later)
        await conn.execute("select internals.ensure_conversation_partitions(3, $1)",
                           today - timedelta(days=HISTORY_DAYS))
        chunk = 30
        for first in range(0, HISTORY_DAYS, chunk):
            days = range(first, min(first + chunk, HISTORY_DAYS))
            c0 = time.perf_counter()
            n = await copy_conversations(conn, stream, days, disable_trigger=rollup == "bulk")
            say(f"generate: conversations days {days.start:3d}-{days.stop - 1:3d}: {n:>9,} rows in "
                f"{time.perf_counter() - c0:6.1f}s (total {stream.produced:,}, rollup {rollup})")
        copy_s = time.perf_counter() - t0
        refresh_s = 0.0
        await conn.execute("analyze")  # the refresh plans its scan of the freshly loaded table
        if rollup == "bulk":
            # the replica role skipped the triggers that keep steward.conversation_keys too (sql/views/011)
            await conn.execute("insert into steward.conversation_keys (org_id, external_id, id, started_at)"
                               " select org_id, external_id, id, started_at from steward.conversations")
            r0 = time.perf_counter()
            await conn.execute("select internals.refresh_conversation_daily(array(select id from steward.deployments))")
            refresh_s = time.perf_counter() - r0
            say(f"generate: rollup refreshed once for every deployment in {refresh_s:.1f}s")
        v0 = time.perf_counter()
        await conn.execute("vacuum analyze")
        vacuum_s = time.perf_counter() - v0
        say(f"generate: vacuum analyze in {vacuum_s:.1f}s")
        total_s = time.perf_counter() - started

        batch_rows, with_trigger, without = await time_daily_batch(conn, stream)
        say(f"generate: one day's batch ({batch_rows:,} rows) through COPY: {with_trigger:.2f}s with the rollup "
            f"trigger, {without:.2f}s without (rolled back)")

        sizes = await table_sizes(conn)
        say(f"\ngenerate: loaded in {total_s:.1f}s (conversations COPY {copy_s:.1f}s, rollup {refresh_s:.1f}s, "
            f"vacuum analyze {vacuum_s:.1f}s)")
        say(f"{'table':<24}{'rows':>14}{'total size':>14}")
        for t, n, size in sizes:
            say(f"{t:<24}{n:>14,}{size / 2**20:>11.1f} MiB")
        db_size = await conn.fetchval("select pg_database_size(current_database())")
        say(f"{'database':<24}{'':>14}{db_size / 2**20:>11.1f} MiB")
        meta = {"requested_conversations": str(conversations), "conversations": str(stream.produced - batch_rows),
                "seed": str(seed), "generated_on": today.isoformat(),
                "rollup": rollup, "load_seconds": f"{total_s:.1f}", "copy_seconds": f"{copy_s:.1f}",
                "refresh_seconds": f"{refresh_s:.1f}", "vacuum_seconds": f"{vacuum_s:.1f}",
                "daily_batch_rows": str(batch_rows), "daily_batch_trigger_s": f"{with_trigger:.2f}",
                "daily_batch_no_trigger_s": f"{without:.2f}",
                "sizes": "; ".join(f"{t}={n}:{size}" for t, n, size in sizes), "database_bytes": str(db_size),
                "complete": "yes"}
        await conn.executemany("insert into bench_meta.generated values ($1, $2)", list(meta.items()))
    finally:
        await conn.close()
    return db_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_SERVER,
                        help="server URL (a superuser: the bulk load sets session_replication_role)")
    parser.add_argument("--db", default=DEFAULT_DB, help="database to (re)create")
    parser.add_argument("--conversations", type=int, default=10_000_000)
    parser.add_argument("--rollup", choices=("bulk", "trigger"), default="bulk",
                        help="bulk: trigger off during COPY, one refresh at the end; trigger: keep it on")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--force", action="store_true", help="rebuild even if the database looks complete")
    args = parser.parse_args(argv)
    asyncio.run(generate(args.url, args.db, args.conversations, args.rollup, args.force, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
