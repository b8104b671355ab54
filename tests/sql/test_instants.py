"""The supported range of instants and dates in the database (migration 0007), and views that survive older rows.

Every family of constraint is attacked as the service role (steward_app, the role requests run as)
with -infinity, infinity, year 1 and year 9999; the tables only the owner writes are attacked as the
owner. The range is the one schema/instants.py states.
"""
from datetime import timedelta

import asyncpg
import pytest

from schema import instants
from service.db.migrate import migrate
from service.db.pool import connect

from ..factory import at
from .test_tenancy import acting_as

Refused = asyncpg.exceptions.CheckViolationError
BAD_INSTANTS = ["-infinity", "infinity", "0001-01-01 00:00:00+00", "9999-12-31 00:00:00+00"]
BAD_DAYS = ["-infinity", "infinity", "0001-01-01", "9999-12-31"]
NOW = at("2026-03-20")


async def refused(conn, sql, *args) -> str:
    """`sql` violates a check constraint (in a savepoint); returns the constraint's name."""
    with pytest.raises(Refused) as info:
        async with conn.transaction():
            await conn.execute(sql, *args)
    return info.value.constraint_name


@pytest.fixture
async def org(factory) -> dict:
    org = await factory.org()
    person = await factory.person(org)
    dep = await factory.deployment(org)
    topic = await factory.topic(org)
    workflow = await factory.workflow(org, dep, topic)
    token = await factory.conn.fetchval(
        "insert into steward.api_tokens (org_id, name, token_hash, scopes) values ($1, 't', $2, '{read}') returning id",
        org, f"hash-{org}".encode())
    return {"org": org, "person": person, "dep": dep, "topic": topic, "workflow": workflow, "token": token}


# --- instants, as the service role ----------------------------------------------------------------

# (statement with $1 = the bad value as text, $2 = org, $3.. = ids, the constraint expected)
INSTANT_WRITES = {
    "deployments.launched_at (insert)": (
        "insert into steward.deployments (org_id, key, name, channels, launched_at)"
        " values ($2, 'late', 'Late', '{CHAT}', $1::text::timestamptz)", ("org",),
        "deployments_launched_at_in_range"),
    "deployments.launched_at (update)": (
        "update steward.deployments set launched_at = $1::text::timestamptz where org_id = $2 and id = $3",
        ("org", "dep"), "deployments_launched_at_in_range"),
    "workflow_updates.occurred_at": (
        "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind, summary, occurred_at)"
        " values ($2, $3, $4, 'WORKFLOW_CHANGE', 's', $1::text::timestamptz)", ("org", "dep", "person"),
        "workflow_updates_occurred_at_in_range"),
    "performance_reviews.reviewed_at": (
        "insert into steward.performance_reviews (org_id, deployment_id, reviewer_id, reviewed_at)"
        " values ($2, $3, $4, $1::text::timestamptz)", ("org", "dep", "person"),
        "performance_reviews_reviewed_at_in_range"),
    "persons.deactivated_at": (
        "update steward.persons set active = false, deactivated_at = $1::text::timestamptz"
        " where org_id = $2 and id = $3", ("org", "person"), "persons_deactivated_at_in_range"),
    "persons.created_at": (
        "insert into steward.persons (org_id, name, email, function, created_at)"
        " values ($2, 'N', 'n@example.com', 'CX', $1::text::timestamptz)", ("org",), "persons_created_at_in_range"),
    "topics.created_at": (
        "insert into steward.topics (org_id, key, name, created_at) values ($2, 'k', 'K', $1::text::timestamptz)",
        ("org",), "topics_created_at_in_range"),
    "workflows.created_at": (
        "insert into steward.workflows (org_id, deployment_id, topic_id, name, channels, created_at)"
        " values ($2, $3, $4, 'w', '{CHAT}', $1::text::timestamptz)", ("org", "dep", "topic"),
        "workflows_created_at_in_range"),
    "health_policies.updated_at": (
        "update steward.health_policies set updated_at = $1::text::timestamptz where org_id = $2", ("org",),
        "health_policies_updated_at_in_range"),
    "ownership_changes.effective_at": (
        "insert into steward.ownership_changes (org_id, deployment_id, action, new_person_id,"
        " started_assignment_id, effective_at, token_name)"
        " select $2, $3, 'ASSIGNED', $4, a.id, $1::text::timestamptz, 't'"
        " from steward.ownership_assignments a where a.org_id = $2 and a.deployment_id = $3",
        ("org", "dep", "person"), "ownership_changes_effective_at_in_range"),
    "idempotency_keys.created_at": (
        "insert into steward.idempotency_keys (org_id, token_id, key, operation, request_hash, created_at)"
        " values ($2, $3, 'k', 'op', '\\x00', $1::text::timestamptz)", ("org", "token"),
        "idempotency_keys_created_at_in_range"),
    "conversations.started_at": (
        "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
        " ai_engaged, outcome) values ($2, 'c', $3, $4, 'CHAT', $1::text::timestamptz, true, 'OPEN')",
        ("org", "dep", "topic"), "conversations_instants_in_range"),
    "conversations.reopened_at": (
        "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
        " ai_engaged, outcome, resolved_at, reopened_at) values ($2, 'c', $3, $4, 'CHAT', '1970-01-01Z', true,"
        " 'AI_RESOLVED', '1970-01-01Z', $1::text::timestamptz)", ("org", "dep", "topic"),
        # a reopen before the start is refused by the older check first
        ("conversations_instants_in_range", "conversations_check1")),
}


