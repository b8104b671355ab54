"""The health event log in SQL: what record_health_changes appends, the escalation rule, append-only, NOTIFY."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

from service.db.pool import connect

from ..factory import Factory, at

NOW = at("2026-03-30", 12)
DAY = timedelta(days=1)
S = timedelta(seconds=1)
RECORD = "select id from internals.record_health_changes($1::bigint[], $2, $3, $4::bigint[]) as r(id)"


async def record(factory, *deployments: int, cause: str = "WRITE", request_id: str | None = None,
                 changes: list | None = None) -> list[int]:
    return [r["id"] for r in await factory.conn.fetch(RECORD, list(deployments), cause, request_id, changes)]


async def events(factory, deployment: int) -> list:
    return await factory.conn.fetch("select * from steward.health_events where deployment_id = $1 order by id",
                                    deployment)


async def healthy(factory, org=None):
    """A healthy deployment at NOW: owned by a CX person at 0.8 FTE, updated and reviewed yesterday."""
    org = org or await factory.org()
    dep = await factory.deployment(org)
    person = await factory.person(org)
    assignment = await factory.assign(org, dep, person, at("2026-01-01", 0))
    await factory.update(org, dep, person, NOW - DAY)
    await factory.review(org, dep, person, NOW - DAY)
    await factory.set_now(NOW)
    return org, dep, person, assignment


async def test_the_first_evaluation_is_a_baseline_and_an_unchanged_health_records_nothing(factory):
    org, dep, person, _ = await healthy(factory)

    first = await record(factory, dep)
    again = await record(factory, dep, dep)

    assert len(first) == 1 and again == []
    (e,) = await events(factory, dep)
    assert (e["status_before"], e["reasons_before"], e["status_after"], e["reasons_after"]) == \
        (None, None, "HEALTHY", [])
    assert (e["occurred_at"], e["cause"], e["owner_person_id"], e["org_id"]) == (NOW, "WRITE", person, org)


async def test_a_change_of_the_reason_set_is_an_event_even_when_the_status_stays(factory):
    org, dep, person, _ = await healthy(factory)
    await record(factory, dep)
    await factory.conn.execute("update steward.persons set fte_on_ai = 0.2, function = 'IT' where id = $1", person)

    await record(factory, dep, request_id="req-1")
    await factory.conn.execute("update steward.persons set fte_on_ai = 0.3 where id = $1", person)  # same codes
    assert await record(factory, dep) == []

    e = (await events(factory, dep))[-1]
    assert (e["status_before"], e["status_after"]) == ("HEALTHY", "AT_RISK")
    assert e["reasons_after"] == ["OWNER_LOW_FTE", "OWNER_OUTSIDE_CX"]  # sorted: compared as a set
    assert (e["reasons_before"], e["request_id"]) == ([], "req-1")


async def test_time_passing_is_recorded_once_with_cause_time(factory):
    org, dep, _, _ = await healthy(factory)
    await record(factory, dep)
    await factory.set_now(NOW + 14 * DAY)  # yesterday's update and review are now 15 days old

    assert len(await record(factory, dep, cause="TIME", request_id="ignored")) == 1
    assert await record(factory, dep, cause="TIME") == []

    e = (await events(factory, dep))[-1]
    assert (e["status_before"], e["status_after"], e["cause"], e["request_id"]) == \
        ("HEALTHY", "STALE", "TIME", None)
    assert e["reasons_after"] == ["NO_RECENT_REVIEW", "NO_RECENT_UPDATE", "REVIEW_OVERDUE"]
    assert e["occurred_at"] == NOW + 14 * DAY


async def test_the_event_names_the_ownership_change_and_the_escalation_contact(factory):
    org, dep, person, assignment = await healthy(factory)
    lead = await factory.person(org, name="CX lead")
    await factory.conn.execute("update steward.deployments set escalation_person_id = $2 where id = $1", dep, lead)
    await record(factory, dep)
    await factory.end_assignment(assignment, NOW - S)
    change = await factory.conn.fetchval(
        "insert into steward.ownership_changes (org_id, deployment_id, action, previous_person_id, effective_at,"
        " token_name) values ($1, $2, 'UNASSIGNED', $3, $4, 't') returning id", org, dep, person, NOW - S)

    await record(factory, dep, changes=[change])

    e = (await events(factory, dep))[-1]
    assert (e["status_after"], e["ownership_change_id"], e["owner_person_id"], e["escalation_person_id"]) == \
        ("UNOWNED", change, None, lead)


async def test_an_unacknowledged_unowned_event_escalates_after_the_policy_limit(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    await factory.set_now(NOW)
    (baseline,) = await record(factory, dep, cause="TIME")  # UNOWNED from the start

    await factory.set_now(NOW + 3 * DAY - S)
    assert "ESCALATION_UNACKNOWLEDGED" not in (await factory.health(dep))["codes"]
    await factory.set_now(NOW + 3 * DAY)
    h = await factory.health(dep)
    assert "ESCALATION_UNACKNOWLEDGED" in h["codes"] and h["status"] == "UNOWNED"
    assert "has not been acknowledged for 3 days (limit 3)" in h["reasons"]
    (escalated,) = await record(factory, dep, cause="TIME")  # the evaluator records it as an event

    await factory.conn.execute("insert into steward.health_event_acknowledgements (org_id, event_id, token_name,"
                               " note) values ($1, $2, 'cx-bot', 'on it')", org, baseline)
    assert "ESCALATION_UNACKNOWLEDGED" not in (await factory.health(dep))["codes"]
    await factory.policy(org, escalation_after_days=1)
    assert "ESCALATION_UNACKNOWLEDGED" not in (await factory.health(dep))["codes"]  # the later event brought nothing on
    assert escalated > baseline


async def test_an_owner_named_in_time_ends_the_escalation_path(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    person = await factory.person(org)
    await factory.set_now(NOW)
    await record(factory, dep)
    await factory.assign(org, dep, person, NOW + DAY)
    await factory.set_now(NOW + DAY)
    await record(factory, dep)  # owned now: STALE, not UNOWNED

    await factory.set_now(NOW + 10 * DAY)

    assert "ESCALATION_UNACKNOWLEDGED" not in (await factory.health(dep))["codes"]


async def test_arr_decay_events_escalate_by_their_code(factory):
    org, dep, person, _ = await healthy(factory)
    await factory.conn.execute(
        "insert into steward.health_events (org_id, deployment_id, occurred_at, status_before, status_after,"
        " reasons_before, reasons_after, cause) values ($1, $2, $3, 'HEALTHY', 'AT_RISK', '{}',"
        " '{ARR_DECAYED_SINCE_OWNER_LEFT}', 'TIME')", org, dep, NOW - 4 * DAY)

    assert "ESCALATION_UNACKNOWLEDGED" in (await factory.health(dep))["codes"]


async def test_the_service_role_may_append_and_never_change_or_delete(factory):
    org, dep, _, _ = await healthy(factory)
    (event,) = await record(factory, dep)
    await factory.conn.execute("insert into steward.health_event_acknowledgements (org_id, event_id, token_name)"
                               " values ($1, $2, 't')", org, event)
    await factory.as_org(org)

    for statement in ("update steward.health_events set status_after = 'HEALTHY'",
                      "delete from steward.health_events",
                      "update steward.health_event_acknowledgements set note = 'rewritten'",
                      "delete from steward.health_event_acknowledgements",
                      "truncate steward.health_events cascade"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with factory.conn.transaction():  # a savepoint: the refusal leaves the test's transaction usable
                await factory.conn.execute(statement)
    assert len(await record(factory, dep, cause="TIME")) == 0  # inserting (through the writer) is allowed


@pytest.mark.parametrize("statement", ["update steward.health_events set status_after = 'HEALTHY'",
                                       "delete from steward.health_events"])
async def test_even_the_owner_cannot_rewrite_the_log(factory, statement):
    org, dep, _, _ = await healthy(factory)
    await record(factory, dep)

    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await factory.conn.execute(statement)


async def test_an_acknowledgement_is_given_once(factory):
    org, dep, _, _ = await healthy(factory)
    (event,) = await record(factory, dep)
    ack = "insert into steward.health_event_acknowledgements (org_id, event_id, token_name) values ($1, $2, 't')"
    await factory.conn.execute(ack, org, event)

    with pytest.raises(asyncpg.UniqueViolationError):
        await factory.conn.execute(ack, org, event)


async def test_notifications_are_sent_on_commit_only_and_name_rows_not_content(module_db_url):
    received: list[dict] = []
    listener = await connect(module_db_url)
    writer = await connect(module_db_url)
    try:
        await listener.add_listener("steward_events", lambda *args: received.append(json.loads(args[3])))
        f = Factory(writer)
        org = await f.org()
        dep = await f.deployment(org)
        async with writer.transaction():  # the evaluator's baseline: silent
            await writer.fetch(RECORD, [dep], "TIME", None, None)
        person = await f.person(org)
        tx = writer.transaction()
        await tx.start()
        await f.assign(org, dep, person, NOW)
        await writer.fetch(RECORD, [dep], "WRITE", None, None)
        await tx.rollback()  # a rolled-back event is never announced
        async with writer.transaction():
            change = await writer.fetchval(
                "insert into steward.ownership_changes (org_id, deployment_id, action, new_person_id,"
                " started_assignment_id, effective_at, token_name) values ($1, $2, 'ASSIGNED', $3, $4, now(), 't')"
                " returning id", org, dep, person, await f.assign(org, dep, person, at("2026-01-01", 0)))
            (event,) = [r["id"] for r in await writer.fetch(RECORD, [dep], "WRITE", None, [change])]
        for _ in range(100):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
    finally:
        await listener.close()
        await writer.close()

    assert received == [{"org_id": org, "id": change, "kind": "OWNER_CHANGED"},
                        {"org_id": org, "id": event, "kind": "HEALTH_CHANGED"}]
