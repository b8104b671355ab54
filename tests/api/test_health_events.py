"""Health events through the API: written with the write, read as a connection, acknowledged, escalated."""
from __future__ import annotations

import asyncio
from datetime import timezone

import pytest

from schema.relay import from_global_id, to_global_id
from service.config import Settings
from service.events.evaluator import Evaluator

from .automation import counts, payload, seed, sql
from .conftest import start_api

UTC = timezone.utc

DEACTIVATE = """
mutation($input: DeactivatePersonInput!) {
  deactivatePerson(input: $input) {
    __typename
    ... on DeactivatePersonSuccess {
      changed
      unownedDeployments { key }
      handovers { deployment { key owner { id } } to { id } assignment { person { id } } change { action } }
      successor { id }
      changes { action previousOwner { id } newOwner { id } }
    }
    ... on UserError { message field }
  }
}
"""
EVENTS = """
query($slug: String!, $filter: HealthEventFilter, $first: Int, $after: String) {
  organization(slug: $slug) {
    healthEvents(filter: $filter, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node {
        id occurredAt statusBefore statusAfter reasonsBefore reasonsAfter cause requestId
        deployment { key } owner { id } escalationContact { id } ownershipChange { action }
        acknowledgement { at note by }
      } }
    }
  }
}
"""
ACK = """
mutation($input: AcknowledgeHealthEventInput!) {
  acknowledgeHealthEvent(input: $input) {
    __typename
    ... on AcknowledgeHealthEventSuccess { replayed event { id acknowledgement { note by }
                                           deployment { health { reasons { code } } } } }
    ... on UserError { message field }
  }
}
"""
SET_CONTACT = """
mutation($input: SetEscalationContactInput!) {
  setEscalationContact(input: $input) {
    __typename
    ... on SetEscalationContactSuccess { changed deployment { escalationContact { id } } }
    ... on UserError { message field }
  }
}
"""


@pytest.fixture
async def api(fresh_db_url):
    api, lifespan = await start_api(fresh_db_url, Settings(health_evaluator_interval_s=0))
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


async def baseline(api) -> None:
    """The evaluator's first pass: every deployment's baseline (as after a start of `steward serve`)."""
    evaluator = Evaluator(Settings(), api.url)
    try:
        assert await evaluator.tick() is not None
    finally:
        await evaluator.close()


async def events_of(api, org, **filter) -> list[dict]:
    data = await api.data(EVENTS, {"slug": org.slug, "filter": filter or None, "first": 100}, org.tokens["read"])
    return [e["node"] for e in data["organization"]["healthEvents"]["edges"]]


async def test_deactivation_records_one_event_per_changed_deployment_in_its_transaction(api):
    org = await seed(api.url, persons=2, deployments=3, owner=0)
    await sql(api.url, "update steward.deployments set escalation_person_id = $2 where id = $1",
              org.deployments[0], org.persons[1])
    await baseline(api)
    assert [e["statusBefore"] for e in await events_of(api, org)] == [None, None, None]

    response = await api.post(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left"}},
                              org.tokens["owners"])

    assert payload(response.json(), "deactivatePerson")["__typename"] == "DeactivatePersonSuccess"
    written = await events_of(api, org, cause="WRITE")
    assert len(written) == 3
    assert {e["deployment"]["key"] for e in written} == {"bot-0", "bot-1", "bot-2"}
    for e in written:
        assert (e["statusBefore"], e["statusAfter"]) == ("STALE", "UNOWNED")
        assert "NO_OWNER" in e["reasonsAfter"] and "NO_OWNER" not in e["reasonsBefore"]
        assert e["requestId"] == response.headers["x-request-id"]
        assert e["ownershipChange"] == {"action": "OWNER_DEACTIVATED"} and e["owner"] is None
        assert e["acknowledgement"] is None
    by_key = {e["deployment"]["key"]: e for e in written}
    assert by_key["bot-0"]["escalationContact"] == {"id": org.person(1)}
    assert by_key["bot-1"]["escalationContact"] is None
    # a write that changes no health records nothing
    await api.data("mutation($i: UpdatePersonInput!) { updatePerson(input: $i) { __typename } }",
                   {"i": {"id": org.person(1), "title": "CX lead"}}, org.tokens["owners"])
    assert len(await events_of(api, org)) == 6