@pytest.mark.parametrize("value", BAD_INSTANTS)
@pytest.mark.parametrize("write", sorted(INSTANT_WRITES))
async def test_the_service_role_cannot_store_an_instant_out_of_range(factory, org, write, value):
    sql, keys, constraint = INSTANT_WRITES[write]
    await factory.assign(org["org"], org["dep"], org["person"], at("2026-03-01"))

    async with acting_as(factory.conn, "steward_app", org["org"]) as conn:
        assert await refused(conn, sql, value, *(org[k] for k in keys)) in (
            constraint if isinstance(constraint, tuple) else (constraint,))
        # the range's own ends are accepted
        async with conn.transaction():
            await conn.execute(sql, "1970-01-01 00:00:00+00", *(org[k] for k in keys))
            await conn.execute("select 1")  # still a usable transaction


# --- periods, as the service role -----------------------------------------------------------------

@pytest.mark.parametrize("value", BAD_INSTANTS)
async def test_an_ownership_period_cannot_start_out_of_range(factory, org, value):
    async with acting_as(factory.conn, "steward_app", org["org"]) as conn:
        constraint = await refused(
            conn, "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
                  " values ($1, $2, $3, tstzrange($4::text::timestamptz, null))",
            org["org"], org["dep"], org["person"], value)
    assert constraint == "ownership_assignments_valid_in_range"


@pytest.mark.parametrize("value", ["infinity", "9999-12-31 00:00:00+00", "2100-01-01 00:00:00+00"])
async def test_an_ownership_period_cannot_end_out_of_range(factory, org, value):
    # -infinity and year 1 cannot end a period that starts in range: the range type refuses them
    async with acting_as(factory.conn, "steward_app", org["org"]) as conn:
        constraint = await refused(
            conn, "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
                  " values ($1, $2, $3, tstzrange('2026-03-01Z', $4::text::timestamptz))",
            org["org"], org["dep"], org["person"], value)
    assert constraint == "ownership_assignments_valid_in_range"


async def test_closing_an_open_period_out_of_range_is_refused(factory, org):
    assignment = await factory.assign(org["org"], org["dep"], org["person"], at("2026-03-01"))
    async with acting_as(factory.conn, "steward_app", org["org"]) as conn:
        constraint = await refused(
            conn, "update steward.ownership_assignments set valid = tstzrange(lower(valid), 'infinity')"
                  " where id = $1", assignment)
    assert constraint == "ownership_assignments_valid_in_range"


@pytest.mark.parametrize(("lower", "upper"), [(v, None) for v in BAD_INSTANTS]
                         + [("2026-03-01 00:00:00+00", v) for v in ("infinity", "9999-12-31 00:00:00+00")])
async def test_a_workflow_period_cannot_lie_out_of_range(factory, org, lower, upper):
    async with acting_as(factory.conn, "steward_app", org["org"]) as conn:
        constraint = await refused(
            conn, "insert into steward.workflow_periods (org_id, workflow_id, active)"
                  " values ($1, $2, tstzrange($3::text::timestamptz, $4::text::timestamptz))",
            org["org"], org["workflow"], lower, upper)
    assert constraint == "workflow_periods_active_in_range"


# --- rollup days, as the service role -------------------------------------------------------------

@pytest.mark.parametrize("value", BAD_DAYS)
@pytest.mark.parametrize("table", ["conversation_daily", "conversation_topic_daily"])
async def test_a_rollup_day_cannot_lie_out_of_range(factory, org, table, value):
    columns, values = "", ""
    if table == "conversation_topic_daily":
        columns, values = ", topic_id, unaddressable_escalated", ", $4, 0"
    async with acting_as(factory.conn, "steward_app", org["org"]) as conn:
        constraint = await refused(
            conn, f"insert into steward.{table} (org_id, deployment_id, day, conversations, addressable, ai_engaged,"
                  f" ai_outcomes, ai_resolved, reopened, escalated{columns})"
                  f" values ($1, $2, $3::text::date, 1, 1, 1, 1, 1, 0, 0{values})",
            org["org"], org["dep"], value, *([org["topic"]] if columns else []))
    assert constraint == f"{table}_day_in_range"


