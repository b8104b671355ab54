"""Row-level security and grants: the service role and the BI role each see one organization, through the contract."""
import uuid
from contextlib import asynccontextmanager

import asyncpg
import pytest

from ..factory import at

NOW = at("2026-03-20")
Denied = asyncpg.exceptions.InsufficientPrivilegeError


@asynccontextmanager
async def acting_as(conn, role: str, org_id):
    """Inside a savepoint: become `role` with app.org_id = `org_id`; everything is undone on exit."""
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("select set_config('role', $1, true), set_config('app.org_id', $2, true)",
                           role, "" if org_id is None else str(org_id))
        yield conn
    finally:
        await tx.rollback()


@asynccontextmanager
async def as_bi_login(conn, org_id: int):
    """Inside a savepoint: a login in bi_reader mapped to `org_id` (created here, so rolled back too), acting as it."""
    tx = conn.transaction()
    await tx.start()
    try:
        name = f"bi_t_{uuid.uuid4().hex[:12]}"
        await conn.execute(f'create role "{name}" login in role bi_reader')
        await conn.execute("insert into steward.bi_logins (role, org_id) values ($1, $2)", name, org_id)
        await conn.execute(f'set local session authorization "{name}"')
        yield conn
    finally:
        await tx.rollback()


async def refused(conn, error, sql, *args):
    """`sql` fails with `error`, in a savepoint so the caller's transaction stays usable."""
    with pytest.raises(error) as info:
        async with conn.transaction():
            await conn.execute(sql, *args)
    return info.value


async def seed(factory, n: int) -> dict:
    """One organization with a row in every tenant table the core schema defines."""
    org = await factory.org()
    person = await factory.person(org)
    dep = await factory.deployment(org)
    topic, uncovered = await factory.topic(org), await factory.topic(org)
    await factory.workflow(org, dep, topic)
    await factory.assign(org, dep, person, at("2026-01-01", 0))
    await factory.update(org, dep, person, at("2026-03-10"))
    await factory.review(org, dep, person, at("2026-03-10"))
    await factory.conversation(org, dep, topic, at("2026-03-10"))
    await factory.conversation(org, dep, uncovered, at("2026-03-10"), outcome="ESCALATED")
    await factory.conn.execute(
        "insert into steward.api_tokens (org_id, name, token_hash, scopes) values ($1, 'bi', $2, '{read}')",
        org, bytes([n]) * 32,
    )
    return {"org": org, "dep": dep, "person": person, "topic": topic, "hash": bytes([n]) * 32}


@pytest.fixture
async def two_orgs(factory):
    mine, theirs = await seed(factory, 1), await seed(factory, 2)
    await factory.set_now(NOW)
    return mine, theirs


SEEDED = ["organizations", "health_policies", "persons", "deployments", "ownership_assignments", "topics",
          "workflows", "workflow_periods", "workflow_updates", "performance_reviews", "conversations",
          "conversation_daily", "api_tokens"]


# Tables shared by every tenant: they hold no tenant data (Citus reference tables).
# conversation_retention: the one retention horizon of the database (migration 0015).
SHARED_TABLES = {"trusted_documents", "conversation_retention"}
# The owner's alone: the service and BI logins cannot read it at all (tests/sql/test_bi_logins.py).
OWNER_ONLY = {"bi_logins"}


async def steward_tables(conn) -> list[str]:
    """The tenant tables the service may read (organizations included)."""
    return [r["relname"] for r in await conn.fetch(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        # partitions (of steward.conversations) are reached through their parent, whose policy applies
        " where n.nspname = 'steward' and c.relkind in ('r', 'p') and not c.relispartition"
        " and c.relname <> all($1) order by 1",
        sorted(OWNER_ONLY | SHARED_TABLES))]


async def test_every_table_but_the_shared_ones_belongs_to_an_organization(conn):
    rows = await conn.fetch(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'steward' and c.relkind in ('r', 'p') and not c.relispartition"
        " and c.relname <> 'organizations'"
        " and not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id')")
    assert {r["relname"] for r in rows} == SHARED_TABLES