async def test_a_refused_mutation_writes_no_event(api):
    org = await seed(api.url, persons=3, deployments=2, owner=0)
    await sql(api.url, "update steward.persons set active = false, deactivated_at = now() where id = $1",
              org.persons[2])
    await baseline(api)
    before = await counts(api.url, org.id)

    body = await api.gql(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left",
                                                "successorId": org.person(2)}}, org.tokens["owners"])

    assert payload(body, "deactivatePerson") == {"__typename": "ValidationError", "field": "successorId",
                                                 "message": "the successor is deactivated and cannot own a deployment"}
    assert await counts(api.url, org.id) == before


async def test_the_connection_filters_and_pages_newest_first(api):
    org = await seed(api.url, persons=2, deployments=3, owner=0)
    other = await seed(api.url, persons=1, deployments=1)
    await baseline(api)
    await api.data(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left"}}, org.tokens["owners"])
    all_events = await events_of(api, org)
    ids = [e["id"] for e in all_events]

    pages, after = [], None
    while True:
        data = await api.data(EVENTS, {"slug": org.slug, "first": 2, "after": after}, org.tokens["read"])
        conn = data["organization"]["healthEvents"]
        pages.append([e["node"]["id"] for e in conn["edges"]])
        assert conn["totalCount"] == 6
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]

    assert [i for page in pages for i in page] == ids and len(pages) == 3
    assert ids == sorted(ids, key=lambda g: from_global_id(g)[1], reverse=True)
    assert [e["cause"] for e in all_events] == ["WRITE"] * 3 + ["TIME"] * 3
    assert len(await events_of(api, org, status="UNOWNED")) == 3
    assert len(await events_of(api, org, deploymentId=org.deployment(1))) == 2
    assert len(await events_of(api, org, acknowledged=True)) == 0
    assert len(await events_of(api, org, acknowledged=False)) == 6
    assert [e["deployment"]["key"] for e in await events_of(api, other)] == ["bot-0"]  # its own baseline only
    node = await api.data("query($id: ID!) { node(id: $id) { ... on HealthEvent { statusAfter } } }",
                          {"id": ids[0]}, org.tokens["read"])
    assert node["node"] == {"statusAfter": "UNOWNED"}


async def test_acknowledging_lifts_the_escalation_once(api):
    org = await seed(api.url, persons=1, deployments=1)  # unowned from the start
    event = (await sql(api.url,
                       "insert into steward.health_events (org_id, deployment_id, occurred_at, status_after,"
                       " reasons_after, cause) values ($1, $2, now() - interval '4 days', 'UNOWNED',"
                       " '{NO_OWNER,NO_RECENT_REVIEW,NO_RECENT_UPDATE,REVIEW_OVERDUE}', 'TIME') returning id",
                       org.id, org.deployments[0]))[0]["id"]
    health = "query($id: ID!) { deployment(id: $id) { health { reasons { code } } } }"
    codes = await api.data(health, {"id": org.deployment(0)}, org.tokens["read"])
    assert "ESCALATION_UNACKNOWLEDGED" in [r["code"] for r in codes["deployment"]["health"]["reasons"]]
    variables = {"input": {"eventId": to_global_id("HealthEvent", event), "note": "Maya takes it",
                           "idempotencyKey": "ack-1"}}

    denied = payload(await api.gql(ACK, variables, org.tokens["read"]), "acknowledgeHealthEvent")
    first = payload(await api.gql(ACK, variables, org.tokens["owners"]), "acknowledgeHealthEvent")
    replay = payload(await api.gql(ACK, variables, org.tokens["owners"]), "acknowledgeHealthEvent")
    variables["input"]["idempotencyKey"] = "ack-2"
    twice = payload(await api.gql(ACK, variables, org.tokens["owners"]), "acknowledgeHealthEvent")
    unknown = payload(await api.gql(ACK, {"input": {"eventId": to_global_id("HealthEvent", 2**40)}},
                                    org.tokens["owners"]), "acknowledgeHealthEvent")

    assert denied["__typename"] == "PermissionError"
    assert first["__typename"] == "AcknowledgeHealthEventSuccess" and not first["replayed"]
    assert first["event"]["acknowledgement"] == {"note": "Maya takes it", "by": "test"}
    assert "ESCALATION_UNACKNOWLEDGED" not in [r["code"] for r in first["event"]["deployment"]["health"]["reasons"]]
    assert replay["replayed"] is True
    assert twice == {"__typename": "ConflictError", "message": "the event is already acknowledged",
                     "field": "eventId"}
    assert unknown["__typename"] == "NotFoundError" and unknown["field"] == "eventId"
    assert len(await events_of(api, org, acknowledged=True)) == 1


