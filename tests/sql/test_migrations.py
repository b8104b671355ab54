"""service.db.migrate against real databases: idempotence, checksums, concurrency, the documented views."""
import asyncio
import shutil

import pytest

import service.db.migrate as migrate_module
from service.db.migrate import MigrationError, migrate, pending
from service.db.pool import connect

from ..conftest import create_clone, drop_database, with_database
from ..factory import Factory, at

# every numbered file under sql/migrations, in order
ALL = [f"{m.version}_{m.name}" for m in migrate_module.migrations()]


@pytest.fixture
async def empty_db_url(server_url: str) -> str:
    """A database with nothing in it (a clone of template0), dropped afterwards."""
    name = await create_clone(server_url, "template0")
    yield with_database(server_url, name)
    await drop_database(server_url, name)


async def test_migrating_twice_is_a_no_op(empty_db_url):
    conn = await connect(empty_db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        todo, views_stale = await pending(conn)
        recorded = await conn.fetch("select version, name from steward_meta.schema_migrations order by version")
    finally:
        await conn.close()

    assert (first.applied, first.views_rebuilt) == (ALL, True)
    assert (second.applied, second.views_rebuilt) == ([], False)
    assert (todo, views_stale) == ([], False)
    assert [f"{r['version']}_{r['name']}" for r in recorded] == ALL
    assert ALL[:2] == ["0001_core_tables", "0002_tenancy"]


async def test_two_concurrent_migrations_apply_once(empty_db_url):
    first, second = await connect(empty_db_url), await connect(empty_db_url)
    try:
        reports = await asyncio.gather(migrate(first), migrate(second))
        recorded = await first.fetchval("select count(*) from steward_meta.schema_migrations")
        views_state = await first.fetchval("select count(*) from steward_meta.views_state")
    finally:
        await first.close()
        await second.close()

    # the advisory lock serialises them: whoever came second found nothing to do
    assert sorted((r.applied, r.views_rebuilt) for r in reports) == [([], False), (ALL, True)]
    assert (recorded, views_state) == (len(ALL), 1)


async def test_an_edited_applied_migration_is_refused(fresh_db_url):
    conn = await connect(fresh_db_url)
    try:
        await conn.execute(
            "update steward_meta.schema_migrations set checksum = 'deadbeef0000aaaa' where version = '0001'"
        )
        with pytest.raises(MigrationError) as by_migrate:
            await migrate(conn)
        with pytest.raises(MigrationError) as by_pending:
            await pending(conn)
        recorded = await conn.fetchval("select count(*) from steward_meta.schema_migrations")
    finally:
        await conn.close()

    message = str(by_migrate.value)
    assert "0001_core_tables.sql was edited after it was applied" in message
    assert "recorded checksum deadbeef0000" in message
    assert "add a new numbered migration instead" in message
    assert str(by_pending.value) == message
    assert recorded == len(ALL)


async def test_a_migration_unknown_to_these_files_is_refused(fresh_db_url):
    conn = await connect(fresh_db_url)
    try:
        await conn.execute(
            "insert into steward_meta.schema_migrations (version, name, checksum) values ('9999', 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="has migration 9999.*newer Steward"):
            await migrate(conn)
    finally:
        await conn.close()


async def test_changed_rollup_rules_rebuild_views_and_recompute_the_rollup(fresh_db_url):
    conn = await connect(fresh_db_url)
    try:
        factory = Factory(conn)
        org = await factory.org()
        dep = await factory.deployment(org)
        topic = await factory.topic(org)
        await factory.workflow(org, dep, topic)
        await factory.conversation(org, dep, topic, at("2026-03-03"))
        await conn.execute("delete from steward.conversation_daily")
        await conn.execute("update steward_meta.views_state set checksum = 'old', rollup_checksum = 'old'")

        report = await migrate(conn)
        rebuilt_rollup = await conn.fetchval("select sum(conversations) from steward.conversation_daily")
        # the rebuilt triggers keep maintaining the rollup
        await factory.conversation(org, dep, topic, at("2026-03-04"))
        maintained = await conn.fetchval("select sum(conversations) from steward.conversation_daily")
    finally:
        await conn.close()

    assert (report.applied, report.views_rebuilt) == ([], True)
    assert (rebuilt_rollup, maintained) == (1, 2)


async def test_other_view_changes_keep_the_rollup(fresh_db_url):
    """Recomputing every rollup takes minutes at scale: only a change of the rules triggers it."""
    conn = await connect(fresh_db_url)
    try:
        factory = Factory(conn)
        org = await factory.org()
        dep = await factory.deployment(org)
        topic = await factory.topic(org)
        await factory.workflow(org, dep, topic)
        await factory.conversation(org, dep, topic, at("2026-03-03"))
        await conn.execute("update steward.conversation_daily set conversations = 7")  # a marker
        await conn.execute("update steward_meta.views_state set checksum = 'old'")

        report = await migrate(conn)
        marker = await conn.fetchval("select sum(conversations) from steward.conversation_daily")
    finally:
        await conn.close()

    assert report.views_rebuilt and marker == 7


async def test_renaming_the_rollup_file_rebuilds_the_views_and_keeps_the_rollup(fresh_db_url, tmp_path,
                                                                                 monkeypatch):
    """A database built while the rules were in 010_facts.sql (their name before #11) moves on cleanly."""
    before = tmp_path / "views"
    shutil.copytree(migrate_module.VIEWS_DIR, before)
    (before / migrate_module.ROLLUP_FILE).rename(before / "010_facts.sql")
    conn = await connect(fresh_db_url)
    try:
        factory = Factory(conn)
        org = await factory.org()
        dep = await factory.deployment(org)
        topic = await factory.topic(org)
        await factory.workflow(org, dep, topic)
        await factory.conversation(org, dep, topic, at("2026-03-03"))
        with monkeypatch.context() as old:
            old.setattr(migrate_module, "VIEWS_DIR", before)
            old.setattr(migrate_module, "ROLLUP_FILE", "010_facts.sql")
            await conn.execute("update steward_meta.views_state set checksum = 'old'")
            built_before = await migrate(conn)
        await conn.execute("update steward.conversation_daily set conversations = 7")  # a marker
        stale = await pending(conn)

        report = await migrate(conn)
        marker = await conn.fetchval("select sum(conversations) from steward.conversation_daily")
        after = await pending(conn)
        still_works = await conn.fetchval("select count(*) from metrics.deployment_health")
    finally:
        await conn.close()

    assert built_before.views_rebuilt and stale == ([], True)
    assert (report.applied, report.views_rebuilt) == ([], True)
    assert marker == 7  # the same rules under a new name: not recomputed
    assert after == ([], False) and still_works == 1


async def test_a_failing_view_file_leaves_the_previous_views_in_place(fresh_db_url, tmp_path, monkeypatch):
    broken = tmp_path / "views"
    shutil.copytree(migrate_module.VIEWS_DIR, broken)
    (broken / "050_broken.sql").write_text("create view metrics.broken as select * from steward.no_such_table;\n")
    monkeypatch.setattr(migrate_module, "VIEWS_DIR", broken)
    conn = await connect(fresh_db_url)
    try:
        await conn.execute("update steward_meta.views_state set checksum = 'old'")
        with pytest.raises(MigrationError, match="050_broken.sql"):
            await migrate(conn)
        views = await conn.fetchval("select count(*) from pg_views where schemaname = 'metrics'")
        checksum = await conn.fetchval("select checksum from steward_meta.views_state")
        still_works = await conn.fetchval("select count(*) from metrics.deployment_health")
    finally:
        await conn.close()

    # the drop and the re-creation are one transaction: everything is as before
    assert views > 0 and still_works == 0
    assert checksum == "old"


async def test_every_column_of_every_metrics_view_has_a_comment(conn):
    rows = await conn.fetch(
        """
        select c.relname, a.attname, col_description(c.oid, a.attnum) as doc, obj_description(c.oid) as view_doc
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = 'metrics' and c.relkind in ('v', 'm')
        order by 1, 2
        """
    )

    undocumented = [f"{r['relname']}.{r['attname']}" for r in rows if not (r["doc"] or "").strip()]
    views_without_comment = sorted({r["relname"] for r in rows if not (r["view_doc"] or "").strip()})
    assert {"deployments", "deployment_daily", "deployment_last_30_days", "deployment_weekly", "current_owners",
            "ownership_periods", "deployment_health", "ownership_overview",
            "ownership_impact_last_90_days"} <= {r["relname"] for r in rows}
    assert undocumented == []
    assert views_without_comment == []


async def test_every_metrics_function_has_a_comment(conn):
    rows = await conn.fetch(
        "select p.oid::regprocedure::text as name, obj_description(p.oid, 'pg_proc') as doc from pg_proc p"
        " where p.pronamespace = 'metrics'::regnamespace order by 1"
    )
    assert len(rows) >= 6
    assert [r["name"] for r in rows if not (r["doc"] or "").strip()] == []
