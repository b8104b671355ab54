"""Citus-ready tenancy (issue 16, item 3): the catalog obeys the rules of distributing by org_id.

Citus can't be installed here, so its preconditions are read from pg_catalog instead. Every
table of the database is one of three kinds:

* a tenant table (every table not listed below): it has `org_id bigint not null`, the column it
  would be distributed by (`create_distributed_table(…, 'org_id')`), and
  - every unique index (primary key, unique constraint, unique index) has org_id among its key
    columns: a shard can only check uniqueness of rows it holds;
  - every exclusion constraint compares org_id with `=`, for the same reason;
  - every foreign key to another tenant table maps org_id to org_id (both tables are co-located,
    so the referenced row is on the same shard); a foreign key to a reference table is fine;
  - a foreign key whose columns include org_id has no ON DELETE SET NULL / SET DEFAULT and no
    ON UPDATE SET NULL / SET DEFAULT / CASCADE (Citus refuses them: they could change the
    distribution column; src/backend/distributed/commands/foreign_constraint.c);
* a reference table (REFERENCE_TABLES): small, global or read before the organization is known;
  replicated to every node (`create_reference_table`). It may reference only reference tables.
* a coordinator table (COORDINATOR_TABLES): bookkeeping of `steward migrate`, never read by a
  tenant query; it stays a plain table on the coordinator. No Citus table may reference it.

A new table is a tenant table unless it is added to one of the lists, so it can't slip past the
rules. docs/scale-out.md justifies each listed table and holds the statements that distribute the
schema; the last test keeps those statements in step with the catalog.
"""
from __future__ import annotations

import re
from graphlib import TopologicalSorter
from pathlib import Path

import asyncpg
import pytest

from ..factory import at

ROOT = Path(__file__).resolve().parents[2]
SCALE_OUT = ROOT / "docs" / "scale-out.md"

# Replicated to every node; docs/scale-out.md says why each one is global.
REFERENCE_TABLES = frozenset({
    "steward.organizations",      # the tenants themselves: every tenant table references them
    "steward.api_tokens",         # looked up by token hash before the organization is known
    "steward.bi_logins",          # read by current_org_id() inside every policy, on every node
    "steward.trusted_documents",  # GraphQL documents, shared by all organizations
    "steward.conversation_retention",  # retention's one horizon, read by every rollup refresh
})
# Plain tables on the coordinator: the migrator's bookkeeping and the views' build-time glossary.
COORDINATOR_TABLES = frozenset({
    "steward_meta.schema_migrations",
    "steward_meta.views_state",
    "internals.glossary",
})

TABLES = r"""
select c.oid, format('%I.%I', n.nspname, c.relname) as name, c.relispartition,
       a.attnum as org_attnum, a.atttypid = 'bigint'::regtype as org_bigint, a.attnotnull as org_not_null
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attribute a on a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped
 where c.relkind in ('r', 'p')
   and n.nspname <> 'information_schema' and n.nspname not like 'pg\_%'
 order by 2
"""

# Unique indexes (primary keys and unique constraints included) and their key columns.
UNIQUE_INDEXES = """
select i.indrelid as table_oid, i.indexrelid::regclass::text as index,
       array(select k from unnest(i.indkey::int2[]) with ordinality u (k, pos)
              where pos <= i.indnkeyatts order by pos) as keys,
       pg_get_indexdef(i.indexrelid) as definition
  from pg_index i
 where i.indisunique
"""

EXCLUSIONS = """
select x.conrelid as table_oid, x.conname, x.conkey,
       array(select o.oprname from unnest(x.conexclop) with ordinality e (op, pos)
               join pg_operator o on o.oid = e.op order by e.pos) as operators
  from pg_constraint x
 where x.contype = 'x'
"""

FOREIGN_KEYS = """
select f.conrelid as table_oid, f.confrelid as referenced_oid, f.conname, f.conkey, f.confkey,
       f.confdeltype::text, f.confupdtype::text, pg_get_constraintdef(f.oid) as definition
  from pg_constraint f
 where f.contype = 'f'
"""


