"""metrics.health against its previous definition, frozen in health_reference.sql: identical rows.

The set-based metrics.health (sql/views/030_ownership_health.sql) must answer exactly what the
per-deployment version answered: same columns, same values, same reasons in the same order.
A seeded random organization set exercises every rule (policies, owners who left or came back,
gaps, reviews by owners and others, acknowledged and open escalations, ARR over a year of
blocks), compared under several clocks, as the owner and as the service for each organization,
for all deployments at once and one at a time. The demo data set is compared the same way.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from service.db.pool import connect
from service.demo.load import load_demo

from ..factory import UTC, at

REFERENCE = (Path(__file__).parent / "health_reference.sql").read_text()
SEED = 20261201

# Both directions, duplicates counted: any row of one side missing from the other.
DIFFERENCES = """
    select 'new' as side, n.* from (select * from metrics.health($1::bigint[])
                                    except all select * from internals.health_reference($1::bigint[])) n
    union all
    select 'old', o.* from (select * from internals.health_reference($1::bigint[])
                            except all select * from metrics.health($1::bigint[])) o
"""
CODES = """
    select coalesce(array_agg(distinct r->>'code'), '{}') from internals.health_reference($1::bigint[]) h,
           jsonb_array_elements(h.reasons) r
"""
EVERY_CODE = {"NO_OWNER", "OWNER_INACTIVE", "NO_RECENT_UPDATE", "NO_RECENT_REVIEW", "OWNER_OUTSIDE_CX",
              "OWNER_LOW_FTE", "REVIEW_OVERDUE", "ARR_DECAYED_SINCE_OWNER_LEFT", "ARR_DECLINING",
              "ESCALATION_UNACKNOWLEDGED"}
# Clocks: mid-day, on a midnight, within the history, before some launches, after the data ends.
CLOCKS = [at("2026-03-30", 12), at("2026-03-30", 0), at("2026-01-17", 7.25), at("2025-08-03", 23.99),
          at("2025-02-01", 12), at("2026-06-20", 5)]


async def install_reference(conn) -> None:
    await conn.execute(REFERENCE)
    await conn.execute("grant select on internals.reviews_reference to steward_app, bi_reader;"
                       " grant execute on function internals.health_reference(bigint[]) to steward_app, bi_reader")


async def differences(conn, ids: list[int]) -> list:
    return await conn.fetch(DIFFERENCES, ids)


async def random_world(conn, rng: random.Random) -> dict[int, list[int]]:
    """Three organizations (one per reviewers_counted), ten deployments each, with random histories."""
    world: dict[int, list[int]] = {}
    start = date(2024, 9, 1)
    for n, counted in enumerate(("OWNER", "OWNER_OR_CX", "ANYONE")):
        org = await conn.fetchval("insert into steward.organizations (slug, name) values ($1, $1) returning id",
                                  f"diff-{n}-{rng.randrange(10**6)}")
        await conn.execute(
            "update steward.health_policies set reviewers_counted = $2, stale_update_days = $3,"
            " stale_review_days = $4, review_due_days = $5, min_owner_fte = $6, arr_drop_points = $7,"
            " arr_decay_points = $8, escalation_after_days = $9 where org_id = $1",
            org, counted, rng.choice([7, 14, 30]), rng.choice([10, 14, 45]), rng.choice([5, 7, 21]),
            rng.choice([0.3, 0.5]), rng.choice([0, 3, 5]), rng.choice([0, 5, 10]), rng.choice([1, 3, 10]))
        people = [await conn.fetchval(
            "insert into steward.persons (org_id, name, email, function, fte_on_ai) values ($1, $2, $3, $4, $5)"
            " returning id", org, f"Person {org}-{i}", f"p{org}-{i}@example.com",
            rng.choice(["CX", "CX", "CX", "ENGINEERING", "VENDOR", "IT"]), rng.choice([0.2, 0.5, 0.8, 1.0]))
            for i in range(12)]
        topics = [await conn.fetchval(
            "insert into steward.topics (org_id, key, name, escalation_cost) values ($1, $2, $2, $3) returning id",
            org, f"t{i}", rng.choice([2.5, 5, 12])) for i in range(2)]
        deployments = []
        conversations: list[tuple] = []
        for i in range(10):
            launched = at(start + timedelta(days=rng.randrange(0, 420)), rng.choice([0, 9.5, 16]))
            dep = await conn.fetchval(
                "insert into steward.deployments (org_id, key, name, channels, status, launched_at)"
                " values ($1, $2, $2, '{CHAT}', 'ACTIVE', $3) returning id", org, f"d{i}", launched)
            deployments.append(dep)
            # the first topic is covered from launch, with a pause now and then (blocks with nothing addressable)
            pause = launched + timedelta(days=rng.randrange(30, 400)) if rng.random() < 0.5 else None
            await conn.execute(
                "with w as (insert into steward.workflows (org_id, deployment_id, topic_id, name, channels)"
                " values ($1, $2, $3, 'wf', '{CHAT}') returning id)"
                " insert into steward.workflow_periods (org_id, workflow_id, active)"
                " select $1, id, p from w, unnest(case when $5::timestamptz is null then array[tstzrange($4, null)]"
                "  else array[tstzrange($4, $5), tstzrange($5 + $6::interval, null)] end) p",
                org, dep, topics[0], launched, pause, timedelta(days=rng.randrange(30, 90)))
            # ownership: periods with or without gaps between them, from before, at or after launch
            t = launched + timedelta(days=rng.choice([-5, 0, 0, 3, 40]), hours=rng.random() * 24)
            owners = []
            while t < at("2026-07-01") and len(owners) < 5:
                person = rng.choice(people[:6] + owners[-1:] * 2 if owners else people[:6])
                length = timedelta(days=rng.randrange(10, 300), hours=rng.random() * 24)
                end = None if rng.random() < 0.25 else t + length
                await conn.execute(
                    "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid, reason)"
                    " values ($1, $2, $3, tstzrange($4, $5, '[)'), 'test')", org, dep, person, t, end)
                owners.append(person)
                if end is None:
                    break
                t = end + (timedelta(0) if rng.random() < 0.4 else timedelta(days=rng.randrange(0, 80),
                                                                               hours=rng.random() * 24))
            for _ in range(rng.randrange(0, 25)):
                await conn.execute(
                    "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind, summary,"
                    " occurred_at) values ($1, $2, $3, 'WORKFLOW_CHANGE', 'change', $4)",
                    org, dep, rng.choice(people), launched + timedelta(hours=rng.randrange(0, 24 * 600)))
            for _ in range(rng.randrange(0, 30)):
                reviewer = rng.choice(owners * 3 + people) if owners else rng.choice(people)
                await conn.execute(
                    "insert into steward.performance_reviews (org_id, deployment_id, reviewer_id, reviewed_at)"
                    " values ($1, $2, $3, $4)",
                    org, dep, reviewer, launched + timedelta(hours=rng.randrange(0, 24 * 600)))
            for _ in range(rng.randrange(0, 5)):
                before = rng.choice([None, "HEALTHY", "AT_RISK", "UNOWNED"])
                after = rng.choice(["UNOWNED", "UNOWNED", "AT_RISK", "HEALTHY"])
                reasons = sorted(rng.sample(["NO_OWNER", "ARR_DECAYED_SINCE_OWNER_LEFT", "ARR_DECLINING"],
                                            rng.randrange(0, 3)))
                occurred = launched + timedelta(hours=rng.randrange(0, 24 * 600))
                event = await conn.fetchval(
                    "insert into steward.health_events (org_id, deployment_id, occurred_at, status_before,"
                    " status_after, reasons_before, reasons_after, cause) values ($1, $2, $3, $4, $5, $6, $7,"
                    " 'TIME') returning id", org, dep, occurred, before, after,
                    None if before is None else rng.sample(["NO_OWNER", "ARR_DECLINING"], rng.randrange(0, 2)),
                    reasons)
                if rng.random() < 0.3:
                    await conn.execute(
                        "insert into steward.health_event_acknowledgements (org_id, event_id, acknowledged_at,"
                        " token_name) values ($1, $2, $3, 'test')",
                        org, event, occurred + timedelta(hours=rng.randrange(1, 24 * 20)))
            # a year and more of conversations whose resolution rate drifts block by block
            day = launched.date() - timedelta(days=3)
            rate = rng.random()
            quiet_until = day
            while day < date(2026, 7, 1):
                if rng.random() < 0.04:
                    rate = rng.random()
                if rng.random() < 0.01:
                    quiet_until = day + timedelta(days=rng.randrange(20, 70))  # no conversations for a while
                for _ in range(rng.choice([0, 1, 2, 3]) if day >= quiet_until else 0):
                    started = at(day, rng.random() * 24)
                    outcome = "AI_RESOLVED" if rng.random() < rate else rng.choice(["ESCALATED", "ABANDONED"])
                    reopened = started + timedelta(hours=2) if outcome == "AI_RESOLVED" and rng.random() < 0.1 \
                        else None
                    conversations.append((dep, rng.choice(topics), started, outcome,
                                          started + timedelta(minutes=5) if outcome == "AI_RESOLVED" else None,
                                          reopened))
                day += timedelta(days=1)
        # some leave (after their periods were written: nobody inactive can be assigned)
        for person in people:
            if rng.random() < 0.3:
                await conn.execute("update steward.persons set active = false, deactivated_at = $2 where id = $1",
                                   person, at(start + timedelta(days=rng.randrange(60, 640)), rng.random() * 24))
        # one statement per organization: the rollup trigger refreshes once
        deps, tops, starts, outcomes, resolved, reopened = map(list, zip(*conversations, strict=True))
        await conn.execute(
            "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
            " ai_engaged, outcome, resolved_at, reopened_at)"
            " select $1::bigint, 'c-' || $1::bigint || '-' || n, d, t, 'CHAT', s, true, o, r, ro"
            " from unnest($2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::timestamptz[],"
            "             $7::timestamptz[]) with ordinality as c(d, t, s, o, r, ro, n)",
            org, deps, tops, starts, outcomes, resolved, reopened)
        world[org] = deployments
    return world


async def test_the_set_based_health_answers_exactly_what_the_reference_answered(conn):
    await install_reference(conn)
    world = await random_world(conn, random.Random(SEED))
    every = [d for deps in world.values() for d in deps]
    seen: set[str] = set()
    compared = 0
    for clock in CLOCKS:
        await conn.execute("select set_config('steward.now', $1, true)", clock.isoformat())
        assert await differences(conn, every) == [], clock
        for dep in every:
            assert await differences(conn, [dep]) == [], (clock, dep)
        seen |= set(await conn.fetchval(CODES, every))
        compared += await conn.fetchval("select count(*) from metrics.health($1::bigint[])", every)
    # the data set reaches every rule, and every deployment was compared under every clock
    assert seen == EVERY_CODE
    assert compared == len(every) * len(CLOCKS)
    # as the service: row-level security on, one organization at a time, ids of all of them asked for
    for org in world:
        await conn.execute("select set_config('role', 'steward_app', true), set_config('app.org_id', $1, true)",
                           str(org))
        for clock in CLOCKS[:3]:
            await conn.execute("select set_config('steward.now', $1, true)", clock.isoformat())
            assert await differences(conn, every) == [], (org, clock)
            assert await conn.fetchval("select count(*) from metrics.health($1::bigint[])", every) == 10
        await conn.execute("reset role")


@pytest.mark.slow
async def test_the_demo_health_is_unchanged(module_db_url):
    await load_demo(module_db_url)
    conn = await connect(module_db_url)
    try:
        async with conn.transaction():
            await install_reference(conn)
            every = await conn.fetchval("select array_agg(id order by id) from steward.deployments")
            today = await conn.fetchval("select steward.clock()")
            for clock in (today, today - timedelta(days=9, hours=5), today - timedelta(days=60),
                          today + timedelta(days=30), datetime.combine(today.date(), datetime.min.time(), UTC)):
                await conn.execute("select set_config('steward.now', $1, true)", clock.isoformat())
                assert await differences(conn, every) == [], clock
                assert await conn.fetchval("select count(*) from metrics.health($1::bigint[])", every) == len(every)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()


class _Rollback(Exception):
    pass