async def test_escalation_contact_is_set_checked_and_cleared(api):
    org = await seed(api.url, persons=3, deployments=1)
    other = await seed(api.url, persons=1, deployments=1)
    await sql(api.url, "update steward.persons set active = false, deactivated_at = now() where id = $1",
              org.persons[2])
    token = org.tokens["owners"]

    def call(person):
        return {"input": {"deploymentId": org.deployment(0), "personId": person}}

    set_ = payload(await api.gql(SET_CONTACT, call(org.person(1)), token), "setEscalationContact")
    again = payload(await api.gql(SET_CONTACT, call(org.person(1)), token), "setEscalationContact")
    inactive = payload(await api.gql(SET_CONTACT, call(org.person(2)), token), "setEscalationContact")
    foreign = payload(await api.gql(SET_CONTACT, call(other.person(0)), token), "setEscalationContact")
    read_only = payload(await api.gql(SET_CONTACT, call(None), org.tokens["read"]), "setEscalationContact")
    cleared = payload(await api.gql(SET_CONTACT, call(None), token), "setEscalationContact")

    assert (set_["changed"], set_["deployment"]["escalationContact"]) == (True, {"id": org.person(1)})
    assert again["changed"] is False
    assert (inactive["__typename"], inactive["field"]) == ("ValidationError", "personId")
    assert (foreign["__typename"], foreign["field"]) == ("NotFoundError", "personId")
    assert read_only["__typename"] == "PermissionError"
    assert (cleared["changed"], cleared["deployment"]["escalationContact"]) == (True, None)


# --- offboarding with a successor ------------------------------------------------------------------

async def test_a_successor_takes_over_everything_in_one_transaction(api):
    org = await seed(api.url, persons=3, deployments=3, owner=0)
    await sql(api.url, "update steward.persons set fte_on_ai = 0.2 where id = $1", org.persons[0])  # OWNER_LOW_FTE
    await baseline(api)

    result = payload(await api.gql(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left",
                                                          "successorId": org.person(1)}}, org.tokens["owners"]),
                     "deactivatePerson")

    assert result["__typename"] == "DeactivatePersonSuccess" and result["unownedDeployments"] == []
    assert result["successor"] == {"id": org.person(1)}
    assert sorted(h["deployment"]["key"] for h in result["handovers"]) == ["bot-0", "bot-1", "bot-2"]
    for h in result["handovers"]:
        assert h["to"] == h["deployment"]["owner"] == h["assignment"]["person"] == {"id": org.person(1)}
        assert h["change"] == {"action": "HANDED_OVER"}
    assert {(c["action"], c["previousOwner"]["id"], c["newOwner"]["id"]) for c in result["changes"]} == \
        {("HANDED_OVER", org.person(0), org.person(1))}
    written = await events_of(api, org, cause="WRITE")
    assert len(written) == 3  # health changed (OWNER_LOW_FTE went): one event each, never UNOWNED
    assert {e["statusAfter"] for e in written} == {"STALE"}
    assert all("OWNER_LOW_FTE" in e["reasonsBefore"] and "OWNER_LOW_FTE" not in e["reasonsAfter"] for e in written)
    assert all(e["owner"] == {"id": org.person(1)} for e in written)
    gaps = await sql(api.url, "select count(*) as n from steward.ownership_assignments a where org_id = $1 and"
                              " not upper_inf(valid) and not exists (select 1 from steward.ownership_assignments b"
                              " where b.deployment_id = a.deployment_id and lower(b.valid) = upper(a.valid))", org.id)
    assert gaps[0]["n"] == 0  # each ended period is met by the successor's, at the same instant