# --- tables only the owner writes ----------------------------------------------------------------

@pytest.mark.parametrize("value", BAD_INSTANTS)
@pytest.mark.parametrize(("sql", "constraint"), [
    ("insert into steward.organizations (slug, name, created_at) values ('late', 'Late', $1::text::timestamptz)",
     "organizations_created_at_in_range"),
    ("insert into steward.api_tokens (org_id, name, token_hash, scopes, created_at)"
     " select id, 't', 'h2', '{read}', $1::text::timestamptz from steward.organizations limit 1",
     "api_tokens_created_at_in_range"),
    ("update steward.api_tokens set revoked_at = $1::text::timestamptz", "api_tokens_revoked_at_in_range"),
])
async def test_the_owner_cannot_store_an_instant_out_of_range_either(factory, org, sql, constraint, value):
    assert await refused(factory.conn, sql, value) == constraint


# --- the catalog: every column is covered ---------------------------------------------------------

async def test_every_instant_date_and_period_column_has_a_validated_range_constraint(conn):
    columns = await conn.fetch(
        """
        select c.relname as tab, a.attname as col
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        where c.relnamespace = 'steward'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0
          and not a.attisdropped
          and a.atttypid in ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype,
                             'tstzrange'::regtype, 'tsrange'::regtype, 'daterange'::regtype)
          and not exists (
              select 1 from pg_constraint k
              where k.conrelid = c.oid and k.contype = 'c' and k.conname like '%\\_in\\_range' and k.convalidated
                and a.attnum = any (k.conkey))
        order by 1, 2
        """)
    assert [f"{r['tab']}.{r['col']}" for r in columns] == []


@pytest.mark.parametrize(("sql", "value", "inside"), [
    ("steward.instant_in_range($1)", instants.EARLIEST, True),
    ("steward.instant_in_range($1)", instants.EARLIEST - timedelta(microseconds=1), False),
    ("steward.instant_in_range($1)", instants.END - timedelta(microseconds=1), True),
    ("steward.instant_in_range($1)", instants.END, False),
    ("steward.day_in_range($1)", instants.FIRST_DAY, True),
    ("steward.day_in_range($1)", instants.FIRST_DAY - timedelta(days=1), False),
    ("steward.day_in_range($1)", instants.END_DAY - timedelta(days=1), True),
    ("steward.day_in_range($1)", instants.END_DAY, False),
])
async def test_the_database_and_the_service_agree_on_the_range(conn, sql, value, inside):
    assert await conn.fetchval(f"select {sql}", value) is inside
    problem = instants.instant_problem(value) if "instant" in sql else instants.date_problem(value)
    assert (problem is None) is inside


# --- views over rows older than the constraints -------------------------------------------------

async def without_range_checks(conn, *constraints: str) -> None:
    """As on a database migrated with out-of-range rows: these constraints do not hold yet (test transaction)."""
    for name in constraints:
        # conislocal: the parent's constraint, not the copies its partitions inherit
        table = await conn.fetchval("select conrelid::regclass::text from pg_constraint"
                                    " where conname = $1 and conislocal", name)
        await conn.execute(f"alter table {table} drop constraint {name}")


