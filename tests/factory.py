"""Hand-built rows for tests: one factory, keyword arguments for what matters."""
from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timedelta, timezone

import asyncpg

UTC = timezone.utc
_seq = itertools.count(1)


def at(day: date | str, hour: float = 12) -> datetime:
    """A UTC instant on `day` (ISO string or date), `hour` hours after midnight."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)


async def wait_until_blocked(observer, pid: int, timeout: float = 5.0) -> bool:
    """Poll pg_stat_activity until backend `pid` waits on a lock."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await observer.fetchval("select wait_event_type = 'Lock' from pg_stat_activity where pid = $1", pid):
            return True
        await asyncio.sleep(0.01)
    return False


class Factory:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def set_now(self, instant: datetime) -> None:
        """Pin steward.clock() for this transaction."""
        await self.conn.execute("select set_config('steward.now', $1, true)", instant.isoformat())

    async def org(self, slug: str | None = None, *, reopen_hours: int | None = None) -> int:
        n = next(_seq)
        org_id = await self.conn.fetchval(
            "insert into steward.organizations (slug, name) values ($1, $2) returning id",
            slug or f"org-{n}", f"Org {n}",
        )
        if reopen_hours is not None:
            await self.conn.execute(
                "update steward.health_policies set reopen_window = make_interval(hours => $2) where org_id = $1",
                org_id, reopen_hours,
            )
        return org_id

    async def person(self, org_id: int, *, function: str = "CX", fte: float = 0.8, active: bool = True,
                     name: str | None = None) -> int:
        n = next(_seq)
        return await self.conn.fetchval(
            "insert into steward.persons (org_id, name, email, function, fte_on_ai, active, deactivated_at)"
            " values ($1, $2, $3, $4, $5, $6, case when $6 then null else now() end) returning id",
            org_id, name or f"Person {n}", f"p{n}@example.com", function, fte, active,
        )

    async def deployment(self, org_id: int, *, key: str | None = None, channels=("CHAT",),
                         launched_at: datetime | None = None, status: str = "ACTIVE") -> int:
        n = next(_seq)
        return await self.conn.fetchval(
            "insert into steward.deployments (org_id, key, name, channels, status, launched_at)"
            " values ($1, $2, $3, $4, $5, $6) returning id",
            org_id, key or f"dep-{n}", f"Deployment {n}", list(channels), status,
            launched_at or datetime(2020, 1, 1, tzinfo=UTC),
        )

    async def assign(self, org_id: int, deployment_id: int, person_id: int, start: datetime,
                     end: datetime | None = None, *, reason: str = "test") -> int:
        return await self.conn.fetchval(
            "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid, reason)"
            " values ($1, $2, $3, tstzrange($4, $5, '[)'), $6) returning id",
            org_id, deployment_id, person_id, start, end, reason,
        )

    async def topic(self, org_id: int, *, key: str | None = None, escalation_cost: float = 5.0) -> int:
        n = next(_seq)
        return await self.conn.fetchval(
            "insert into steward.topics (org_id, key, name, escalation_cost) values ($1, $2, $3, $4) returning id",
            org_id, key or f"topic-{n}", f"Topic {n}", escalation_cost,
        )

    async def workflow(self, org_id: int, deployment_id: int, topic_id: int, *, channels=("CHAT",),
                       start: datetime = datetime(2020, 1, 1, tzinfo=UTC), end: datetime | None = None) -> int:
        workflow_id = await self.conn.fetchval(
            "insert into steward.workflows (org_id, deployment_id, topic_id, name, channels)"
            " values ($1, $2, $3, 'wf', $4) returning id",
            org_id, deployment_id, topic_id, list(channels),
        )
        await self.conn.execute(
            "insert into steward.workflow_periods (org_id, workflow_id, active) values ($1, $2, tstzrange($3, $4, '[)'))",
            org_id, workflow_id, start, end,
        )
        return workflow_id

    async def conversation(self, org_id: int, deployment_id: int, topic_id: int, started_at: datetime, *,
                           outcome: str = "AI_RESOLVED", channel: str = "CHAT", ai_engaged: bool = True,
                           resolved_after: timedelta | None = timedelta(minutes=10),
                           reopened_after: timedelta | None = None, external_id: str | None = None) -> int:
        resolved_at = started_at + resolved_after if resolved_after is not None and outcome == "AI_RESOLVED" else None
        reopened_at = (resolved_at or started_at) + reopened_after if reopened_after is not None else None
        return await self.conn.fetchval(
            "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
            " ai_engaged, outcome, resolved_at, reopened_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " returning id",
            org_id, external_id or f"c-{next(_seq)}", deployment_id, topic_id, channel, started_at,
            ai_engaged, outcome, resolved_at, reopened_at,
        )

    async def update(self, org_id: int, deployment_id: int, author_id: int, occurred_at: datetime, *,
                     kind: str = "WORKFLOW_CHANGE", workflow_id: int | None = None) -> int:
        return await self.conn.fetchval(
            "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind, summary, occurred_at,"
            " workflow_id) values ($1, $2, $3, $4, 'change', $5, $6) returning id",
            org_id, deployment_id, author_id, kind, occurred_at, workflow_id,
        )

    async def review(self, org_id: int, deployment_id: int, reviewer_id: int, reviewed_at: datetime, *,
                     brief_week: date | None = None) -> int:
        return await self.conn.fetchval(
            "insert into steward.performance_reviews (org_id, deployment_id, reviewer_id, reviewed_at, brief_week)"
            " values ($1, $2, $3, $4, $5) returning id",
            org_id, deployment_id, reviewer_id, reviewed_at, brief_week,
        )

    async def health_event(self, org_id: int, deployment_id: int, occurred_at: datetime, before: str | None,
                           after: str, reasons_before: list[str] | None, reasons_after: list[str], *,
                           cause: str = "WRITE", acknowledged_at: datetime | None = None) -> int:
        """A row of the health event log as the writer would record it, acknowledged at `acknowledged_at`."""
        event_id = await self.conn.fetchval(
            "insert into steward.health_events (org_id, deployment_id, occurred_at, status_before, status_after,"
            " reasons_before, reasons_after, cause) values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
            org_id, deployment_id, occurred_at, before, after, reasons_before, reasons_after, cause,
        )
        if acknowledged_at is not None:
            await self.conn.execute(
                "insert into steward.health_event_acknowledgements (org_id, event_id, acknowledged_at, token_name)"
                " values ($1, $2, $3, 'test')", org_id, event_id, acknowledged_at,
            )
        return event_id

    async def window(self, deployment_id: int, start: str | date, end: str | date) -> asyncpg.Record:
        """metrics.deployment_window for one deployment."""
        return await self.conn.fetchrow(
            "select * from metrics.deployment_window(array[$1::bigint], $2::date, $3::date)",
            deployment_id, date.fromisoformat(start) if isinstance(start, str) else start,
            date.fromisoformat(end) if isinstance(end, str) else end,
        )

    # --- helpers for the SQL-layer suite -------------------------------------------------

    async def as_org(self, org_id: int | None) -> None:
        """Act as the service for `org_id` for the rest of this transaction (role steward_app and app.org_id:
        only the service takes its organization from app.org_id); reads only from here on."""
        await self.conn.execute("select set_config('role', 'steward_app', true), set_config('app.org_id', $1, true)",
                                "" if org_id is None else str(org_id))

    async def policy(self, org_id: int, **fields) -> None:
        """Change the organization's health policy; `reopen_hours=` sets the reopen window."""
        sets = [f"{name} = ${i}" if name != "reopen_hours" else f"reopen_window = make_interval(hours => ${i})"
                for i, name in enumerate(fields, start=2)]
        await self.conn.execute(
            f"update steward.health_policies set {', '.join(sets)} where org_id = $1", org_id, *fields.values()
        )

    async def deactivate(self, person_id: int) -> None:
        """The person left: deactivated, their assignments left as they are."""
        await self.conn.execute(
            "update steward.persons set active = false, deactivated_at = now() where id = $1", person_id
        )

    async def end_assignment(self, assignment_id: int, end: datetime) -> None:
        await self.conn.execute(
            "update steward.ownership_assignments set valid = tstzrange(lower(valid), $2, '[)') where id = $1",
            assignment_id, end,
        )

    async def conversations(self, org_id: int, deployment_id: int, topic_id: int, started_at: datetime, n: int,
                            **kwargs) -> None:
        """`n` identical conversations (a minute apart) with the options of `conversation`."""
        for i in range(n):
            await self.conversation(org_id, deployment_id, topic_id, started_at + timedelta(minutes=i), **kwargs)

    async def health(self, deployment_id: int) -> asyncpg.Record:
        """metrics.deployment_health for one deployment; `codes` lists the reason codes in order."""
        row = await self.conn.fetchrow(
            "select h.*, array(select r->>'code' from jsonb_array_elements(h.reasons) r) as codes"
            " from metrics.deployment_health h where h.deployment_id = $1",
            deployment_id,
        )
        return row

    async def rollup_mismatches(self) -> list[asyncpg.Record]:
        """Rows where the rollups differ from a fresh aggregate of the facts (both ways, both tables)."""
        return await self.conn.fetch(
            """
            with fresh as (
                select org_id, deployment_id, day, topic_id,
                       count(*)::integer as conversations,
                       (count(*) filter (where addressable))::integer as addressable,
                       (count(*) filter (where ai_engaged))::integer as ai_engaged,
                       (count(*) filter (where ai_outcome))::integer as ai_outcomes,
                       (count(*) filter (where addressable and ai_outcome and not reopened))::integer as ai_resolved,
                       (count(*) filter (where ai_outcome and reopened))::integer as reopened,
                       (count(*) filter (where addressable and outcome = 'ESCALATED'))::integer as escalated,
                       (count(*) filter (where not addressable and outcome = 'ESCALATED'))::integer as unaddr_esc
                from internals.conversation_facts
                group by org_id, deployment_id, day, topic_id
            ),
            fresh_daily as (
                select org_id, deployment_id, day, null::bigint as topic_id,
                       sum(conversations)::integer, sum(addressable)::integer, sum(ai_engaged)::integer,
                       sum(ai_outcomes)::integer, sum(ai_resolved)::integer, sum(reopened)::integer,
                       sum(escalated)::integer, null::integer
                from fresh group by org_id, deployment_id, day
            ),
            stored as (
                select org_id, deployment_id, day, null::bigint, conversations, addressable, ai_engaged,
                       ai_outcomes, ai_resolved, reopened, escalated, null::integer
                from steward.conversation_daily
                union all
                select org_id, deployment_id, day, topic_id, conversations, addressable, ai_engaged, ai_outcomes,
                       ai_resolved, reopened, escalated, unaddressable_escalated
                from steward.conversation_topic_daily
            ),
            expected as (table fresh union all table fresh_daily)
            (select 'missing' as side, * from (table expected except table stored) a)
            union all
            (select 'stale' as side, * from (table stored except table expected) b)
            """
        )