async def metrics_views(conn) -> list[str]:
    return [r["relname"] for r in await conn.fetch(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'metrics' and c.relkind = 'v' order by 1")]


def org_column(table: str) -> str:
    return "id" if table == "organizations" else "org_id"


async def visible(conn, relation: str, org_id: int, column: str = "org_id") -> tuple[int, int]:
    """(rows visible, rows of another organization among them)."""
    row = await conn.fetchrow(
        f"select count(*) as n, count(*) filter (where {column} is distinct from $1) as foreign_rows from {relation}",
        org_id,
    )
    return row["n"], row["foreign_rows"]


# --- the schema ---------------------------------------------------------------------------------

async def test_every_tenant_table_has_forced_row_level_security(conn):
    rows = await conn.fetch(
        """
        select c.relname, c.relrowsecurity, c.relforcerowsecurity,
               exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id') as tenant,
               exists (select 1 from pg_policy p where p.polrelid = c.oid) as has_policy
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'steward' and c.relkind in ('r', 'p') and not c.relispartition
        """
    )

    tenant = [r for r in rows if r["tenant"]]
    assert {t for t in SEEDED if t != "organizations"} <= {r["relname"] for r in tenant}
    unprotected = [r["relname"] for r in tenant
                   if not (r["relrowsecurity"] and r["relforcerowsecurity"] and r["has_policy"])]
    assert unprotected == []
    orgs = next(r for r in rows if r["relname"] == "organizations")
    assert orgs["relrowsecurity"] and orgs["has_policy"]


# --- the service role -----------------------------------------------------------------------------

async def test_the_service_role_sees_only_its_organization_in_every_table(conn, two_orgs):
    mine, _ = two_orgs
    tables = await steward_tables(conn)

    async with acting_as(conn, "steward_app", mine["org"]):
        seen = {t: await visible(conn, f"steward.{t}", mine["org"], org_column(t)) for t in tables}

    assert {t: foreign for t, (_, foreign) in seen.items() if foreign} == {}
    assert [t for t in SEEDED if seen[t][0] == 0] == []


async def test_the_service_role_sees_only_its_organization_in_every_metrics_view(conn, two_orgs):
    mine, theirs = two_orgs
    views = await metrics_views(conn)

    async with acting_as(conn, "steward_app", mine["org"]):
        seen = {v: await visible(conn, f"metrics.{v}", mine["org"]) for v in views}
        window = await conn.fetch("select deployment_id from metrics.deployment_window($1, '2026-03-01', '2026-03-31')",
                                  [mine["dep"], theirs["dep"]])
        weeks = await conn.fetch("select distinct deployment_id from metrics.deployment_weeks($1, '2026-03-02', "
                                 "'2026-03-16')", [mine["dep"], theirs["dep"]])
        topics = await conn.fetch("select distinct deployment_id from metrics.topic_opportunities($1, '2026-03-01', "
                                  "'2026-03-31')", [mine["dep"], theirs["dep"]])
        impact = await conn.fetch("select * from metrics.ownership_impact('2026-03-02', '2026-03-16')"
                                  " where dimension = 'OWNERSHIP'")

    assert {v: foreign for v, (_, foreign) in seen.items() if foreign} == {}
    assert [v for v, (n, _) in seen.items() if n == 0] == []
    assert [r["deployment_id"] for r in window] == [mine["dep"]]
    assert [r["deployment_id"] for r in weeks] == [mine["dep"]]
    assert [r["deployment_id"] for r in topics] == [mine["dep"]]
    # two whole weeks of one deployment, not of two
    assert [(r["bucket"], r["deployment_weeks"]) for r in impact] == [("OWNED", 2)]


@pytest.mark.parametrize("org_setting", ["", "999999999", "0"])
async def test_without_an_organization_or_with_a_wrong_one_nothing_is_visible(conn, two_orgs, org_setting):
    tables, views = await steward_tables(conn), await metrics_views(conn)

    async with acting_as(conn, "steward_app", org_setting or None):
        counts = {f"steward.{t}": await conn.fetchval(f"select count(*) from steward.{t}") for t in tables}
        counts |= {f"metrics.{v}": await conn.fetchval(f"select count(*) from metrics.{v}") for v in views}
        counts["deployment_window"] = await conn.fetchval(
            "select count(*) from metrics.deployment_window($1, '2026-03-01', '2026-03-31')",
            [two_orgs[0]["dep"], two_orgs[1]["dep"]])

    assert {name: n for name, n in counts.items() if n} == {}


async def test_a_malformed_organization_setting_fails_closed(conn, two_orgs):
    async with acting_as(conn, "steward_app", "not-a-number"):
        error = await refused(conn, asyncpg.exceptions.InvalidTextRepresentationError,
                              "select count(*) from steward.persons")

    assert "bigint" in str(error)


async def test_the_service_role_cannot_write_into_another_organization(conn, two_orgs):
    mine, theirs = two_orgs

    async with acting_as(conn, "steward_app", mine["org"]):
        inserted = await refused(
            conn, Denied, "insert into steward.persons (org_id, name, email, function) values ($1, 'X', 'x@y.z', 'CX')",
            theirs["org"])
        moved = await refused(conn, Denied, "update steward.persons set org_id = $2 where id = $1",
                              mine["person"], theirs["org"])
        updated = await conn.execute("update steward.deployments set name = 'hijacked' where org_id = $1",
                                     theirs["org"])
        deleted = await conn.execute("delete from steward.conversation_daily where org_id = $1", theirs["org"])
        policy = await conn.execute("update steward.health_policies set stale_update_days = 1 where org_id = $1",
                                    theirs["org"])

    assert "row-level security" in str(inserted) and "row-level security" in str(moved)
    assert (updated, deleted, policy) == ("UPDATE 0", "DELETE 0", "UPDATE 0")
    assert await conn.fetchval("select name from steward.deployments where id = $1", theirs["dep"]) != "hijacked"


async def test_the_service_role_cannot_create_organizations(conn):
    async with acting_as(conn, "steward_app", None):
        error = await refused(conn, Denied, "insert into steward.organizations (slug, name) values ('sneaky', 'S')")

    assert "permission denied" in str(error)


async def test_the_service_role_reads_only_its_own_token_hashes_and_cannot_mint_tokens(conn, two_orgs):
    mine, theirs = two_orgs

    async with acting_as(conn, "steward_app", mine["org"]):
        hashes = [r["token_hash"] for r in await conn.fetch("select token_hash from steward.api_tokens")]
        theirs_by_hash = await conn.fetchval("select count(*) from steward.api_tokens where token_hash = $1",
                                             theirs["hash"])
        minted = await refused(conn, Denied, "insert into steward.api_tokens (org_id, name, token_hash, scopes)"
                                             " values ($1, 'mine', '\\xff', '{admin}')", mine["org"])
        widened = await refused(conn, Denied, "update steward.api_tokens set scopes = '{admin}'")
        # authentication by hash is the one definer-rights path: it answers for that token only
        auth = await conn.fetch("select * from steward.authenticate($1)", theirs["hash"])

    assert (hashes, theirs_by_hash) == ([mine["hash"]], 0)
    assert "permission denied" in str(minted) and "permission denied" in str(widened)
    assert [(r["org_id"], r["scopes"]) for r in auth] == [(theirs["org"], ["read"])]


async def test_the_service_role_can_ingest_and_change_its_policy_with_the_rollup_maintained(conn, factory, two_orgs):
    mine, _ = two_orgs

    async with acting_as(conn, "steward_app", mine["org"]):
        # a conversation reopened 30 hours after resolution: resolved under 24h, reopened under 72h
        await factory.conversation(mine["org"], mine["dep"], mine["topic"], at("2026-03-11"),
                                   reopened_after=at("2026-03-12", 6) - at("2026-03-11", 0))
        m24 = await factory.window(mine["dep"], "2026-03-11", "2026-03-12")
        await factory.policy(mine["org"], reopen_hours=72)
        m72 = await factory.window(mine["dep"], "2026-03-11", "2026-03-12")
        opportunities = await conn.fetchval(
            "select count(*) from metrics.topic_opportunities($1, '2026-03-01', '2026-03-31')", [mine["dep"]])
        mismatches = await factory.rollup_mismatches()

    assert (m24["reopened"], m24["ai_resolved"]) == (0, 1)
    assert (m72["reopened"], m72["ai_resolved"]) == (1, 0)
    assert opportunities == 1
    assert mismatches == []


# --- the BI role ----------------------------------------------------------------------------------

async def test_a_bi_login_reads_every_metrics_view_and_function_for_its_mapped_organization_only(conn, two_orgs):
    mine, theirs = two_orgs
    views = await metrics_views(conn)

    async with as_bi_login(conn, mine["org"]):
        seen = {v: await visible(conn, f"metrics.{v}", mine["org"]) for v in views}
        window = await conn.fetch("select deployment_id, conversations from metrics.deployment_window($1,"
                                  " '2026-03-01', '2026-03-31')", [mine["dep"], theirs["dep"]])
        weeks = await conn.fetchval("select count(*) from metrics.deployment_weeks($1, '2026-03-02', '2026-03-16')",
                                    [mine["dep"], theirs["dep"]])
        topics = await conn.fetchval("select count(*) from metrics.topic_opportunities($1, '2026-03-01',"
                                     " '2026-03-31')", [mine["dep"], theirs["dep"]])
        impact = await conn.fetchval("select count(*) from metrics.ownership_impact('2026-03-02', '2026-03-16')")

    assert {v: foreign for v, (_, foreign) in seen.items() if foreign} == {}
    assert [v for v, (n, _) in seen.items() if n == 0] == []
    assert [tuple(r) for r in window] == [(mine["dep"], 2)]
    # impact: OWNERSHIP/OWNED, CADENCE/NONE (week of 03-02), CADENCE/LOW (week of 03-09, one update)
    assert (weeks, topics, impact) == (2, 1, 3)


async def test_bi_reader_cannot_read_tables_directly(conn, two_orgs):
    mine, _ = two_orgs
    tables = await steward_tables(conn)

    async with acting_as(conn, "bi_reader", mine["org"]):
        errors = {t: await refused(conn, Denied, f"select * from steward.{t}") for t in tables}
        internals = await refused(conn, Denied, "select * from internals.conversation_facts")
        write = await refused(conn, Denied, "update metrics.deployment_daily set conversations = 0")

    assert {t: str(e) for t, e in errors.items() if "permission denied for schema steward" not in str(e)} == {}
    assert "permission denied for schema internals" in str(internals)
    assert "permission denied" in str(write)


@pytest.mark.parametrize("org_setting", ["", "mine"])
async def test_bi_reader_without_a_mapping_sees_nothing_whatever_app_org_id_says(conn, two_orgs, org_setting):
    views = await metrics_views(conn)

    async with acting_as(conn, "bi_reader", two_orgs[0]["org"] if org_setting else None):
        counts = {v: await conn.fetchval(f"select count(*) from metrics.{v}") for v in views}

    assert {v: n for v, n in counts.items() if n} == {}
