"""Deployment.ownershipGaps through GraphQL: figures, previous owner, batching; the decay threshold in the policy."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schema.relay import to_global_id
from service.db.pool import connect

from ..factory import Factory
from .automation import payload, seed, sql
from .conftest import make_token, run_schema
from .world import build_world

UTC = timezone.utc

GAPS = """
query($key: String!) {
  deployment(orgSlug: "acme", key: $key) {
    health { status reasons { code message } }
    ownershipGaps {
      startedAt endedAt isOpen durationDays
      previousOwner { id name }
      baseline { window { from to } conversations addressable aiResolved addressableResolutionRate topicCoverage }
      during { window { from to } addressable aiResolved aiOutcomes reopened addressableResolutionRate reopenRate }
      latest { window { from to } addressable aiResolved addressableResolutionRate }
      arrChangePoints resolutionsLost escalationCostPerResolution estimatedCost
    }
  }
}
"""


@pytest.fixture(scope="module")
async def world(module_db_url):
    """The read-API world (every deployment launched 200 days ago, owned from 100 days ago, every tenth
    never), plus `left-bot`: its owner left 10 days ago at 16:30 UTC, with ARR 80% in the 4 weeks before
    (8 of 10, topic cost 4.00 + 0) and 10% after (1 of 10, topic cost 6.00)."""
    w = await build_world(module_db_url, deployments=120)
    conn = await connect(module_db_url)
    try:
        f = Factory(conn)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        acme = w["acme"]
        dep = await f.deployment(acme, key="left-bot", launched_at=today - timedelta(days=200))
        leaver = await f.person(acme, name="Lee Left")
        await f.assign(acme, dep, leaver, today - timedelta(days=100), today - timedelta(days=10) + timedelta(hours=16.5))
        topic = w["topics"][2]  # escalation cost 6.00
        await f.workflow(acme, dep, topic, start=today - timedelta(days=200))
        await f.conversations(acme, dep, topic, today - timedelta(days=20, hours=-12), 8)
        await f.conversations(acme, dep, topic, today - timedelta(days=20, hours=-13), 2, outcome="ESCALATED")
        await f.conversations(acme, dep, topic, today - timedelta(days=3, hours=-12), 1)
        await f.conversations(acme, dep, topic, today - timedelta(days=3, hours=-13), 9, outcome="ESCALATED")
        # end some owners' periods so that gaps have a previous owner to load
        for i in range(1, 120, 10):
            await conn.execute(
                "update steward.ownership_assignments set valid = tstzrange(lower(valid), $2, '[)')"
                " where deployment_id = $1", w["deployments"][i], today - timedelta(days=5))
        return w | {"left_bot": dep, "leaver": leaver, "today": today.date()}
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def token(module_db_url, world):
    return await make_token(module_db_url, "acme")


async def test_a_gap_reads_with_its_figures_and_previous_owner(api, world, token):
    data = await api.data(GAPS, {"key": "left-bot"}, token)

    today = world["today"]
    open_gap, from_launch = data["deployment"]["ownershipGaps"]  # newest first
    assert (open_gap["isOpen"], open_gap["endedAt"]) == (True, None)
    assert open_gap["previousOwner"] == {"id": to_global_id("Person", world["leaver"]), "name": "Lee Left"}
    # the day he left (16:30) is his: the gap's days start the day after
    assert open_gap["during"]["window"] == {"from": str(today - timedelta(days=9)), "to": str(today + timedelta(days=1))}
    assert open_gap["baseline"]["window"] == {"from": str(today - timedelta(days=37)), "to": str(today - timedelta(days=9))}
    assert open_gap["baseline"] | {"window": None} == {
        "window": None, "conversations": 10, "addressable": 10, "aiResolved": 8, "addressableResolutionRate": 0.8,
        "topicCoverage": 1.0}
    assert (open_gap["during"]["addressable"], open_gap["during"]["aiResolved"]) == (10, 1)
    assert open_gap["latest"]["addressableResolutionRate"] == 0.1
    assert open_gap["arrChangePoints"] == pytest.approx(-70)
    assert open_gap["resolutionsLost"] == pytest.approx(7)      # 0.8 x 10 - 1
    assert (open_gap["escalationCostPerResolution"], open_gap["estimatedCost"]) == (6.0, 42.0)
    assert (from_launch["previousOwner"], from_launch["resolutionsLost"]) == (None, None)
    reasons = {r["code"]: r["message"] for r in data["deployment"]["health"]["reasons"]}
    assert reasons["ARR_DECAYED_SINCE_OWNER_LEFT"] == (
        "ARR 80.0% → 10.0% since Lee Left left 10 days ago; ≈7 resolutions lost.")


async def test_ownership_gaps_are_batched(module_db_url, token, world):
    query = """query($first: Int!) { deployments(first: $first) { edges { node {
        ownershipGaps { startedAt previousOwner { name } during { addressable } } } } } }"""
    small, small_statements = await run_schema(module_db_url, token, query, {"first": 10})
    large, large_statements = await run_schema(module_db_url, token, query, {"first": 100})

    assert small.errors is None and large.errors is None
    gaps = [g for e in large.data["deployments"]["edges"] for g in e["node"]["ownershipGaps"]]
    assert len(gaps) > 100 and any(g["previousOwner"] for g in gaps)
    assert len(large_statements) == len(small_statements)
    # page, gaps, persons: one each
    assert len(large_statements) <= 3, "\n".join(large_statements)


SET_POLICY = """
mutation($input: SetHealthPolicyInput!) {
  setHealthPolicy(input: $input) {
    __typename
    ... on SetHealthPolicySuccess { policy { arrDecayPoints arrDropPoints } }
    ... on UserError { message field }
  }
}
"""


async def test_the_decay_threshold_is_read_and_set_with_the_policy(api):
    org = await seed(api.url)

    default = payload(await api.gql(SET_POLICY, {"input": {}}, org.tokens["admin"]), "setHealthPolicy")
    changed = payload(await api.gql(SET_POLICY, {"input": {"arrDecayPoints": 25}}, org.tokens["admin"]),
                      "setHealthPolicy")
    refused = payload(await api.gql(SET_POLICY, {"input": {"arrDecayPoints": 101}}, org.tokens["admin"]),
                      "setHealthPolicy")

    assert default["policy"] == {"arrDecayPoints": 10.0, "arrDropPoints": 5.0}
    assert changed["policy"] == {"arrDecayPoints": 25.0, "arrDropPoints": 5.0}
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "arrDecayPoints")
    rows = await sql(api.url, "select arr_decay_points from steward.health_policies where org_id = $1", org.id)
    assert rows[0]["arr_decay_points"] == 25