async def tenant_tables(conn: asyncpg.Connection) -> set[str]:
    """The tenant tables (schema-qualified names): every table with org_id that is not listed above.

    Partitions count under their own names too (a plan scans a partition by its name)."""
    return {row["name"] for row in await conn.fetch(TABLES)
            if row["org_attnum"] is not None and row["name"] not in REFERENCE_TABLES | COORDINATOR_TABLES}


async def citus_violations(conn: asyncpg.Connection) -> list[str]:
    """Every way the database's tables break the rules above, one line each (empty: Citus-ready)."""
    tables = {row["oid"]: row for row in await conn.fetch(TABLES)}

    def kind(oid: int) -> str:
        name = tables[oid]["name"]
        if name in REFERENCE_TABLES:
            return "reference"
        if name in COORDINATOR_TABLES:
            return "coordinator"
        return "tenant"

    found: list[str] = []
    for oid, table in tables.items():
        if kind(oid) == "tenant" and table["org_attnum"] is None:
            found.append(f"{table['name']}: no org_id column, and not a reference or coordinator table")
        elif kind(oid) == "tenant" and not (table["org_bigint"] and table["org_not_null"]):
            found.append(f"{table['name']}: org_id must be bigint not null")

    def tenant_org(oid: int) -> int | None:
        """The attnum of org_id when `oid` is a tenant table that has one."""
        return tables[oid]["org_attnum"] if oid in tables and kind(oid) == "tenant" else None

    for index in await conn.fetch(UNIQUE_INDEXES):
        org = tenant_org(index["table_oid"])
        if org is not None and org not in index["keys"]:
            found.append(f"{tables[index['table_oid']]['name']}: unique index {index['index']} "
                         f"lacks org_id ({index['definition']})")

    for exclusion in await conn.fetch(EXCLUSIONS):
        org = tenant_org(exclusion["table_oid"])
        if org is not None and not any(key == org and op == "="
                                       for key, op in zip(exclusion["conkey"], exclusion["operators"], strict=True)):
            found.append(f"{tables[exclusion['table_oid']]['name']}: exclusion constraint {exclusion['conname']} "
                         f"does not compare org_id with =")

    for fk in await conn.fetch(FOREIGN_KEYS):
        if fk["table_oid"] not in tables or fk["referenced_oid"] not in tables:
            continue
        source, target = tables[fk["table_oid"]], tables[fk["referenced_oid"]]
        where = f"{source['name']}: foreign key {fk['conname']} ({fk['definition']})"
        source_kind, target_kind = kind(fk["table_oid"]), kind(fk["referenced_oid"])
        if source_kind == "coordinator":
            if target_kind != "coordinator":
                found.append(f"{where}: a coordinator table cannot reference a Citus table")
            continue
        if target_kind == "coordinator":
            found.append(f"{where}: references a coordinator table")
            continue
        if source_kind == "reference":
            if target_kind != "reference":
                found.append(f"{where}: a reference table may reference reference tables only")
            continue
        org = source["org_attnum"]
        if org is None:
            continue  # reported above
        pairs = zip(fk["conkey"], fk["confkey"], strict=True)
        if target_kind == "tenant" and not any(key == org and ref == target["org_attnum"] for key, ref in pairs):
            found.append(f"{where}: does not map org_id to org_id")
        if org in fk["conkey"] and (fk["confdeltype"] in ("n", "d") or fk["confupdtype"] in ("n", "d", "c")):
            found.append(f"{where}: SET NULL/SET DEFAULT (or ON UPDATE CASCADE) on a key that includes org_id")
    return found


async def test_every_table_is_citus_ready(conn):
    assert await citus_violations(conn) == []


async def test_the_listed_tables_exist_and_are_global(conn):
    """No stale entry: each listed table exists, and a reference table holds no org-scoped unique key by mistake."""
    names = {row["name"] for row in await conn.fetch(TABLES)}
    assert REFERENCE_TABLES - names == set()
    assert COORDINATOR_TABLES - names == set()
    assert not REFERENCE_TABLES & COORDINATOR_TABLES


