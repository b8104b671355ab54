"""What the database itself refuses: overlapping owners, rewritten history, cross-org references, bad enums."""
import asyncio
from datetime import timedelta

import asyncpg
import pytest

from service.db.pool import connect

from ..factory import Factory, at, wait_until_blocked


async def refused(conn, error, sql, *args):
    """Run `sql` in a savepoint and return the error it raised (the test transaction stays usable)."""
    with pytest.raises(error) as info:
        async with conn.transaction():
            await conn.execute(sql, *args)
    return info.value


async def refused_call(conn, error, coro_fn):
    with pytest.raises(error) as info:
        async with conn.transaction():
            await coro_fn()
    return info.value


# --- one accountable owner ------------------------------------------------------------------------

@pytest.mark.parametrize(("first", "second"), [
    ((at("2026-03-01", 0), None), (at("2026-04-01", 0), None)),                         # two open periods
    ((at("2026-03-01", 0), at("2026-03-10", 0)), (at("2026-03-05", 0), None)),          # open over closed
    ((at("2026-03-01", 0), at("2026-03-10", 0)), (at("2026-02-01", 0), at("2026-03-02", 0))),  # closed pair
    ((at("2026-03-01", 0), at("2026-03-10", 0)), (at("2026-03-09", 23), at("2026-03-20", 0))),
])
async def test_overlapping_owners_are_refused(factory, first, second):
    org = await factory.org()
    dep = await factory.deployment(org)
    a, b = await factory.person(org), await factory.person(org)
    await factory.assign(org, dep, a, *first)

    error = await refused_call(factory.conn, asyncpg.exceptions.ExclusionViolationError,
                               lambda: factory.assign(org, dep, b, *second))

    assert error.constraint_name == "one_accountable_owner"


async def test_back_to_back_handover_and_other_deployments_are_accepted(factory):
    org = await factory.org()
    dep, other = await factory.deployment(org), await factory.deployment(org)
    a, b = await factory.person(org), await factory.person(org)

    await factory.assign(org, dep, a, at("2026-03-01", 0), at("2026-03-10", 0))
    await factory.assign(org, dep, b, at("2026-03-10", 0))          # starts where the other ends: [) meets [)
    await factory.assign(org, other, b, at("2026-03-01", 0))       # one person may own several deployments

    count = await factory.conn.fetchval("select count(*) from steward.ownership_assignments where org_id = $1", org)
    assert count == 3


