"""The loader: the generated rows -> the database, replacing the demo organizations in one transaction."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from service.db.pool import connection
from service.demo.dataset import DEMO_SLUGS, ORGS
from service.demo.generate import Demo, build
from service.demo.spec import LEAVE_HOUR, Org, Person, at, workflow_name
from service.sql_files import load

SQL = load("service.demo", "load.sql")


async def load_demo(url: str) -> str:
    """Replace the demo organizations with a fresh data set, in one transaction; returns a summary."""
    started = time.perf_counter()
    async with connection(url) as conn:
        today = await conn.fetchval(SQL["today"])
        async with conn.transaction():
            # The server purges while Python builds the rows.
            demo, _ = await asyncio.gather(asyncio.to_thread(build, today), purge(conn))
            await insert(conn, demo)
    people = sum(len(o.people) for o in ORGS)
    deployments = sum(len(o.deployments) for o in ORGS)
    return (f"steward: demo loaded for {today.isoformat()}: {len(ORGS)} organizations, {deployments} deployments,"
            f" {people} people, {len(demo.conversations):,} conversations, {len(demo.updates):,} workflow updates,"
            f" {len(demo.reviews):,} reviews in {time.perf_counter() - started:.1f} s")


async def purge(conn: asyncpg.Connection) -> None:
    """Delete the demo organizations (everything cascades); ownership history allows it only here."""
    await conn.execute(SQL["purge_on"])
    await conn.execute(SQL["purge_orgs"], list(DEMO_SLUGS))
    await conn.execute(SQL["purge_off"])


async def insert(conn: asyncpg.Connection, demo: Demo) -> None:
    """Write the data set; coverage before conversations, so the rollup is built once."""
    ids = Ids()
    await _insert_orgs(conn, ids)
    await _insert_people(conn, ids, demo.today)
    await _insert_topics(conn, ids)
    await _insert_deployments(conn, ids, demo.today)
    await _insert_workflows(conn, ids)
    await _copy(conn, "ownership_assignments",
                ("org_id", "deployment_id", "person_id", "valid", "assigned_by", "reason", "ended_reason"),
                [(ids.org[s], ids.dep[s, d], ids.person[s, p], asyncpg.Range(start, end), "steward demo", reason, ended)
                 for s, d, p, start, end, reason, ended in demo.assignments])
    await _copy(conn, "workflow_periods", ("org_id", "workflow_id", "active"),
                [(ids.org[s], ids.workflow[s, d, w], asyncpg.Range(start, end))
                 for s, d, w, start, end in demo.periods])
    await _copy(conn, "workflow_updates",
                ("org_id", "deployment_id", "author_id", "workflow_id", "kind", "summary", "occurred_at"),
                [(ids.org[s], ids.dep[s, d], ids.person[s, p], ids.workflow[s, d, w] if w else None, kind, summary, at)
                 for s, d, p, w, kind, summary, at in demo.updates])
    await _copy(conn, "performance_reviews",
                ("org_id", "deployment_id", "reviewer_id", "reviewed_at", "notes", "decisions"),
                [(ids.org[s], ids.dep[s, d], ids.person[s, p], at, notes, decisions)
                 for s, d, p, at, notes, decisions in demo.reviews])
    await _copy(conn, "conversations",
                ("org_id", "external_id", "deployment_id", "topic_id", "channel", "started_at", "ai_engaged",
                 "outcome", "resolved_at", "reopened_at"),
                [(ids.org[s], ext, ids.dep[s, d], ids.topic[s, t], *rest)
                 for s, ext, d, t, *rest in demo.conversations])


@dataclass
class Ids:
    """Database ids of what the loader inserted, by symbolic key."""
    org: dict = field(default_factory=dict)       # slug
    person: dict = field(default_factory=dict)    # (slug, person key)
    topic: dict = field(default_factory=dict)     # (slug, topic key)
    dep: dict = field(default_factory=dict)       # (slug, deployment key)
    workflow: dict = field(default_factory=dict)  # (slug, deployment key, workflow name)


async def _copy(conn: asyncpg.Connection, table: str, columns: tuple[str, ...], records: list) -> None:
    await conn.copy_records_to_table(table, schema_name="steward", columns=columns, records=records)


async def _insert_orgs(conn: asyncpg.Connection, ids: Ids) -> None:
    rows = await conn.fetch(
        SQL["insert_orgs"],
        [o.slug for o in ORGS], [o.name for o in ORGS], [o.vertical for o in ORGS],
    )
    ids.org.update({r["slug"]: r["id"] for r in rows})
    # Inserting an organization created its default policy; some organizations use a longer reopen window.
    await conn.execute(
        SQL["set_reopen_windows"],
        [ids.org[o.slug] for o in ORGS if o.reopen_hours != 24],
        [o.reopen_hours for o in ORGS if o.reopen_hours != 24],
    )


def _email(org: Org, p: Person) -> str:
    return f"{p.name.lower().replace(' ', '.')}@{p.domain or org.domain}"


async def _insert_people(conn: asyncpg.Connection, ids: Ids, today: date) -> None:
    people = [(o, p) for o in ORGS for p in o.people]
    rows = await conn.fetch(
        SQL["insert_people"],
        [ids.org[o.slug] for o, _ in people], [p.name for _, p in people],
        [_email(o, p) for o, p in people],
        [p.title for _, p in people], [p.function for _, p in people], [p.fte for _, p in people],
        [at(today, p.left, LEAVE_HOUR) if p.left is not None else None for _, p in people],
    )
    by_email = {(r["org_id"], r["email"]): r["id"] for r in rows}
    for o, p in people:
        ids.person[o.slug, p.key] = by_email[ids.org[o.slug], _email(o, p)]


async def _insert_topics(conn: asyncpg.Connection, ids: Ids) -> None:
    topics = [(o, t) for o in ORGS for t in o.topics]
    rows = await conn.fetch(
        SQL["insert_topics"],
        [ids.org[o.slug] for o, _ in topics], [t.key for _, t in topics], [t.name for _, t in topics],
        [t.escalation_cost for _, t in topics],
    )
    slug = {v: k for k, v in ids.org.items()}
    ids.topic.update({(slug[r["org_id"]], r["key"]): r["id"] for r in rows})


async def _insert_deployments(conn: asyncpg.Connection, ids: Ids, today: date) -> None:
    deps = [(o, d) for o in ORGS for d in o.deployments]
    rows = await conn.fetch(
        SQL["insert_deployments"],
        [ids.org[o.slug] for o, _ in deps], [d.key for _, d in deps], [d.name for _, d in deps],
        [",".join(d.channels) for _, d in deps], [d.vendor for _, d in deps], [d.status for _, d in deps],
        [at(today, d.launched, 6) for _, d in deps], [d.integrations for _, d in deps],
        [ids.person[o.slug, d.escalation] if d.escalation else None for o, d in deps],
    )
    slug = {v: k for k, v in ids.org.items()}
    ids.dep.update({(slug[r["org_id"]], r["key"]): r["id"] for r in rows})


async def _insert_workflows(conn: asyncpg.Connection, ids: Ids) -> None:
    flows = [(o, d, w) for o in ORGS for d in o.deployments for w in d.workflows]
    rows = await conn.fetch(
        SQL["insert_workflows"],
        [ids.org[o.slug] for o, _, _ in flows], [ids.dep[o.slug, d.key] for o, d, _ in flows],
        [ids.topic[o.slug, w.topic] for o, _, w in flows], [workflow_name(o, w) for o, _, w in flows],
        [",".join(w.channels) for _, _, w in flows],
    )
    dep_key = {v: k for k, v in ids.dep.items()}
    ids.workflow.update({(*dep_key[r["deployment_id"]], r["name"]): r["id"] for r in rows})
