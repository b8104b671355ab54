"""Mutations through HTTP: owner changes, people, deployments, activity, policy, idempotency, audit log."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schema.context import Context, Db
from schema.ownership import mutations as owners_mutations
from schema.relay import to_global_id
from service.auth import authenticate
from service.config import Settings
from service.db.pool import connect, scope_transaction

from .automation import ASSIGN, DEACTIVATE, UNASSIGN, assign, counts, payload, periods, seed, sql

UTC = timezone.utc


def iso(instant: datetime) -> str:
    return instant.isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- assignOwner -----------------------------------------------------------------------------------

async def test_assign_owner_hands_over_in_one_step(api):
    org = await seed(api.url, owner=0)

    result = payload(await api.gql(ASSIGN, {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(1), "reason": "Dana takes over"}},
        org.tokens["owners"]), "assignOwner")

    assert result["__typename"] == "AssignOwnerSuccess"
    assert result["changed"] is True and result["replayed"] is False
    assert result["assignment"]["person"]["id"] == org.person(1)
    assert result["assignment"]["validTo"] is None and result["assignment"]["reason"] == "Dana takes over"
    assert result["endedAssignment"]["person"]["id"] == org.person(0)
    assert result["endedAssignment"]["validTo"] == result["assignment"]["validFrom"]
    assert result["endedAssignment"]["endedReason"] == "Dana takes over"
    assert result["change"]["action"] == "HANDED_OVER"
    assert result["change"]["previousOwner"] == {"id": org.person(0)}
    assert result["change"]["newOwner"] == {"id": org.person(1)}
    assert result["change"]["tokenName"] == "test" and result["change"]["tokenId"] > 0
    assert result["deployment"]["owner"] == {"id": org.person(1)}
    history = await periods(api.url, org.deployments[0])
    assert [p["person_id"] for p in history] == [org.persons[0], org.persons[1]]
    assert history[0]["until"] == history[1]["since"] and history[1]["until"] is None
    assert history[1]["assigned_by"] == f"test (token {result['change']['tokenId']})"


async def test_assigning_an_unowned_deployment_is_recorded_as_assigned(api):
    org = await seed(api.url)

    result = payload(await api.gql(ASSIGN, {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(0), "reason": "first owner"}},
        org.tokens["owners"]), "assignOwner")

    assert result["change"]["action"] == "ASSIGNED" and result["endedAssignment"] is None
    assert result["change"]["previousOwner"] is None
    assert "NO_OWNER" not in [r["code"] for r in result["deployment"]["health"]["reasons"]]


async def test_assigning_the_current_owner_is_a_no_op_that_says_so(api):
    org = await seed(api.url, owner=0)
    before = await counts(api.url, org.id)

    result = payload(await api.gql(ASSIGN, {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(0), "reason": "again"}},
        org.tokens["owners"]), "assignOwner")

    assert result["__typename"] == "AssignOwnerSuccess" and result["changed"] is False
    assert result["change"] is None and result["endedAssignment"] is None
    assert result["assignment"]["person"]["id"] == org.person(0)
    assert await counts(api.url, org.id) == before


async def test_a_backdated_handover_ends_the_old_period_at_effective_at(api):
    org = await seed(api.url, owner=0, owned_since=timedelta(days=30))
    effective = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    result = payload(await api.gql(ASSIGN, {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(1), "reason": "backfill",
        "effectiveAt": iso(effective)}}, org.tokens["owners"]), "assignOwner")

    assert result["changed"] is True
    assert parse(result["assignment"]["validFrom"]) == effective
    assert parse(result["endedAssignment"]["validTo"]) == effective


async def _retire(org) -> None:
    await sql(org.db_url, "update steward.deployments set status = 'RETIRED' where id = $1", org.deployments[0])


async def _deactivate(org) -> None:
    await sql(org.db_url, "update steward.persons set active = false, deactivated_at = now() where id = $1",
              org.persons[1])


async def _closed_history(org) -> None:
    """Person 0 owned deployment 0 from 10 days ago until 1 day ago; nobody since."""
    await sql(org.db_url, "update steward.ownership_assignments set valid = tstzrange(lower(valid), now() - interval"
                          " '1 day') where deployment_id = $1", org.deployments[0])


async def _nothing(org) -> None:
    return None


DAY = timedelta(days=1)


@pytest.mark.parametrize("setup, change, typename, field", [
    (_deactivate, {}, "ValidationError", "personId"),
    (_retire, {}, "ValidationError", "deploymentId"),
    (_nothing, {"effectiveAt": -20 * DAY}, "ConflictError", "effectiveAt"),  # before the owner's start (10 days ago)
    (_nothing, {"effectiveAt": DAY}, "ValidationError", "effectiveAt"),  # the future
    (_closed_history, {"effectiveAt": -5 * DAY}, "ConflictError", "effectiveAt"),  # overlaps a recorded period
    (_nothing, {"personId": to_global_id("Person", 2**40)}, "NotFoundError", "personId"),
    (_nothing, {"deploymentId": to_global_id("Deployment", 2**40)}, "NotFoundError", "deploymentId"),
    (_nothing, {"personId": to_global_id("Deployment", 1)}, "NotFoundError", "personId"),
    (_nothing, {"personId": "not-an-id"}, "ValidationError", "personId"),
    (_nothing, {"reason": "   "}, "ValidationError", "reason"),
    (_nothing, {"idempotencyKey": ""}, "ValidationError", "idempotencyKey"),
    (_nothing, {"effectiveAt": "naive"}, "ValidationError", "effectiveAt"),
], ids=["inactive-person", "retired", "before-start", "future", "overlap", "unknown-person", "unknown-deployment",
        "wrong-type", "malformed-id", "blank-reason", "empty-key", "no-offset"])
async def test_expected_errors_are_typed_and_write_nothing(api, setup, change, typename, field):
    org = await seed(api.url, owner=0, owned_since=timedelta(days=10))
    await setup(org)
    now = datetime.now(UTC)
    variables = {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "handover",
                 "idempotencyKey": "k1"}
    for name, value in change.items():
        if isinstance(value, timedelta):
            value = iso(now + value)
        elif value == "naive":
            value = now.replace(tzinfo=None).isoformat()
        variables[name] = value
    before = await counts(api.url, org.id)

    result = payload(await api.gql(ASSIGN, {"input": variables}, org.tokens["owners"]), "assignOwner")

    assert (result["__typename"], result["field"]) == (typename, field), result
    assert result["message"]
    assert await counts(api.url, org.id) == before


async def test_the_exclusion_constraint_is_the_last_guard_and_answers_conflict(api, monkeypatch):
    org = await seed(api.url, owner=0, owned_since=timedelta(days=10))
    await _closed_history(org)
    before = await counts(api.url, org.id)

    async def no_overlap(*args):  # the service's own check misses: the database must still refuse
        return None

    monkeypatch.setattr(owners_mutations, "_overlapping", no_overlap)
    response = await api.post(ASSIGN, {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(1), "reason": "overlap",
        "effectiveAt": iso(datetime.now(UTC) - 5 * DAY)}}, org.tokens["owners"])

    assert response.status_code == 200
    result = payload(response.json(), "assignOwner")
    assert result["__typename"] == "ConflictError" and result["field"] == "effectiveAt"
    assert await counts(api.url, org.id) == before


# --- unassignOwner ---------------------------------------------------------------------------------

async def test_unassign_owner_leaves_the_deployment_unowned(api):
    org = await seed(api.url, owner=0)

    result = payload(await api.gql(UNASSIGN, {"input": {"deploymentId": org.deployment(0), "reason": "left"}},
                                   org.tokens["owners"]), "unassignOwner")
    again = payload(await api.gql(UNASSIGN, {"input": {"deploymentId": org.deployment(0), "reason": "left"}},
                                  org.tokens["owners"]), "unassignOwner")

    assert result["changed"] is True and result["endedAssignment"]["endedReason"] == "left"
    assert result["change"] == {"action": "UNASSIGNED", "previousOwner": {"id": org.person(0)}, "newOwner": None}
    assert result["deployment"]["owner"] is None
    assert result["deployment"]["health"]["status"] == "UNOWNED"
    assert again["changed"] is False and again["endedAssignment"] is None
    assert (await periods(api.url, org.deployments[0]))[-1]["until"] is not None


async def test_unassign_before_the_owner_started_conflicts(api):
    org = await seed(api.url, owner=0, owned_since=timedelta(days=3))
    before = await counts(api.url, org.id)

    result = payload(await api.gql(UNASSIGN, {"input": {
        "deploymentId": org.deployment(0), "reason": "oops", "effectiveAt": iso(datetime.now(UTC) - 4 * DAY)}},
        org.tokens["owners"]), "unassignOwner")

    assert (result["__typename"], result["field"]) == ("ConflictError", "effectiveAt")
    assert await counts(api.url, org.id) == before


# --- deactivatePerson ------------------------------------------------------------------------------

GAP = """
query($id: ID!, $window: WindowInput!) {
  deployment(id: $id) { health { status reasons { code } } metrics(window: $window) { ownershipGapDays } }
}
"""


async def run_at(db_url: str, token: str, instant: datetime, query: str, variables: dict) -> dict:
    """Run a query through the schema on a real Context, with steward.clock() pinned to `instant`."""
    from schema import schema

    settings = Settings()
    conn = await connect(db_url)
    try:
        principal = await authenticate(conn, token)
        async with conn.transaction(readonly=True):
            await scope_transaction(conn, principal.org_id, settings.statement_timeout_ms)
            await conn.execute("select set_config('steward.now', $1, true)", instant.isoformat())
            result = await schema.execute(query, variable_values=variables,
                                          context_value=Context(db=Db(conn), principal=principal, settings=settings))
        assert result.errors is None, result.errors
        return result.data
    finally:
        await conn.close()


async def test_deactivating_an_owner_of_three_leaves_all_three_unowned_and_counts_gap_days(api):
    org = await seed(api.url, persons=2, deployments=4)
    for i in range(3):
        await assign(org, i, 0, timedelta(days=80))
    await assign(org, 3, 1, timedelta(days=80))  # another owner: untouched
    today = datetime.now(UTC).date()
    window = {"from": (today - timedelta(days=10)).isoformat(), "to": (today + timedelta(days=10)).isoformat()}

    result = payload(await api.gql(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left the company"}},
                                   org.tokens["owners"]), "deactivatePerson")

    assert result["changed"] is True and result["person"]["active"] is False
    unowned = result["unownedDeployments"]
    assert sorted(d["id"] for d in unowned) == sorted(org.deployment(i) for i in range(3))
    assert all(d["owner"] is None and d["health"]["status"] == "UNOWNED" for d in unowned)
    assert all(a["endedReason"] == "left the company" for a in result["endedAssignments"])
    assert [c["action"] for c in result["changes"]] == ["OWNER_DEACTIVATED"] * 3
    deactivated_at = parse(result["person"]["deactivatedAt"])
    assert all(parse(a["validTo"]) == deactivated_at for a in result["endedAssignments"])

    # health says UNOWNED for all three from now on, and the gap grows day by day
    later = deactivated_at + timedelta(days=3)
    for i in range(3):
        now = await run_at(api.url, org.tokens["read"], deactivated_at + timedelta(seconds=1), GAP,
                           {"id": org.deployment(i), "window": window})
        then = await run_at(api.url, org.tokens["read"], later, GAP, {"id": org.deployment(i), "window": window})
        assert now["deployment"]["health"]["status"] == then["deployment"]["health"]["status"] == "UNOWNED"
        assert now["deployment"]["metrics"]["ownershipGapDays"] == pytest.approx(0, abs=0.01)
        assert then["deployment"]["metrics"]["ownershipGapDays"] == pytest.approx(3, abs=0.01)
    other = await run_at(api.url, org.tokens["read"], later, GAP, {"id": org.deployment(3), "window": window})
    assert other["deployment"]["metrics"]["ownershipGapDays"] == 0

    # a deactivated person cannot be given ownership; deactivating again changes nothing
    refused = payload(await api.gql(ASSIGN, {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(0), "reason": "back?"}},
        org.tokens["owners"]), "assignOwner")
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "personId")
    again = payload(await api.gql(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "again"}},
                                  org.tokens["owners"]), "deactivatePerson")
    assert again["changed"] is False and again["unownedDeployments"] == []


async def test_deactivating_an_unknown_person_is_not_found(api):
    org = await seed(api.url)
    result = payload(await api.gql(DEACTIVATE, {"input": {"personId": to_global_id("Person", 2**40),
                                                          "reason": "x"}}, org.tokens["owners"]),
                     "deactivatePerson")
    assert (result["__typename"], result["field"]) == ("NotFoundError", "personId")


# --- idempotency -----------------------------------------------------------------------------------

async def test_a_retry_with_the_same_key_returns_the_first_answer_and_writes_once(api):
    org = await seed(api.url, owner=0)
    variables = {"input": {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "handover",
                           "idempotencyKey": "hr-4711"}}

    first = payload(await api.gql(ASSIGN, variables, org.tokens["owners"]), "assignOwner")
    written = await counts(api.url, org.id)
    retry = payload(await api.gql(ASSIGN, variables, org.tokens["owners"]), "assignOwner")

    assert first["changed"] is True and first["replayed"] is False
    assert retry["replayed"] is True and retry["changed"] is True
    assert retry["assignment"]["id"] == first["assignment"]["id"]
    assert retry["change"] == first["change"]
    assert await counts(api.url, org.id) == written
    assert len(await periods(api.url, org.deployments[0])) == 2


async def test_the_same_key_with_another_input_conflicts(api):
    org = await seed(api.url, owner=0)
    base = {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "handover",
            "idempotencyKey": "hr-4712"}
    payload(await api.gql(ASSIGN, {"input": base}, org.tokens["owners"]), "assignOwner")
    written = await counts(api.url, org.id)

    other_person = payload(await api.gql(ASSIGN, {"input": base | {"personId": org.person(2)}},
                                         org.tokens["owners"]), "assignOwner")
    other_mutation = payload(await api.gql(UNASSIGN, {"input": {
        "deploymentId": org.deployment(0), "reason": "handover", "idempotencyKey": "hr-4712"}},
        org.tokens["owners"]), "unassignOwner")

    assert (other_person["__typename"], other_person["field"]) == ("ConflictError", "idempotencyKey")
    assert (other_mutation["__typename"], other_mutation["field"]) == ("ConflictError", "idempotencyKey")
    assert await counts(api.url, org.id) == written


async def test_keys_belong_to_one_token_and_expire_after_a_day(api):
    org = await seed(api.url, owner=0)
    base = {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "handover",
            "idempotencyKey": "shared"}
    payload(await api.gql(ASSIGN, {"input": base}, org.tokens["owners"]), "assignOwner")

    # another token's key space is its own: this is a new request (and a no-op: person 1 owns it already)
    other_token = payload(await api.gql(ASSIGN, {"input": base}, org.tokens["admin"]), "assignOwner")
    assert other_token["replayed"] is False and other_token["changed"] is False

    # kept for 24 hours; older keys are forgotten, so the key may be used again
    await sql(api.url, "update steward.idempotency_keys set created_at = now() - interval '23 hours'"
                       " where org_id = $1", org.id)
    kept = payload(await api.gql(ASSIGN, {"input": base | {"personId": org.person(2)}}, org.tokens["owners"]),
                   "assignOwner")
    assert kept["__typename"] == "ConflictError"
    await sql(api.url, "update steward.idempotency_keys set created_at = now() - interval '25 hours'"
                       " where org_id = $1", org.id)
    reused = payload(await api.gql(ASSIGN, {"input": base | {"personId": org.person(2)}}, org.tokens["owners"]),
                     "assignOwner")
    assert reused["__typename"] == "AssignOwnerSuccess" and reused["changed"] and not reused["replayed"]


async def test_an_error_is_not_remembered_so_the_retry_runs_again(api):
    org = await seed(api.url, owner=0)
    await _deactivate(org)
    variables = {"input": {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "handover",
                           "idempotencyKey": "after-fix"}}
    failed = payload(await api.gql(ASSIGN, variables, org.tokens["owners"]), "assignOwner")
    await sql(api.url, "update steward.persons set active = true, deactivated_at = null where id = $1",
              org.persons[1])

    retried = payload(await api.gql(ASSIGN, variables, org.tokens["owners"]), "assignOwner")

    assert failed["__typename"] == "ValidationError"
    assert retried["__typename"] == "AssignOwnerSuccess" and retried["replayed"] is False


# --- people ----------------------------------------------------------------------------------------

CREATE_PERSON = """
mutation($input: CreatePersonInput!) {
  createPerson(input: $input) {
    __typename
    ... on CreatePersonSuccess { replayed person { id name email title function fteOnAi active } }
    ... on UserError { message field }
  }
}
"""
UPDATE_PERSON = """
mutation($input: UpdatePersonInput!) {
  updatePerson(input: $input) {
    __typename
    ... on UpdatePersonSuccess { person { id name email title function fteOnAi } }
    ... on UserError { message field }
  }
}
"""


async def test_create_and_update_a_person(api):
    org = await seed(api.url)
    created = payload(await api.gql(CREATE_PERSON, {"input": {
        "name": " Ana Ruiz ", "email": "ana@lumen.test", "function": "CX", "title": "CX lead", "fteOnAi": 0.75}},
        org.tokens["owners"]), "createPerson")
    person = created["person"]
    assert person["name"] == "Ana Ruiz" and person["fteOnAi"] == 0.75 and person["active"] is True

    updated = payload(await api.gql(UPDATE_PERSON, {"input": {"id": person["id"], "title": None, "fteOnAi": 1}},
                                    org.tokens["owners"]), "updatePerson")
    assert updated["person"]["title"] is None and updated["person"]["fteOnAi"] == 1.0
    assert updated["person"]["name"] == "Ana Ruiz" and updated["person"]["email"] == "ana@lumen.test"


@pytest.mark.parametrize("change, typename, field", [
    ({"email": "ANA@dup.test"}, "ConflictError", "email"),  # unique per organization, case-insensitive
    ({"email": "no-at-sign"}, "ValidationError", "email"),
    ({"fteOnAi": 1.5}, "ValidationError", "fteOnAi"),
    ({"name": ""}, "ValidationError", "name"),
])
async def test_create_person_refuses_bad_input(api, change, typename, field):
    org = await seed(api.url)
    payload(await api.gql(CREATE_PERSON, {"input": {"name": "Ana", "email": "ana@dup.test", "function": "CX"}},
                          org.tokens["owners"]), "createPerson")
    before = await counts(api.url, org.id)

    result = payload(await api.gql(CREATE_PERSON, {"input": {"name": "Bo", "email": "bo@dup.test",
                                                             "function": "IT"} | change},
                                   org.tokens["owners"]), "createPerson")

    assert (result["__typename"], result["field"]) == (typename, field)
    assert await counts(api.url, org.id) == before


async def test_an_update_without_changes_answers_the_object_as_it_is(api):
    org = await seed(api.url)
    before = await counts(api.url, org.id)
    person = payload(await api.gql(UPDATE_PERSON, {"input": {"id": org.person(0)}}, org.tokens["owners"]),
                     "updatePerson")
    deployment = payload(await api.gql(UPDATE_DEPLOYMENT, {"input": {"id": org.deployment(0)}}, org.tokens["admin"]),
                         "updateDeployment")
    assert person["person"]["id"] == org.person(0) and deployment["deployment"]["key"] == "bot-0"
    assert await counts(api.url, org.id) == before


async def test_update_person_of_unknown_id_is_not_found(api):
    org = await seed(api.url)
    result = payload(await api.gql(UPDATE_PERSON, {"input": {"id": to_global_id("Person", 2**40), "name": "X"}},
                                   org.tokens["owners"]), "updatePerson")
    assert (result["__typename"], result["field"]) == ("NotFoundError", "id")


# --- deployments -----------------------------------------------------------------------------------

CREATE_DEPLOYMENT = """
mutation($input: CreateDeploymentInput!) {
  createDeployment(input: $input) {
    __typename
    ... on CreateDeploymentSuccess { deployment { id key name channels vendor status integrations
                                                  health { status } } }
    ... on UserError { message field }
  }
}
"""
UPDATE_DEPLOYMENT = """
mutation($input: UpdateDeploymentInput!) {
  updateDeployment(input: $input) {
    __typename
    ... on UpdateDeploymentSuccess { deployment { id key name status vendor channels } }
    ... on UserError { message field }
  }
}
"""


async def test_create_and_update_a_deployment(api):
    org = await seed(api.url)
    created = payload(await api.gql(CREATE_DEPLOYMENT, {"input": {
        "key": "returns-bot", "name": "Returns bot", "channels": ["CHAT", "EMAIL", "CHAT"], "vendor": "Acme AI"}},
        org.tokens["admin"]), "createDeployment")
    deployment = created["deployment"]
    assert deployment["key"] == "returns-bot" and deployment["channels"] == ["CHAT", "EMAIL"]
    assert deployment["status"] == "ACTIVE" and deployment["health"]["status"] == "UNOWNED"

    updated = payload(await api.gql(UPDATE_DEPLOYMENT, {"input": {"id": deployment["id"], "status": "RETIRED",
                                                                  "vendor": None}},
                                    org.tokens["admin"]), "updateDeployment")
    assert updated["deployment"]["status"] == "RETIRED" and updated["deployment"]["vendor"] is None
    assert updated["deployment"]["name"] == "Returns bot"

    refused = payload(await api.gql(ASSIGN, {"input": {"deploymentId": deployment["id"], "personId": org.person(0),
                                                       "reason": "r"}}, org.tokens["owners"]), "assignOwner")
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "deploymentId")


@pytest.mark.parametrize("change, typename, field", [
    ({"key": "bot-0"}, "ConflictError", "key"),  # seed() made bot-0
    ({"key": "Bad Key"}, "ValidationError", "key"),
    ({"channels": []}, "ValidationError", "channels"),
    ({"integrations": -1}, "ValidationError", "integrations"),
])
async def test_create_deployment_refuses_bad_input(api, change, typename, field):
    org = await seed(api.url)
    before = await counts(api.url, org.id)
    result = payload(await api.gql(CREATE_DEPLOYMENT, {"input": {"key": "new-bot", "name": "New", "channels": ["SMS"]}
                                                       | change}, org.tokens["admin"]), "createDeployment")
    assert (result["__typename"], result["field"]) == (typename, field)
    assert await counts(api.url, org.id) == before


# --- activity --------------------------------------------------------------------------------------

RECORD_UPDATE = """
mutation($input: RecordWorkflowUpdateInput!) {
  recordWorkflowUpdate(input: $input) {
    __typename
    ... on RecordWorkflowUpdateSuccess { workflowUpdate { id kind summary occurredAt author { id } }
                                         deployment { metrics(window: {lastDays: 7}) { workflowUpdates } } }
    ... on UserError { message field }
  }
}
"""
RECORD_REVIEW = """
mutation($input: RecordReviewInput!) {
  recordReview(input: $input) {
    __typename
    ... on RecordReviewSuccess { review { id reviewedAt notes decisions reviewer { id } }
                                 deployment { health { status reasons { code } } } }
    ... on UserError { message field }
  }
}
"""


async def test_recording_updates_and_reviews_moves_health(api):
    org = await seed(api.url, owner=0)
    update = payload(await api.gql(RECORD_UPDATE, {"input": {
        "deploymentId": org.deployment(0), "authorId": org.person(0), "kind": "KNOWLEDGE_REFRESH",
        "summary": "Refreshed the returns policy articles"}}, org.tokens["activity"]), "recordWorkflowUpdate")
    review = payload(await api.gql(RECORD_REVIEW, {"input": {
        "deploymentId": org.deployment(0), "reviewerId": org.person(0), "notes": "weekly",
        "decisions": ["add SMS", "retire FAQ flow"]}}, org.tokens["activity"]), "recordReview")

    assert update["workflowUpdate"]["kind"] == "KNOWLEDGE_REFRESH"
    assert update["deployment"]["metrics"]["workflowUpdates"] == 1
    assert review["review"]["decisions"] == ["add SMS", "retire FAQ flow"]
    assert review["deployment"]["health"]["status"] == "HEALTHY", review["deployment"]["health"]


async def test_recording_activity_checks_its_references(api):
    org = await seed(api.url, owner=0)
    other = await seed(api.url)
    conn = await connect(api.url)
    try:
        topic = await conn.fetchval("insert into steward.topics (org_id, key, name) values ($1, 't', 'T')"
                                    " returning id", org.id)
        workflow = await conn.fetchval("insert into steward.workflows (org_id, deployment_id, topic_id, name,"
                                       " channels) values ($1, $2, $3, 'wf', '{CHAT}') returning id",
                                       org.id, org.deployments[1], topic)
    finally:
        await conn.close()
    base = {"deploymentId": org.deployment(0), "authorId": org.person(0), "kind": "WORKFLOW_CHANGE",
            "summary": "changed"}
    before = await counts(api.url, org.id)
    cases = [
        ({"workflowId": to_global_id("Workflow", workflow)}, "ValidationError", "workflowId"),
        ({"occurredAt": iso(datetime.now(UTC) + DAY)}, "ValidationError", "occurredAt"),
        ({"authorId": other.person(0)}, "NotFoundError", "authorId"),
        ({"summary": ""}, "ValidationError", "summary"),
    ]
    for change, typename, field in cases:
        result = payload(await api.gql(RECORD_UPDATE, {"input": base | change}, org.tokens["activity"]),
                         "recordWorkflowUpdate")
        assert (result["__typename"], result["field"]) == (typename, field), change
    review = payload(await api.gql(RECORD_REVIEW, {"input": {"deploymentId": other.deployment(0),
                                                             "reviewerId": org.person(0)}},
                                   org.tokens["activity"]), "recordReview")
    assert (review["__typename"], review["field"]) == ("NotFoundError", "deploymentId")
    assert await counts(api.url, org.id) == before


# --- health policy ---------------------------------------------------------------------------------

SET_POLICY = """
mutation($input: SetHealthPolicyInput!) {
  setHealthPolicy(input: $input) {
    __typename
    ... on SetHealthPolicySuccess { policy { reopenWindowHours staleUpdateDays staleReviewDays reviewDueDays
                                             minOwnerFte arrDropPoints } }
    ... on UserError { message field }
  }
}
"""


async def test_set_health_policy_changes_thresholds(api):
    org = await seed(api.url)
    result = payload(await api.gql(SET_POLICY, {"input": {"reopenWindowHours": 72, "minOwnerFte": 0.25}},
                                   org.tokens["admin"]), "setHealthPolicy")
    assert result["policy"] == {"reopenWindowHours": 72, "staleUpdateDays": 14, "staleReviewDays": 14,
                                "reviewDueDays": 7, "minOwnerFte": 0.25, "arrDropPoints": 5.0}

    refused = payload(await api.gql(SET_POLICY, {"input": {"staleUpdateDays": 0}}, org.tokens["admin"]),
                      "setHealthPolicy")
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "staleUpdateDays")
    rows = await sql(api.url, "select stale_update_days from steward.health_policies where org_id = $1", org.id)
    assert rows[0]["stale_update_days"] == 14


# --- audit log -------------------------------------------------------------------------------------

AUDIT = """
query($filter: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { action reason tokenName effectiveAt deployment { id } previousOwner { id } newOwner { id } } }
  }
}
"""


async def test_every_ownership_change_is_in_the_audit_log_newest_first(api):
    org = await seed(api.url, persons=3, deployments=2)
    token = org.tokens["owners"]
    steps = [(ASSIGN, {"deploymentId": org.deployment(0), "personId": org.person(0), "reason": "one"}),
             (ASSIGN, {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "two"}),
             (ASSIGN, {"deploymentId": org.deployment(1), "personId": org.person(1), "reason": "three"}),
             (UNASSIGN, {"deploymentId": org.deployment(0), "reason": "four"}),
             (DEACTIVATE, {"personId": org.person(1), "reason": "five"})]
    for query, variables in steps:
        body = await api.gql(query, {"input": variables}, token)
        assert "Success" in next(iter(body["data"].values()))["__typename"], body

    log = (await api.data(AUDIT, {}, org.tokens["read"]))["auditLog"]
    assert log["totalCount"] == 5
    assert [(e["node"]["action"], e["node"]["reason"]) for e in log["edges"]] == [
        ("OWNER_DEACTIVATED", "five"), ("UNASSIGNED", "four"), ("ASSIGNED", "three"), ("HANDED_OVER", "two"),
        ("ASSIGNED", "one")]
    assert all(e["node"]["tokenName"] == "test" for e in log["edges"])

    first = (await api.data(AUDIT, {"filter": {"deploymentId": org.deployment(0)}, "first": 2},
                            org.tokens["read"]))["auditLog"]
    rest = (await api.data(AUDIT, {"filter": {"deploymentId": org.deployment(0)}, "first": 2,
                                   "after": first["pageInfo"]["endCursor"]}, org.tokens["read"]))["auditLog"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["reason"] for e in first["edges"] + rest["edges"]] == ["four", "two", "one"]
    assert rest["pageInfo"]["hasNextPage"] is False

    nested = await api.data("""query($id: ID!) { deployment(id: $id) {
        auditLog(first: 10) { totalCount edges { node { reason } } }
        ownershipHistory { reason endedReason assignedBy } } }""", {"id": org.deployment(0)}, org.tokens["read"])
    assert [e["node"]["reason"] for e in nested["deployment"]["auditLog"]["edges"]] == ["four", "two", "one"]
    history = nested["deployment"]["ownershipHistory"]
    assert [(h["reason"], h["endedReason"]) for h in history] == [("two", "four"), ("one", "two")]
    assert all(h["assignedBy"].startswith("test (token ") for h in history)


async def test_an_audit_entry_is_a_node_fetched_by_its_global_id(api):
    org = await seed(api.url, persons=2, owner=0)
    result = payload(await api.gql("""mutation($input: AssignOwnerInput!) { assignOwner(input: $input) {
        ... on AssignOwnerSuccess { change { id } } } }""", {"input": {
        "deploymentId": org.deployment(0), "personId": org.person(1), "reason": "node check"}},
        org.tokens["owners"]), "assignOwner")
    change_id = result["change"]["id"]

    node = (await api.data("""query($id: ID!) { node(id: $id) { __typename id ... on OwnershipChange {
        action reason deployment { id } previousOwner { id } newOwner { id } } } }""",
                           {"id": change_id}, org.tokens["read"]))["node"]
    other = await seed(api.url, persons=1, deployments=1)
    theirs = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": change_id}, other.tokens["admin"])

    assert node == {"__typename": "OwnershipChange", "id": change_id, "action": "HANDED_OVER",
                    "reason": "node check", "deployment": {"id": org.deployment(0)},
                    "previousOwner": {"id": org.person(0)}, "newOwner": {"id": org.person(1)}}
    assert theirs["data"] == {"node": None}  # row-level security: another organization's entry does not exist
    assert [(e["extensions"]["code"], e["path"]) for e in theirs["errors"]] == [("NOT_FOUND", ["node"])]


async def test_mutations_in_one_document_run_in_order_and_each_sees_the_last(api):
    org = await seed(api.url, persons=3)
    body = await api.gql("""mutation($d: ID!, $a: ID!, $b: ID!) {
        first: assignOwner(input: {deploymentId: $d, personId: $a, reason: "a"}) {
          ... on AssignOwnerSuccess { changed deployment { owner { id } } } }
        second: assignOwner(input: {deploymentId: $d, personId: $b, reason: "b"}) {
          ... on AssignOwnerSuccess { changed endedAssignment { person { id } } deployment { owner { id } } } }
        third: assignOwner(input: {deploymentId: $d, personId: "bad", reason: "c"}) {
          __typename ... on UserError { field } }
    }""", {"d": org.deployment(0), "a": org.person(0), "b": org.person(1)}, org.tokens["owners"])

    assert "errors" not in body, body
    assert body["data"]["first"] == {"changed": True, "deployment": {"owner": {"id": org.person(0)}}}
    assert body["data"]["second"] == {"changed": True, "endedAssignment": {"person": {"id": org.person(0)}},
                                      "deployment": {"owner": {"id": org.person(1)}}}
    assert body["data"]["third"] == {"__typename": "ValidationError", "field": "personId"}
    history = await periods(api.url, org.deployments[0])
    assert [p["person_id"] for p in history] == [org.persons[0], org.persons[1]]