async def test_handover_in_one_transaction_closes_and_opens(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    a, b = await factory.person(org), await factory.person(org)
    first = await factory.assign(org, dep, a, at("2026-03-01", 0))

    async with factory.conn.transaction():
        await factory.end_assignment(first, at("2026-03-15", 0))
        await factory.assign(org, dep, b, at("2026-03-15", 0))

    periods = await factory.conn.fetch(
        "select person_id, upper(valid) as ends from steward.ownership_assignments where deployment_id = $1"
        " order by lower(valid)", dep)
    assert [(p["person_id"], p["ends"]) for p in periods] == [(a, at("2026-03-15", 0)), (b, None)]


async def test_two_concurrent_assignments_one_commits_the_other_is_refused(fresh_db_url):
    setup = await connect(fresh_db_url)
    factory = Factory(setup)
    org = await factory.org()
    dep = await factory.deployment(org)
    a, b = await factory.person(org), await factory.person(org)
    first, second = await connect(fresh_db_url), await connect(fresh_db_url)
    try:
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        insert = ("insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
                  " values ($1, $2, $3, tstzrange($4, null))")
        await first.execute(insert, org, dep, a, at("2026-03-01", 0))
        # the second insert waits on the first transaction's uncommitted conflicting row
        racing = asyncio.create_task(second.execute(insert, org, dep, b, at("2026-03-02", 0)))
        waited = await wait_until_blocked(setup, second.get_server_pid())
        await tx1.commit()

        with pytest.raises(asyncpg.exceptions.ExclusionViolationError) as info:
            await racing
        await tx2.rollback()
        owners = await setup.fetch("select person_id from steward.ownership_assignments where deployment_id = $1", dep)
    finally:
        for c in (first, second, setup):
            await c.close()

    assert waited
    assert info.value.constraint_name == "one_accountable_owner"
    assert [r["person_id"] for r in owners] == [a]


async def test_two_concurrent_handovers_of_the_same_period_one_wins(fresh_db_url):
    setup = await connect(fresh_db_url)
    factory = Factory(setup)
    org = await factory.org()
    dep = await factory.deployment(org)
    a, b, c = await factory.person(org), await factory.person(org), await factory.person(org)
    current = await factory.assign(org, dep, a, at("2026-03-01", 0))
    first, second = await connect(fresh_db_url), await connect(fresh_db_url)
    close = "update steward.ownership_assignments set valid = tstzrange(lower(valid), $2) where id = $1"
    open_ = ("insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
             " values ($1, $2, $3, tstzrange($4, null))")
    try:
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        await first.execute(close, current, at("2026-03-10", 0))
        await first.execute(open_, org, dep, b, at("2026-03-10", 0))

        async def second_handover():
            await second.execute(close, current, at("2026-03-11", 0))
            await second.execute(open_, org, dep, c, at("2026-03-11", 0))

        racing = asyncio.create_task(second_handover())
        waited = await wait_until_blocked(setup, second.get_server_pid())
        await tx1.commit()

        # the second handover finds the period already closed once
        with pytest.raises(asyncpg.exceptions.CheckViolationError, match="already closed"):
            await racing
        await tx2.rollback()
        owners = await setup.fetch(
            "select person_id from steward.ownership_assignments where deployment_id = $1 order by lower(valid)", dep)
    finally:
        for conn in (first, second, setup):
            await conn.close()

    assert waited
    assert [r["person_id"] for r in owners] == [a, b]


# --- ownership history is append-only -------------------------------------------------------------

async def test_ownership_history_is_append_only(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    a, b = await factory.person(org), await factory.person(org)
    period = await factory.assign(org, dep, a, at("2026-03-01", 0))
    conn = factory.conn
    CheckViolation = asyncpg.exceptions.CheckViolationError

    changed_person = await refused(conn, CheckViolation,
                                   "update steward.ownership_assignments set person_id = $2 where id = $1", period, b)
    moved_start = await refused(conn, CheckViolation,
                                "update steward.ownership_assignments set valid = tstzrange($2, null) where id = $1",
                                period, at("2026-02-01", 0))
    await refused(conn, CheckViolation,
                  "update steward.ownership_assignments set reason = 'rewritten' where id = $1", period)
    await factory.end_assignment(period, at("2026-03-10", 0))                       # closing once: allowed
    await conn.execute("update steward.ownership_assignments set ended_reason = 'left' where id = $1", period)
    reclosed = await refused(conn, CheckViolation,
                             "update steward.ownership_assignments set valid = tstzrange(lower(valid), $2)"
                             " where id = $1", period, at("2026-03-12", 0))
    reopened = await refused(conn, CheckViolation,
                             "update steward.ownership_assignments set valid = tstzrange(lower(valid), null)"
                             " where id = $1", period)
    deleted = await refused(conn, CheckViolation, "delete from steward.ownership_assignments where id = $1", period)

    assert "append-only" in str(changed_person) and "append-only" in str(moved_start)
    assert "already closed" in str(reclosed) and "already closed" in str(reopened)
    assert "append-only" in str(deleted)
    row = await conn.fetchrow("select valid, ended_reason from steward.ownership_assignments where id = $1", period)
    assert (row["valid"].upper, row["ended_reason"]) == (at("2026-03-10", 0), "left")


async def test_periods_must_be_half_open_and_not_empty(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    a = await factory.person(org)
    insert = ("insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
              " values ($1, $2, $3, $4::text::tstzrange)")

    for bad in ("[2026-03-01,2026-03-01)", "(2026-03-01,2026-03-05)", "[2026-03-01,2026-03-05]", "(,2026-03-05)"):
        await refused(factory.conn, asyncpg.exceptions.CheckViolationError, insert, org, dep, a, bad)


async def test_an_organization_is_deleted_with_its_history_only_under_purge(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    await factory.conversation(org, dep, topic, at("2026-03-03"))
    await factory.assign(org, dep, await factory.person(org), at("2026-03-01", 0))

    await refused(factory.conn, asyncpg.exceptions.CheckViolationError,
                  "delete from steward.organizations where id = $1", org)
    await factory.conn.execute("select set_config('steward.purge', 'on', true)")
    await factory.conn.execute("delete from steward.organizations where id = $1", org)

    left = await factory.conn.fetchval(
        "select (select count(*) from steward.ownership_assignments where org_id = $1)"
        " + (select count(*) from steward.conversation_daily where org_id = $1)"
        " + (select count(*) from steward.health_policies where org_id = $1)", org)
    assert left == 0


# --- active owners --------------------------------------------------------------------------------

async def test_an_inactive_person_cannot_get_an_open_period_but_history_can_be_recorded(factory):
    org = await factory.org()
    dep, other = await factory.deployment(org), await factory.deployment(org)
    gone = await factory.person(org, active=False)

    error = await refused_call(factory.conn, asyncpg.exceptions.CheckViolationError,
                               lambda: factory.assign(org, dep, gone, at("2026-03-01", 0)))
    await factory.assign(org, other, gone, at("2025-01-01", 0), at("2025-06-01", 0))

    assert "is not active" in str(error)


async def test_a_person_is_active_exactly_when_not_deactivated(factory):
    org = await factory.org()
    person = await factory.person(org)

    await refused(factory.conn, asyncpg.exceptions.CheckViolationError,
                  "update steward.persons set active = false where id = $1", person)
    await refused(factory.conn, asyncpg.exceptions.CheckViolationError,
                  "update steward.persons set deactivated_at = now() where id = $1", person)


# --- tenancy in the keys --------------------------------------------------------------------------

async def test_cross_organization_references_are_impossible(factory):
    mine, theirs = await factory.org(), await factory.org()
    dep = await factory.deployment(mine)
    their_dep = await factory.deployment(theirs)
    their_person = await factory.person(theirs)
    my_person = await factory.person(mine)
    their_topic = await factory.topic(theirs)
    my_topic = await factory.topic(mine)
    their_workflow = await factory.workflow(theirs, their_dep, their_topic)
    FK = asyncpg.exceptions.ForeignKeyViolationError
    conn = factory.conn
    day = at("2026-03-03")

    # (closed periods: an open one is refused earlier, as its owner is no active person of `mine`)
    await refused_call(conn, FK, lambda: factory.assign(mine, dep, their_person, day, day + timedelta(days=1)))
    await refused_call(conn, FK, lambda: factory.assign(mine, their_dep, my_person, day, day + timedelta(days=1)))
    await refused_call(conn, FK, lambda: factory.conversation(mine, dep, their_topic, day))
    await refused_call(conn, FK, lambda: factory.conversation(mine, their_dep, my_topic, day))
    await refused_call(conn, FK, lambda: factory.workflow(mine, dep, their_topic))
    await refused_call(conn, FK, lambda: factory.update(mine, dep, their_person, day))
    await refused_call(conn, FK, lambda: factory.review(mine, dep, their_person, day))
    await refused(conn, FK, "insert into steward.workflow_periods (org_id, workflow_id, active)"
                            " values ($1, $2, tstzrange(now(), null))", mine, their_workflow)
    await refused(conn, FK, "insert into steward.workflow_updates (org_id, deployment_id, author_id, workflow_id,"
                            " kind, summary, occurred_at) values ($1, $2, $3, $4, 'WORKFLOW_CHANGE', 'x', now())",
                  mine, dep, my_person, their_workflow)
    # moving a row to another org keeps its references, which then point across: refused as well
    assignment = await factory.assign(mine, dep, my_person, day)
    await factory.conversation(mine, dep, my_topic, day)
    await refused(conn, FK, "update steward.conversations set org_id = $2 where org_id = $1", mine, theirs)
    await refused(conn, asyncpg.exceptions.CheckViolationError,
                  "update steward.ownership_assignments set org_id = $2 where id = $1", assignment, theirs)


# --- enumerations and ranges ----------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "update steward.persons set function = 'SALES' where org_id = $1",
    "update steward.persons set fte_on_ai = 1.5 where org_id = $1",
    "update steward.persons set email = 'not-an-email' where org_id = $1",
    "update steward.deployments set status = 'DELETED' where org_id = $1",
    "update steward.deployments set channels = '{CHAT,FAX}' where org_id = $1",
    "update steward.deployments set channels = '{}' where org_id = $1",
    "update steward.deployments set key = 'Has Spaces' where org_id = $1",
    "update steward.deployments set integrations = -1 where org_id = $1",
    "update steward.workflows set channels = '{PIGEON}' where org_id = $1",
    "update steward.topics set escalation_cost = -1 where org_id = $1",
    "update steward.conversations set outcome = 'SOLVED' where org_id = $1",
    "update steward.conversations set channel = 'FAX' where org_id = $1",
    "update steward.conversations set resolved_at = started_at - interval '1 second' where org_id = $1",
    "update steward.conversations set reopened_at = started_at - interval '1 second' where org_id = $1",
    "update steward.workflow_updates set kind = 'HOTFIX' where org_id = $1",
    "update steward.workflow_updates set summary = '' where org_id = $1",
    "update steward.health_policies set reopen_window = interval '30 minutes' where org_id = $1",
    "update steward.health_policies set reopen_window = interval '169 hours' where org_id = $1",
    "update steward.health_policies set stale_update_days = 0 where org_id = $1",
    "update steward.health_policies set min_owner_fte = 1.1 where org_id = $1",
    "update steward.health_policies set arr_drop_points = -1 where org_id = $1",
    "insert into steward.api_tokens (org_id, name, token_hash, scopes) values ($1, 't', '\\x01', '{root}')",
    "insert into steward.api_tokens (org_id, name, token_hash, scopes) values ($1, 't', '\\x02', '{}')",
    "update steward.organizations set slug = 'Not A Slug' where id = $1",
])
async def test_check_constraints_refuse_values_outside_the_domain(factory, sql):
    org = await factory.org()
    dep = await factory.deployment(org)
    person = await factory.person(org)
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    await factory.conversation(org, dep, topic, at("2026-03-03"))
    await factory.update(org, dep, person, at("2026-03-03"))

    await refused(factory.conn, asyncpg.exceptions.CheckViolationError, sql, org)


async def test_keys_are_unique_per_organization(factory):
    a, b = await factory.org(), await factory.org()
    await factory.deployment(a, key="concierge")
    await factory.deployment(b, key="concierge")                   # another org: fine
    topic_a = await factory.topic(a)
    dep_a = await factory.conn.fetchval("select id from steward.deployments where org_id = $1", a)
    await factory.conversation(a, dep_a, topic_a, at("2026-03-03"), external_id="ext-1")
    await factory.person(a, name="X")
    await factory.conn.execute("update steward.persons set email = 'Same@Example.com' where org_id = $1", a)

    await refused_call(factory.conn, asyncpg.exceptions.UniqueViolationError,
                       lambda: factory.deployment(a, key="concierge"))
    await refused_call(factory.conn, asyncpg.exceptions.UniqueViolationError,
                       lambda: factory.conversation(a, dep_a, topic_a, at("2026-03-04"), external_id="ext-1"))
    await refused(factory.conn, asyncpg.exceptions.UniqueViolationError,
                  "insert into steward.persons (org_id, name, email, function)"
                  " values ($1, 'Y', 'same@example.COM', 'CX')",
                  a)
    keys = await factory.conn.fetchval("select count(*) from steward.deployments where key = 'concierge'")
    assert keys == 2
