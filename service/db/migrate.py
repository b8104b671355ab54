"""Apply numbered migrations once (checksummed) and rebuild the repeatable views when they change."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

from service.sql_files import load

# Package data of `service.sql` (the top-level sql/ folder in a checkout), so a wheel works too.
SQL_DIR = resources.files("service.sql")
MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"
# The file that classifies conversations: when its content changes, the rollups are recomputed
# (its name does not count: it was 010_facts.sql until #11, as migration 0004 still says).
ROLLUP_FILE = "010_conversation_rollup.sql"
LOCK_KEY = 0x5E7A4D  # pg_advisory_lock key: one migrator at a time per database
SQL = load("service.db", "migrate.sql")


class MigrationError(RuntimeError):
    """The database and the migration files disagree."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Traversable

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Report:
    applied: list[str]
    views_rebuilt: bool
    partitions_created: list[str] = field(default_factory=list)


def sql_files(directory: Traversable) -> list[Traversable]:
    """The directory's .sql files, by name."""
    return sorted((p for p in directory.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)


def migrations(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sql_files(directory):
        version, _, name = path.name.removesuffix(".sql").partition("_")
        if not version.isdigit():
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        found.append(Migration(version, name, path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return found


def views_checksum(directory: Traversable | None = None, migration_list: list[Migration] | None = None) -> str:
    """Changes when any view file (of VIEWS_DIR, the one rebuilt) changes, is added, removed or renamed, or when
    a migration is added (tables under the views moved)."""
    digest = hashlib.sha256()
    for m in migration_list if migration_list is not None else migrations():
        digest.update(m.checksum.encode())
    for path in sql_files(directory if directory is not None else VIEWS_DIR):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


async def _applied(conn: asyncpg.Connection) -> dict[str, str]:
    exists = await conn.fetchval(SQL["migrations_recorded"])
    if not exists:
        return {}
    rows = await conn.fetch(SQL["applied_migrations"])
    return {r["version"]: r["checksum"] for r in rows}


def _verify(applied: dict[str, str], files: list[Migration]) -> list[Migration]:
    """Refuse edited or unknown migrations; return the ones still to apply."""
    by_version = {m.version: m for m in files}
    for version, checksum in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version}, which this version of Steward does not have: "
                "it was migrated by a newer Steward"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{migration.path.name} was edited after it was applied "
                f"(recorded checksum {checksum[:12]}, file now {migration.checksum[:12]}); "
                "committed migrations are never edited: add a new numbered migration instead"
            )
    return [m for m in files if m.version not in applied]


async def pending(conn: asyncpg.Connection) -> tuple[list[Migration], bool]:
    """What `migrate` would do: migrations to apply and whether views need a rebuild."""
    files = migrations()
    todo = _verify(await _applied(conn), files)
    current = None
    if await conn.fetchval(SQL["views_recorded"]):
        current = await conn.fetchval(SQL["views_checksum"])
    return todo, current != views_checksum(migration_list=files)


# Months of conversations partitions `migrate` creates ahead (Settings.partition_months_ahead).
MONTHS_AHEAD = 3


async def migrate(conn: asyncpg.Connection, months_ahead: int = MONTHS_AHEAD) -> Report:
    """Bring the database up to date; safe to run twice or from two processes at once.

    Also creates the monthly partitions of steward.conversations `months_ahead` months ahead.
    """
    await conn.execute(SQL["lock"], LOCK_KEY)
    try:
        await conn.execute(SQL["bookkeeping"])
        files = migrations()
        todo = _verify(await _applied(conn), files)
        for migration in todo:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(SQL["record_migration"], migration.version, migration.name, migration.checksum)
        wanted = views_checksum(migration_list=files)
        current = await conn.fetchval(SQL["views_checksum"])
        rebuilt = current != wanted
        if rebuilt:
            await _rebuild_views(conn, wanted)
        created = [r["name"] for r in await conn.fetch(SQL["ensure_partitions"], months_ahead)]
        return Report(applied=[f"{m.version}_{m.name}" for m in todo], views_rebuilt=rebuilt,
                      partitions_created=created)
    finally:
        await conn.execute(SQL["unlock"], LOCK_KEY)


def rollup_checksum() -> str:
    return hashlib.sha256((VIEWS_DIR / ROLLUP_FILE).read_bytes()).hexdigest()


async def _rebuild_views(conn: asyncpg.Connection, checksum: str) -> None:
    """Drop and recreate the repeatable schemas in one transaction; refresh rollups if their rules changed."""
    rollup = rollup_checksum()
    async with conn.transaction():
        previous_rollup = await conn.fetchval(SQL["rollup_checksum"])
        await conn.execute(SQL["reset_repeatable_schemas"])
        for path in sql_files(VIEWS_DIR):
            try:
                await conn.execute(path.read_text())
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{path.name}: {exc}") from exc
        if previous_rollup != rollup:
            # the classification rules changed: recompute what the rollups hold
            # (minutes at tens of millions of conversations, so only then)
            await conn.execute(SQL["refresh_rollups"])
        await conn.execute(SQL["record_views"], checksum, rollup)