@pytest.mark.parametrize("case", ["inactive", "leaver", "other org", "unknown"])
async def test_a_successor_who_cannot_take_over_is_a_typed_error_and_nothing_is_written(api, case):
    org = await seed(api.url, persons=3, deployments=2, owner=0)
    other = await seed(api.url, persons=1, deployments=1)
    await sql(api.url, "update steward.persons set active = false, deactivated_at = now() where id = $1",
              org.persons[2])
    successor = {"inactive": org.person(2), "leaver": org.person(0), "other org": other.person(0),
                 "unknown": to_global_id("Person", 2**40)}[case]
    before = await counts(api.url, org.id)

    result = payload(await api.gql(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left",
                                                          "successorId": successor}}, org.tokens["owners"]),
                     "deactivatePerson")

    expected = "NotFoundError" if case in ("other org", "unknown") else "ValidationError"
    assert (result["__typename"], result["field"]) == (expected, "successorId"), result
    assert await counts(api.url, org.id) == before


@pytest.mark.parametrize("round", range(4))
async def test_offboarding_racing_an_assignment_never_leaves_a_gap(fresh_db_url, round):
    api, lifespan = await start_api(fresh_db_url, Settings(pool_min=2, pool_max=10, db_connect_timeout_s=30,
                                                           health_evaluator_interval_s=0))
    try:
        org = await seed(api.url, persons=3, deployments=3, owner=0)
        assign = ("mutation($input: AssignOwnerInput!) { assignOwner(input: $input) { __typename"
                  " ... on UserError { message } } }")
        calls = [api.post(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left",
                                                 "successorId": org.person(1)}}, org.tokens["owners"]),
                 api.post(assign, {"input": {"deploymentId": org.deployment(0), "personId": org.person(2),
                                             "reason": "race"}}, org.tokens["owners"])]
        if round % 2:
            calls.reverse()
        results = [next(iter(r.json()["data"].values())) for r in await asyncio.gather(*calls)]

        assert {r["__typename"] for r in results} == {"DeactivatePersonSuccess", "AssignOwnerSuccess"}, results
        owners = await sql(api.url, "select deployment_id, person_id from steward.ownership_assignments"
                                    " where org_id = $1 and upper_inf(valid) order by deployment_id", org.id)
        assert [r["deployment_id"] for r in owners] == org.deployments  # every deployment owned, once
        assert {r["person_id"] for r in owners} <= {org.persons[1], org.persons[2]}
        assert {r["person_id"] for r in owners[1:]} == {org.persons[1]}
        for d in org.deployments:
            history = await sql(api.url, "select lower(valid) as since, upper(valid) as until from"
                                         " steward.ownership_assignments where deployment_id = $1 order by 1", d)
            for earlier, later in zip(history, history[1:]):
                assert earlier["until"] == later["since"]  # no gap, no overlap
        # one event per deployment per change, and the log chains: each event's before is the previous after
        log = await sql(api.url, "select deployment_id, status_before, status_after, reasons_before, reasons_after"
                                 " from steward.health_events where org_id = $1 order by deployment_id, id", org.id)
        for earlier, later in zip(log, log[1:]):
            if earlier["deployment_id"] == later["deployment_id"]:
                assert (earlier["status_after"], earlier["reasons_after"]) == \
                    (later["status_before"], later["reasons_before"])
    finally:
        await api.client.aclose()
        await lifespan.__aexit__(None, None, None)
