"""Shared pieces of the automation tests: a small committed organization, its tokens, the mutations."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from schema.relay import to_global_id
from service.db.pool import connect

from ..factory import Factory
from .conftest import make_token

UTC = timezone.utc
_orgs = itertools.count(1)

ASSIGN = """
mutation Assign($input: AssignOwnerInput!) {
  assignOwner(input: $input) {
    __typename
    ... on AssignOwnerSuccess {
      changed replayed
      assignment { id validFrom validTo assignedBy reason person { id name } }
      endedAssignment { id validTo endedReason person { id } }
      change { action tokenId tokenName reason previousOwner { id } newOwner { id } }
      deployment { id owner { id } health { status reasons { code } } }
    }
    ... on UserError { message field }
  }
}
"""

UNASSIGN = """
mutation Unassign($input: UnassignOwnerInput!) {
  unassignOwner(input: $input) {
    __typename
    ... on UnassignOwnerSuccess {
      changed replayed
      endedAssignment { id validTo endedReason }
      change { action previousOwner { id } newOwner { id } }
      deployment { owner { id } health { status reasons { code } } }
    }
    ... on UserError { message field }
  }
}
"""

DEACTIVATE = """
mutation Deactivate($input: DeactivatePersonInput!) {
  deactivatePerson(input: $input) {
    __typename
    ... on DeactivatePersonSuccess {
      changed replayed
      person { id active deactivatedAt }
      unownedDeployments { id key owner { id } health { status reasons { code } } }
      endedAssignments { id validTo endedReason }
      changes { action }
    }
    ... on UserError { message field }
  }
}
"""


@dataclass
class Org:
    """A committed organization with people, deployments and tokens of every kind."""

    db_url: str
    id: int
    slug: str
    persons: list[int]
    deployments: list[int]
    tokens: dict[str, str] = field(default_factory=dict)

    def person(self, i: int) -> str:
        return to_global_id("Person", self.persons[i])

    def deployment(self, i: int) -> str:
        return to_global_id("Deployment", self.deployments[i])


async def seed(db_url: str, *, persons: int = 3, deployments: int = 2, owner: int | None = None,
               owned_since: timedelta = timedelta(days=60), slug: str | None = None) -> Org:
    """An organization; with `owner`, that person owns every deployment since `owned_since` ago."""
    slug = slug or f"auto-{next(_orgs)}"
    now = datetime.now(UTC)
    conn = await connect(db_url)
    try:
        f = Factory(conn)
        org_id = await f.org(slug)
        person_ids = [await f.person(org_id, name=f"{slug} person {i}") for i in range(persons)]
        deployment_ids = [await f.deployment(org_id, key=f"bot-{i}", launched_at=now - timedelta(days=90))
                          for i in range(deployments)]
        if owner is not None:
            for d in deployment_ids:
                await f.assign(org_id, d, person_ids[owner], now - owned_since, reason="seed")
    finally:
        await conn.close()
    org = Org(db_url, org_id, slug, person_ids, deployment_ids)
    for kind, scopes in (("read", "read"), ("owners", "read,write:owners"), ("activity", "read,write:activity"),
                         ("admin", "admin")):
        org.tokens[kind] = await make_token(db_url, slug, scopes)
    return org


async def assign(org: Org, deployment: int, person: int, since: timedelta) -> None:
    """Person `person` owns deployment `deployment` since `since` ago (written as the owner, not the API)."""
    await sql(org.db_url, "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid, reason)"
                          " values ($1, $2, $3, tstzrange(now() - $4::interval, null), 'seed')",
              org.id, org.deployments[deployment], org.persons[person], since)


async def sql(db_url: str, query: str, *args):
    """Rows as the database owner sees them (no row-level security)."""
    conn = await connect(db_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def periods(db_url: str, deployment_id: int) -> list:
    """A deployment's ownership periods, oldest first."""
    return await sql(db_url, "select id, person_id, lower(valid) as since, upper(valid) as until, reason,"
                             " ended_reason, assigned_by from steward.ownership_assignments"
                             " where deployment_id = $1 order by lower(valid)", deployment_id)


async def counts(db_url: str, org_id: int) -> dict[str, int]:
    """Rows per tenant table of one organization: equal before and after means nothing was written."""
    tables = ("persons", "deployments", "ownership_assignments", "ownership_changes", "workflow_updates",
              "performance_reviews", "idempotency_keys", "health_events", "health_event_acknowledgements")
    result = {}
    for table in tables:
        rows = await sql(db_url, f"select count(*) as n, md5(coalesce(string_agg(t::text, ',' order by t::text), ''))"
                                 f" as digest from steward.{table} t where org_id = $1", org_id)
        result[table] = (rows[0]["n"], rows[0]["digest"])
    return result


def payload(body: dict, name: str) -> dict:
    assert "errors" not in body, body["errors"]
    return body["data"][name]