async def test_metric_views_survive_infinite_instants_and_keep_the_other_deployments(factory, conn):
    await without_range_checks(conn, "ownership_assignments_valid_in_range", "workflow_updates_occurred_at_in_range",
                               "performance_reviews_reviewed_at_in_range", "deployments_launched_at_in_range",
                               "conversations_instants_in_range")
    await factory.set_now(NOW)
    org = await factory.org()
    person = await factory.person(org)
    topic = await factory.topic(org)
    bad, good = await factory.deployment(org), await factory.deployment(org)
    await factory.workflow(org, bad, topic)
    for dep in (bad, good):
        await factory.conversation(org, dep, topic, at("2026-03-10"))
    await conn.execute(
        "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
        " values ($1, $2, $3, tstzrange('-infinity', null))", org, bad, person)
    await conn.execute(
        "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind, summary, occurred_at)"
        " values ($1, $2, $3, 'WORKFLOW_CHANGE', 's', '-infinity')", org, bad, person)
    await conn.execute(
        "insert into steward.performance_reviews (org_id, deployment_id, reviewer_id, reviewed_at)"
        " values ($1, $2, $3, '-infinity')", org, bad, person)
    await conn.execute("update steward.deployments set launched_at = '-infinity' where id = $1", bad)
    # a reopen at infinity: classified (not a reopen) instead of failing the rollup refresh
    await conn.execute(
        "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
        " ai_engaged, outcome, resolved_at, reopened_at) values ($1, 'inf', $2, $3, 'CHAT', '2026-03-11Z', true,"
        " 'AI_RESOLVED', '2026-03-11Z', 'infinity')", org, bad, topic)
    await factory.update(org, good, person, at("2026-03-18"))
    await factory.as_org(org)

    owners = await conn.fetch("select * from metrics.current_owners where org_id = $1", org)
    window = {r["deployment_id"]: r for r in await conn.fetch(
        "select * from metrics.deployment_window($1, '2026-03-01', '2026-03-21')", [bad, good])}
    health = {r["deployment_id"]: r for r in await conn.fetch(
        "select h.*, array(select r->>'message' from jsonb_array_elements(h.reasons) r) as messages"
        " from metrics.health($1) h", [bad, good])}
    weeks = await conn.fetch("select * from metrics.deployment_weeks($1, '2026-03-02', '2026-03-16')", [bad, good])
    impact = await conn.fetch("select * from metrics.ownership_impact('2026-03-02', '2026-03-16')")
    last_30 = await conn.fetch("select * from metrics.deployment_last_30_days where org_id = $1", org)

    assert [(o["deployment_id"], o["tenure_days"]) for o in owners] == [(bad, None)]
    assert (window[bad]["days_since_last_update"], window[bad]["days_since_last_review"]) == (None, None)
    assert window[bad]["last_update_at"] is not None  # the API tells "cannot be counted" from "none ever"
    assert (window[bad]["conversations"], window[bad]["ai_resolved"], window[bad]["reopened"]) == (2, 2, 0)
    assert (window[good]["days_since_last_update"], window[good]["conversations"]) == (2, 1)
    assert health[bad]["status"] == "STALE"
    assert "No workflow update for an unknown number of days (limit 14)." in health[bad]["messages"]
    assert len(weeks) == 4 and len(last_30) == 2 and impact


async def test_the_rollup_leaves_out_conversations_outside_the_range(factory, conn):
    await without_range_checks(conn, "conversations_instants_in_range", "conversation_keys_started_at_in_range")
    org = await factory.org()
    dep = await factory.deployment(org)
    topic = await factory.topic(org)
    await factory.conversation(org, dep, topic, at("2026-03-10"))
    await conn.execute(
        "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
        " ai_engaged, outcome) values ($1, 'old', $2, $3, 'CHAT', '1950-06-01Z', true, 'OPEN'),"
        " ($1, 'inf', $2, $3, 'CHAT', '-infinity', true, 'OPEN')", org, dep, topic)

    await conn.execute("select internals.refresh_conversation_daily(array[$1::bigint])", dep)  # every day

    days = await conn.fetch("select day from steward.conversation_daily where deployment_id = $1", dep)
    assert [str(d["day"]) for d in days] == ["2026-03-10"]


# --- migrating a database that already holds out-of-range rows -----------------------------------

async def test_migration_0007_keeps_a_dirty_table_checked_but_not_valid(fresh_db_url):
    conn = await connect(fresh_db_url)
    warnings: list[str] = []
    conn.add_log_listener(lambda _conn, message: warnings.append(message.message))
    try:
        # back to before 0007 (its functions go, and their constraints with them) with one bad row stored
        await conn.execute("""
            drop function steward.period_in_range(tstzrange), steward.instant_in_range(timestamptz),
                          steward.day_in_range(date) cascade;
            delete from steward_meta.schema_migrations where version = '0007';
        """)
        org = await conn.fetchval("insert into steward.organizations (slug, name) values ('old', 'Old') returning id")
        await conn.execute("insert into steward.deployments (org_id, key, name, channels, launched_at)"
                           " values ($1, 'legacy', 'Legacy', '{CHAT}', '-infinity')", org)

        report = await migrate(conn)
        states = dict(await conn.fetch("select conname, convalidated from pg_constraint"
                                       " where conname like '%\\_in\\_range'"))
        after = await refused(conn, "insert into steward.deployments (org_id, key, name, channels, launched_at)"
                                    " values ($1, 'new', 'New', '{CHAT}', '0001-01-01Z')", org)
    finally:
        await conn.close()

    assert report.applied == ["0007_finite_instants"]
    assert states.pop("deployments_launched_at_in_range") is False
    assert all(states.values()) and len(states) >= 20
    assert after == "deployments_launched_at_in_range"  # new rows are checked all the same
    assert any("deployments_launched_at_in_range" in w and "NOT VALID" in w for w in warnings), warnings