async def test_the_checker_reports_each_kind_of_violation(conn):
    """Tables that break each rule, created in this test's transaction (rolled back), are all reported."""
    await conn.execute("""
        create table steward.citus_no_org (id bigint primary key);
        create table steward.citus_nullable_org (org_id integer, id bigint);
        create table steward.citus_bad (
            org_id     bigint not null references steward.organizations,
            id         bigint generated always as identity,
            person_id  bigint,
            owner_id   bigint,
            slot       tstzrange,
            token_id   bigint,
            version    text references steward_meta.schema_migrations,
            primary key (org_id, id),
            unique (id),
            constraint citus_bad_slot exclude using gist (person_id with =, slot with &&),
            constraint citus_bad_person foreign key (person_id) references steward.citus_bad (id),
            constraint citus_bad_owner foreign key (org_id, owner_id) references steward.persons (org_id, id)
                on delete set null (owner_id),
            constraint citus_bad_meta foreign key (token_id) references steward.citus_no_org (id)
        );
        create unique index citus_bad_person_key on steward.citus_bad (person_id) where person_id is not null;
        alter table steward.trusted_documents add column citus_person bigint;
        alter table steward.trusted_documents add constraint citus_ref_to_tenant
            foreign key (citus_person) references steward.citus_bad (id);
    """)
    violations = "\n".join(await citus_violations(conn))

    assert "steward.citus_no_org: no org_id column" in violations
    assert "steward.citus_nullable_org: org_id must be bigint not null" in violations
    assert re.search(r"steward.citus_bad: foreign key citus_bad_version_fkey .*: references a coordinator table",
                     violations)
    assert "unique index steward.citus_bad_id_key lacks org_id" in violations
    assert "unique index steward.citus_bad_person_key lacks org_id" in violations
    assert "exclusion constraint citus_bad_slot does not compare org_id with =" in violations
    assert re.search(r"foreign key citus_bad_person .*: does not map org_id to org_id", violations)
    assert re.search(r"foreign key citus_bad_owner .*: does not map", violations) is None
    assert re.search(r"foreign key citus_bad_owner .*: SET NULL", violations)
    assert re.search(r"foreign key citus_bad_meta .*: does not map org_id", violations)
    assert re.search(r"steward.trusted_documents: foreign key citus_ref_to_tenant .*: a reference table may "
                     r"reference reference tables only", violations)
    assert "steward.organizations" not in violations


async def test_the_checker_sees_an_org_id_that_maps_to_another_column(conn):
    """org_id present on both sides is not enough: it must be paired with org_id."""
    await conn.execute("""
        create table steward.citus_swapped (
            org_id     bigint not null,
            id         bigint not null,
            person_id  bigint not null,
            primary key (org_id, id),
            constraint citus_swapped_person foreign key (person_id, org_id) references steward.persons (org_id, id)
        );
    """)
    violations = await citus_violations(conn)
    assert [v for v in violations if "citus_swapped" in v] == [
        "steward.citus_swapped: foreign key citus_swapped_person (FOREIGN KEY (person_id, org_id) "
        "REFERENCES steward.persons(org_id, id)): does not map org_id to org_id"]


# --- what migration 0014 changed keeps the service's behaviour ---------------------------------------

async def token_signed_rows(factory) -> tuple[int, int, int]:
    """An organization whose token signed an ownership change and an acknowledgement (three cascades down)."""
    conn = factory.conn
    org = await factory.org()
    person = await factory.person(org)
    dep = await factory.deployment(org)
    await conn.execute("update steward.deployments set escalation_person_id = $2 where id = $1", dep, person)
    token = await conn.fetchval(
        "insert into steward.api_tokens (org_id, name, token_hash, scopes)"
        " values ($1, 'ci', sha256(random()::text::bytea), '{admin}') returning id", org)
    assignment = await factory.assign(org, dep, person, at("2026-03-01", 0))
    await conn.execute(
        "insert into steward.ownership_changes (org_id, deployment_id, action, new_person_id, started_assignment_id,"
        " effective_at, token_id, token_name) values ($1, $2, 'ASSIGNED', $3, $4, $5, $6, 'ci')",
        org, dep, person, assignment, at("2026-03-01", 0), token)
    event = await factory.health_event(org, dep, at("2026-03-02"), None, "HEALTHY", None, [])
    await conn.execute("insert into steward.health_event_acknowledgements (org_id, event_id, token_id, token_name)"
                       " values ($1, $2, $3, 'ci')", org, event, token)
    return org, token, person


