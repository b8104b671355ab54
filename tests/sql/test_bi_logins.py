"""BI logins as real PostgreSQL logins over real connections: each reads its mapped organization and nothing else,
whatever it sets. Roles are cluster-wide, so every role here has a unique name and is dropped at the end."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

import asyncpg
import pytest

from service.bi_logins import create_bi_login, revoke_bi_login
from service.db.migrate import migrations
from service.db.pool import connect

from ..conftest import ROOT, create_clone, drop_database, with_database
from ..factory import Factory, at
from .test_tenancy import NOW, seed

Denied = asyncpg.exceptions.InsufficientPrivilegeError
# 03-02 .. 03-23: three whole ISO weeks around the seeded activity of 03-10
ARGS_BY_TYPE = {"date": [date(2026, 3, 2), date(2026, 3, 23)],
                "integer": [2]}  # the cadence effect's largest lag


@dataclass
class World:
    url: str
    orgs: dict[str, dict]                       # "a", "b": what test_tenancy.seed made
    deployments: dict[int, int]                 # deployment id -> org id, every organization
    passwords: dict[str, str] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)

    def login(self, key: str) -> str:
        return self.roles[["a", "b", "unmapped"].index(key)]

    async def connect_as(self, role: str, password: str | None = None, **settings) -> asyncpg.Connection:
        parts = urlsplit(self.url)
        return await asyncpg.connect(
            host=parts.hostname, port=parts.port, database=parts.path.lstrip("/"), user=role,
            password=password if password is not None else self.passwords.get(role, "none"),
            server_settings={"timezone": "UTC", "jit": "off", "steward.now": NOW.isoformat(), **settings},
        )


async def seed_weekly_review(factory: Factory, seeded: dict) -> None:
    """What the weekly brief of the week of 03-02 lists: a covered topic below its deployment (50% vs 2 of 3)
    that was at 100% in the 4 weeks before, its workflow unchanged since 2020 (stale), a second covered topic,
    an uncovered one (to add), and an unacknowledged alert."""
    org, dep, topic = seeded["org"], seeded["dep"], seeded["topic"]
    other, uncovered = await factory.topic(org), await factory.topic(org)
    await factory.workflow(org, dep, other)
    await factory.conversations(org, dep, topic, at("2026-02-10"), 2)
    await factory.conversation(org, dep, topic, at("2026-03-03"))
    await factory.conversation(org, dep, topic, at("2026-03-03"), outcome="ESCALATED")
    await factory.conversation(org, dep, other, at("2026-03-04"))
    await factory.conversation(org, dep, uncovered, at("2026-03-04"), outcome="ESCALATED")
    await factory.conn.execute(
        "insert into steward.health_events (org_id, deployment_id, occurred_at, status_before, status_after,"
        " reasons_before, reasons_after, cause) values ($1, $2, $3, 'HEALTHY', 'AT_RISK', '{}', '{REVIEW_OVERDUE}',"
        " 'WRITE')", org, dep, at("2026-03-05"))


def new_role_name(label: str) -> str:
    return f"bi_t_{uuid.uuid4().hex[:10]}_{label}"


async def drop_roles(admin: asyncpg.Connection, roles: list[str]) -> None:
    for role in roles:
        await admin.execute(f'drop role if exists "{role}"')


@pytest.fixture(scope="module")
async def world(module_db_url: str) -> World:
    """Two seeded organizations, a login mapped to each (through steward bi-login's module) and one unmapped."""
    admin = await connect(module_db_url)
    factory = Factory(admin)
    mine, theirs = await seed(factory, 1), await seed(factory, 2)
    for seeded in (mine, theirs):
        await seed_weekly_review(factory, seeded)
    slugs = dict(await admin.fetch("select id, slug from steward.organizations"))
    w = World(module_db_url, {"a": mine | {"slug": slugs[mine["org"]]}, "b": theirs | {"slug": slugs[theirs["org"]]}},
              dict(await admin.fetch("select id, org_id from steward.deployments")))
    try:
        for key in ("a", "b"):
            w.roles.append(new_role_name(key))
            w.passwords[w.roles[-1]] = await create_bi_login(admin, w.orgs[key]["slug"], w.roles[-1])
        w.roles.append(new_role_name("unmapped"))
        w.passwords[w.roles[-1]] = "unmapped-password"
        await admin.execute(f"create role {w.roles[-1]} login password 'unmapped-password' in role bi_reader")
        yield w
    finally:
        await drop_roles(admin, w.roles)
        await admin.close()


async def metric_relations(conn: asyncpg.Connection, deployment_ids: list[int]) -> dict[str, tuple[str, list]]:
    """Every view and every function of the metrics schema (from the catalog) with the statement that reads it.
    A function gets every deployment id of every organization and the test window."""
    relations = {f"metrics.{r['relname']}": (f"select * from metrics.{r['relname']}", [])
                 for r in await conn.fetch("select c.relname from pg_class c join pg_namespace n on n.oid ="
                                           " c.relnamespace where n.nspname = 'metrics' and c.relkind = 'v'")}
    for fn in await conn.fetch("select p.proname, array(select format_type(t, null) from unnest(p.proargtypes) t)"
                               " as types from pg_proc p where p.pronamespace = 'metrics'::regnamespace"):
        args, dates, integers = [], iter(ARGS_BY_TYPE["date"]), iter(ARGS_BY_TYPE["integer"])
        for arg_type in fn["types"]:
            if arg_type == "bigint[]":
                args.append(deployment_ids)
            elif arg_type == "date":
                args.append(next(dates))
            elif arg_type == "integer":
                args.append(next(integers))
            else:
                raise AssertionError(f"metrics.{fn['proname']}: teach this test an argument of type {arg_type}")
        placeholders = ", ".join(f"${i}" for i in range(1, len(args) + 1))
        relations[f"metrics.{fn['proname']}()"] = (f"select * from metrics.{fn['proname']}({placeholders})", args)
    return relations


def canonical(rows: list[asyncpg.Record]) -> list[tuple]:
    return sorted(tuple(repr(v) for v in r.values()) for r in rows)


async def read_all(conn: asyncpg.Connection, world: World) -> dict[str, list[asyncpg.Record]]:
    relations = await metric_relations(conn, sorted(world.deployments))
    return {name: await conn.fetch(sql, *args) for name, (sql, args) in relations.items()}


def foreign_rows(seen: dict[str, list[asyncpg.Record]], world: World, org_id: int) -> dict[str, int]:
    """Rows that belong to another organization, by org_id or deployment_id, per relation."""
    bad = {}
    for name, rows in seen.items():
        n = sum(1 for r in rows
                if ("org_id" in r.keys() and r["org_id"] != org_id)
                or ("deployment_id" in r.keys() and world.deployments.get(r["deployment_id"]) != org_id))
        if n:
            bad[name] = n
    return bad


async def as_service(world: World, org_id: int) -> dict[str, list[asyncpg.Record]]:
    """What the service (steward_app, app.org_id) reads for `org_id`: the reference a BI login must match."""
    conn = await connect(world.url)
    try:
        async with conn.transaction():
            await conn.execute("select set_config('steward.now', $2, true), set_config('role', 'steward_app', true),"
                               " set_config('app.org_id', $1, true)", str(org_id), NOW.isoformat())
            return await read_all(conn, world)
    finally:
        await conn.close()


async def visible_orgs(conn: asyncpg.Connection, world: World) -> set[int]:
    """Organizations whose rows the connection can see in any metrics view or function that names them."""
    orgs = set()
    for rows in (await read_all(conn, world)).values():
        for r in rows:
            if "org_id" in r.keys() and r["org_id"] is not None:
                orgs.add(r["org_id"])
            if "deployment_id" in r.keys():
                orgs.add(world.deployments[r["deployment_id"]])
    return orgs


# --- each login reads exactly its organization -------------------------------------------------------

@pytest.mark.parametrize("key", ["a", "b"])
async def test_each_login_reads_exactly_what_the_service_reads_for_its_organization(world, key):
    org_id = world.orgs[key]["org"]
    expected = await as_service(world, org_id)
    conn = await world.connect_as(world.login(key))
    try:
        seen = await read_all(conn, world)
    finally:
        await conn.close()

    assert foreign_rows(seen, world, org_id) == {}
    assert {name: canonical(rows) for name, rows in seen.items()} == \
        {name: canonical(rows) for name, rows in expected.items()}
    # not vacuous: every view and function shows the organization's rows
    assert [name for name, rows in seen.items() if not rows] == []


# Functions whose answer belongs to no organization (a date of the calendar): the same for everyone.
ORGANIZATION_FREE = {"metrics.last_complete_week()"}


async def test_a_login_without_a_mapping_sees_no_row_of_any_view_or_function(world):
    conn = await world.connect_as(world.login("unmapped"), **{"app.org_id": str(world.orgs["a"]["org"])})
    try:
        plain = await read_all(conn, world)
        await conn.execute("select set_config('app.org_id', $1, false)", str(world.orgs["b"]["org"]))
        after_set = await read_all(conn, world)
    finally:
        await conn.close()

    assert {name: len(rows) for name, rows in (plain | after_set).items()
            if rows and name not in ORGANIZATION_FREE} == {}


# --- nothing a login can set moves it ------------------------------------------------------------------

SETTINGS_ATTACKS = {
    "set": ["set app.org_id = '{theirs}'"],
    "set_config session-wide": ["select set_config('app.org_id', '{theirs}', false)"],
    "set local in a transaction": ["begin", "set local app.org_id = '{theirs}'"],
    "reset app.org_id": ["set app.org_id = '{theirs}'", "reset app.org_id"],
    "reset all": ["set app.org_id = '{theirs}'", "reset all"],
    "set role bi_reader": ["set role bi_reader", "set app.org_id = '{theirs}'"],
    "set role none": ["set role none", "select set_config('app.org_id', '{theirs}', false)"],
}


@pytest.mark.parametrize("attack", SETTINGS_ATTACKS)
async def test_setting_app_org_id_in_any_way_changes_nothing(world, attack):
    mine, theirs = world.orgs["a"]["org"], world.orgs["b"]["org"]
    conn = await world.connect_as(world.login("a"))
    try:
        for sql in SETTINGS_ATTACKS[attack]:
            await conn.execute(sql.format(theirs=theirs))
        seen = await visible_orgs(conn, world)
    finally:
        await conn.close()

    assert seen == {mine}


async def test_app_org_id_at_connect_or_as_the_role_default_changes_nothing(world):
    mine, theirs = world.orgs["a"]["org"], world.orgs["b"]["org"]
    login = world.login("a")
    conn = await world.connect_as(login, **{"app.org_id": str(theirs)})
    try:
        at_connect = await visible_orgs(conn, world)
        with pytest.raises(Denied):
            await conn.execute(f"alter role {login} set app.org_id = '{theirs}'")
    finally:
        await conn.close()
    # the former README recipe, run by an administrator, pointing elsewhere
    admin = await connect(world.url)
    try:
        await admin.execute(f"alter role {login} set app.org_id = '{theirs}'")
        conn = await world.connect_as(login)
        try:
            assert await conn.fetchval("select current_setting('app.org_id')") == str(theirs)
            as_default = await visible_orgs(conn, world)
        finally:
            await conn.close()
    finally:
        await admin.execute(f"alter role {login} reset app.org_id")
        await admin.close()

    assert (at_connect, as_default) == ({mine}, {mine})


@pytest.mark.parametrize("sql", [
    "set role steward_app",
    "select set_config('role', 'steward_app', false)",
    "set session authorization {superuser}",
    "set session authorization {other}",
    "select set_config('session_authorization', '{other}', false)",
])
async def test_a_login_cannot_become_the_service_or_another_login(world, sql):
    conn = await world.connect_as(world.login("a"))
    try:
        superuser = await conn.fetchval("select rolname from pg_roles where oid = 10")
        with pytest.raises(Denied):
            await conn.execute(sql.format(superuser=superuser, other=world.login("b")))
        assert (await conn.fetchval("select session_user"), await conn.fetchval("select current_user")) == \
            (world.login("a"), world.login("a"))
        seen = await visible_orgs(conn, world)
    finally:
        await conn.close()

    assert seen == {world.orgs["a"]["org"]}


async def test_a_login_in_bi_reader_granted_steward_app_still_reads_only_its_mapping(world):
    mine, theirs = world.orgs["a"]["org"], world.orgs["b"]["org"]
    admin = await connect(world.url)
    name = new_role_name("both")
    world.roles.append(name)
    try:
        world.passwords[name] = await create_bi_login(admin, world.orgs["a"]["slug"], name)
        # granted after the mapping was made (the mapping itself refuses members of steward_app)
        await admin.execute(f"grant steward_app to {name}")
        conn = await world.connect_as(name)
        try:
            await conn.execute("select set_config('role', 'steward_app', false),"
                               " set_config('app.org_id', $1, false)", str(theirs))
            assert await conn.fetchval("select current_user") == "steward_app"
            seen = await visible_orgs(conn, world)
        finally:
            await conn.close()
    finally:
        await admin.close()

    assert seen == {mine}


# --- revoking -------------------------------------------------------------------------------------------

async def test_a_revoked_login_sees_nothing_in_its_open_session_and_cannot_connect_again(world):
    admin = await connect(world.url)
    name = new_role_name("revoked")
    world.roles.append(name)
    try:
        world.passwords[name] = await create_bi_login(admin, world.orgs["a"]["slug"], name)
        conn = await world.connect_as(name)
        try:
            before = await visible_orgs(conn, world)
            # the mapping is what counts: without it, the same open session sees nothing at the next statement
            await admin.execute("delete from steward.bi_logins where role = $1", name)
            unmapped = {k: len(v) for k, v in (await read_all(conn, world)).items() if v and k not in ORGANIZATION_FREE}
            outcome = await revoke_bi_login(admin, name)
            try:
                after = {k: len(v) for k, v in (await read_all(conn, world)).items()
                         if v and k not in ORGANIZATION_FREE}
            except asyncpg.PostgresError as exc:  # the role is gone under the session
                after = type(exc).__name__
        finally:
            await conn.close()
        with pytest.raises((asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError)):
            await (await world.connect_as(name)).close()
    finally:
        await admin.close()

    assert before == {world.orgs["a"]["org"]}
    assert unmapped == {}
    assert outcome == "dropped"
    assert after in ({}, "InsufficientPrivilegeError")  # no rows, or no privileges left at all


async def test_revoking_a_login_that_still_holds_a_privilege_disables_it(world):
    admin = await connect(world.url)
    name = new_role_name("held")
    world.roles.append(name)
    try:
        world.passwords[name] = await create_bi_login(admin, world.orgs["a"]["slug"], name)
        database = urlsplit(world.url).path.lstrip("/")
        await admin.execute(f'grant create on database "{database}" to {name}')  # keeps DROP ROLE from working
        conn = await world.connect_as(name)
        try:
            outcome = await revoke_bi_login(admin, name)
            with pytest.raises(Denied):
                await conn.fetch("select * from metrics.deployments")
        finally:
            await conn.close()
        role = await admin.fetchrow("select rolcanlogin, pg_has_role(rolname, 'bi_reader', 'MEMBER') as bi"
                                    " from pg_roles where rolname = $1", name)
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await (await world.connect_as(name)).close()
        await admin.execute(f'revoke create on database "{database}" from {name}')
    finally:
        await admin.close()

    assert outcome.startswith("disabled")
    assert (role["rolcanlogin"], role["bi"]) == (False, False)


async def test_revoke_refuses_what_is_not_a_bi_login(world):
    admin = await connect(world.url)
    try:
        superuser = await admin.fetchval("select rolname from pg_roles where oid = 10")
        with pytest.raises(LookupError, match="no BI login"):
            await revoke_bi_login(admin, "bi_t_never_created")
        with pytest.raises(LookupError, match="not a BI login"):
            await revoke_bi_login(admin, "steward_app")
        with pytest.raises(LookupError, match="not a BI login"):
            await revoke_bi_login(admin, superuser)
        still = await admin.fetchval("select count(*) from pg_roles where rolname in ('steward_app', $1)", superuser)
    finally:
        await admin.close()

    assert still == 2


# --- the mapping itself -----------------------------------------------------------------------------------

async def test_nobody_but_the_owner_can_read_or_change_the_mapping(world):
    conn = await world.connect_as(world.login("a"))
    try:
        with pytest.raises(Denied, match="schema steward"):
            await conn.fetch("select * from steward.bi_logins")
        with pytest.raises(Denied, match="schema steward"):
            await conn.execute("update steward.bi_logins set org_id = $1", world.orgs["b"]["org"])
    finally:
        await conn.close()
    admin = await connect(world.url)
    try:
        read = await admin.fetch("select r, p, has_table_privilege(r, 'steward.bi_logins', p) as granted"
                                 " from unnest(array['public', 'bi_reader', 'steward_app', $1]) r,"
                                 " unnest(array['select', 'insert', 'update', 'delete', 'truncate']) p",
                                 world.login("a"))
        async with admin.transaction():
            await admin.execute("select set_config('role', 'steward_app', true)")
            with pytest.raises(Denied, match="bi_logins"):
                await admin.fetch("select * from steward.bi_logins")
        rls = await admin.fetchrow("select relrowsecurity, relforcerowsecurity from pg_class"
                                   " where oid = 'steward.bi_logins'::regclass")
    finally:
        await admin.close()

    assert [(r["r"], r["p"]) for r in read if r["granted"]] == []
    assert tuple(rls) == (True, True)


@pytest.mark.parametrize("kind, grant, error", [
    ("not in bi_reader", "login", "not a member of bi_reader"),
    ("in steward_app", "login in role bi_reader, steward_app", "member of steward_app"),
    ("superuser", "login superuser", "privileged"),
    ("bypassrls", "login bypassrls in role bi_reader", "privileged"),
])
async def test_the_mapping_refuses_a_role_that_is_not_a_plain_bi_login(conn, factory, kind, grant, error):
    org = await factory.org()
    name = new_role_name("bad")
    await conn.execute(f"create role {name} {grant}")  # inside the test's transaction: rolled back

    with pytest.raises(asyncpg.PostgresError, match=error):
        async with conn.transaction():
            await conn.execute("insert into steward.bi_logins (role, org_id) values ($1, $2)", name, org)


async def test_a_superuser_session_not_acting_as_the_service_has_no_organization(conn, factory):
    org = await factory.org()
    await conn.execute("select set_config('app.org_id', $1, true)", str(org))
    as_owner = await conn.fetchval("select steward.current_org_id()")
    await conn.execute("select set_config('role', 'steward_app', true)")
    as_service = await conn.fetchval("select steward.current_org_id()")

    assert (as_owner, as_service) == (None, org)


async def test_migration_0006_maps_a_login_made_with_the_former_recipe(server_url):
    database = await create_clone(server_url, "template0")
    conn = await connect(with_database(server_url, database))
    pinned, unpinned = new_role_name("former"), new_role_name("former_none")
    try:
        before = [m for m in migrations() if m.version < "0006"]
        for migration in before:
            await conn.execute(migration.sql)
        org = await conn.fetchval("insert into steward.organizations (slug, name) values ('acme', 'Acme') returning id")
        for role in (pinned, unpinned):
            await conn.execute(f"create role {role} login in role bi_reader")
        # per database, so that no other database on this server sees the setting
        await conn.execute(f'alter role {pinned} in database "{database}" set app.org_id = \'{org}\'')
        await conn.execute(f'alter role {unpinned} in database "{database}" set app.org_id = \'999999\'')
        await conn.execute(next(m for m in migrations() if m.version == "0006").sql)
        mapped = [tuple(r) for r in await conn.fetch("select role, org_id from steward.bi_logins")]
    finally:
        await conn.close()
        await drop_database(server_url, database)
        admin = await connect(server_url)
        try:
            await drop_roles(admin, [pinned, unpinned])
        finally:
            await admin.close()

    assert mapped == [(pinned, org)]


# --- the CLI ------------------------------------------------------------------------------------------------

async def steward(world: World, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")} | {"DATABASE_URL": world.url}
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=60)


async def test_the_cli_creates_a_login_that_connects_with_the_printed_password_and_revokes_it(world):
    name = new_role_name("cli")
    world.roles.append(name)
    slug, mine = world.orgs["b"]["slug"], world.orgs["b"]["org"]

    created = await steward(world, "bi-login", "create", "--org", slug, "--name", name)
    assert created.returncode == 0, created.stderr
    password = created.stdout.strip()
    assert len(password) >= 24 and "\n" not in password
    assert f"user={name}" in created.stderr and f"port={urlsplit(world.url).port}" in created.stderr

    conn = await world.connect_as(name, password)
    try:
        seen = await visible_orgs(conn, world)
    finally:
        await conn.close()
    if "DATABASE_URL" not in os.environ:  # the embedded server asks every role but the superuser for its password
        with pytest.raises(asyncpg.InvalidPasswordError):
            await (await world.connect_as(name, "not-the-password")).close()

    again = await steward(world, "bi-login", "create", "--org", slug, "--name", name)
    unknown = await steward(world, "bi-login", "create", "--org", "no-such-org", "--name", new_role_name("x"))
    invalid = await steward(world, "bi-login", "create", "--org", slug, "--name", 'x"; drop role postgres; --')
    listed = await steward(world, "bi-login", "list", "--org", slug)
    revoked = await steward(world, "bi-login", "revoke", name)
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await (await world.connect_as(name, password)).close()
    revoked_again = await steward(world, "bi-login", "revoke", name)

    assert seen == {mine}
    assert (again.returncode, unknown.returncode, invalid.returncode) == (2, 2, 2)
    assert "already exists" in again.stderr and "no organization" in unknown.stderr
    assert "invalid login name" in invalid.stderr
    assert "Traceback" not in again.stderr + unknown.stderr + invalid.stderr
    assert any(line.split()[:2] == [name, slug] for line in listed.stdout.splitlines())
    assert revoked.returncode == 0 and "dropped" in revoked.stderr
    assert revoked_again.returncode == 2 and "no BI login" in revoked_again.stderr