async def test_an_organization_whose_token_signed_rows_is_purged_whole(factory):
    org, _, _ = await token_signed_rows(factory)
    await factory.conn.execute("select set_config('steward.purge', 'on', true)")
    await factory.conn.execute("delete from steward.organizations where id = $1", org)
    await factory.conn.execute("set constraints all immediate")   # the deferred checks, now rather than at commit

    left = await factory.conn.fetchval(
        "select (select count(*) from steward.api_tokens where org_id = $1)"
        " + (select count(*) from steward.ownership_changes where org_id = $1)"
        " + (select count(*) from steward.health_event_acknowledgements where org_id = $1)", org)
    assert left == 0


@pytest.mark.parametrize("table", ["api_tokens", "persons"])
async def test_a_token_or_person_that_rows_name_is_not_deleted_alone(factory, table):
    """NO ACTION instead of SET NULL: who signed an audit row, or is the escalation contact, is never blanked."""
    org, token, person = await token_signed_rows(factory)
    await factory.conn.execute("select set_config('steward.purge', 'on', true)")  # past the append-only guards
    with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError):
        async with factory.conn.transaction():
            await factory.conn.execute(f"delete from steward.{table} where id = $1",
                                       token if table == "api_tokens" else person)
            await factory.conn.execute("set constraints all immediate")


async def test_ids_stay_unique_by_generation(factory):
    """Without `unique (id)` an identity value still can't be given twice: the column is generated always."""
    org = await factory.org()
    with pytest.raises(asyncpg.exceptions.GeneratedAlwaysError):
        async with factory.conn.transaction():
            await factory.conn.execute("insert into steward.persons (org_id, id, name, email, function)"
                                       " values ($1, 1, 'A', 'a@example.com', 'CX')", org)
    ids = await factory.conn.fetch("""
        select c.relname, a.attidentity::text
          from pg_attribute a join pg_class c on c.oid = a.attrelid
         where c.relnamespace = 'steward'::regnamespace and c.relkind in ('r', 'p') and a.attname = 'id'
           -- a partition's rows get their id from its parent; conversation_keys.id copies conversations.id
           and not c.relispartition and c.relname <> 'conversation_keys'
           and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisunique
                                                      and i.indnatts = 1 and i.indkey[0] = a.attnum)
    """)
    assert len(ids) >= 12
    assert {row["relname"]: row["attidentity"] for row in ids if row["attidentity"] != "a"} == {}


# --- docs/scale-out.md ------------------------------------------------------------------------------

STATEMENT = re.compile(r"select (create_reference_table|create_distributed_table)\('([a-z_.]+)'"
                       r"(?:, 'org_id'(?:, colocate_with => '([a-z_.]+)')?)?\);")


async def test_scale_out_statements_cover_every_table_in_dependency_order(conn):
    """docs/scale-out.md distributes each tenant table, replicates each reference table, after what it references."""
    tables = {row["oid"]: row for row in await conn.fetch(TABLES)}
    statements = STATEMENT.findall(SCALE_OUT.read_text())
    order = [name for _, name, _ in statements]
    assert len(order) == len(set(order)), "a table appears twice"

    tenant = {t["name"] for t in tables.values()
              if not t["relispartition"] and t["name"] not in REFERENCE_TABLES | COORDINATOR_TABLES}
    assert {name for fn, name, _ in statements if fn == "create_distributed_table"} == tenant
    assert {name for fn, name, _ in statements if fn == "create_reference_table"} == set(REFERENCE_TABLES)

    anchor = next(name for fn, name, _ in statements if fn == "create_distributed_table")
    for fn, name, colocate in statements:
        if fn == "create_distributed_table":
            assert colocate == ("none" if name == anchor else anchor), name

    graph = TopologicalSorter({name: set() for name in order})
    for fk in await conn.fetch(FOREIGN_KEYS):
        source, target = tables.get(fk["table_oid"]), tables.get(fk["referenced_oid"])
        if source and target and source["name"] in order and source["name"] != target["name"]:
            assert order.index(target["name"]) < order.index(source["name"]), \
                f"{source['name']} is distributed before {target['name']}, which it references"
            graph.add(source["name"], target["name"])
    graph.prepare()  # no cycle
