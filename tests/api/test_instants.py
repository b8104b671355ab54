"""Instants and dates outside the supported range (1970-01-01 .. 2100-01-01, UTC) through the API.

Refused at the door, as literals and as variables, with BAD_USER_INPUT naming the field and stating
the range, and nothing written; windows alike; ingest rows alike, one by one. And a bad value already
stored (a database migrated with one) fails only its own field, never the organization.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from schema.instants import INSTANT_RANGE

from ..ingest.test_ingest import ndjson, row, run_cli
from .automation import counts, seed, sql
from .conftest import start_api

UTC = timezone.utc
README_QUERY = "{ deployments { edges { node { owner { name } } } } }"
OUT_OF_RANGE = [
    "0001-01-01T00:00:00Z",         # asyncpg would store -infinity
    "0001-01-01T00:00:00+01:00",    # year 0 in UTC: overflows Python's datetime
    "9999-12-31T23:00:00-05:00",    # year 10000 in UTC: overflows too
    "9999-12-31T23:59:59.999999Z",  # asyncpg would store infinity
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:30:00+01:00",    # 1969-12-31T23:30Z
    "2100-01-01T00:00:00Z",
]
UNPARSABLE = ["yesterday", "2026-02-30T09:00:00Z", "2026-03-01T09:00:00+25:00", "", "+002026-03-01T09:00:00Z"]


@dataclass(frozen=True)
class Enum:
    """An enum value in a literal (no quotes)."""

    name: str


def literal(value) -> str:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def plain(value):
    """The same value as JSON variables carry it."""
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# mutation -> (its input type, its input without the instant, the instant field, the token it needs)
MUTATIONS = {
    "assignOwner": ("AssignOwnerInput", lambda o: {"deploymentId": o.deployment(1), "personId": o.person(1),
                                                   "reason": "r"}, "effectiveAt", "owners"),
    "unassignOwner": ("UnassignOwnerInput", lambda o: {"deploymentId": o.deployment(0), "reason": "r"},
                      "effectiveAt", "owners"),
    "recordWorkflowUpdate": ("RecordWorkflowUpdateInput", lambda o: {
        "deploymentId": o.deployment(0), "authorId": o.person(0), "kind": Enum("WORKFLOW_CHANGE"),
        "summary": "s"}, "occurredAt", "activity"),
    "recordReview": ("RecordReviewInput", lambda o: {"deploymentId": o.deployment(0), "reviewerId": o.person(0)},
                     "reviewedAt", "activity"),
    "createDeployment": ("CreateDeploymentInput", lambda o: {"key": "late", "name": "Late",
                                                             "channels": [Enum("CHAT")]}, "launchedAt", "admin"),
    "updateDeployment": ("UpdateDeploymentInput", lambda o: {"id": o.deployment(0)}, "launchedAt", "admin"),
}


@pytest.fixture(scope="module")
async def org(api):
    """Deployment 0 owned by person 0 (updates, reviews); deployment 1 unowned."""
    org = await seed(api.url, deployments=2)
    await sql(api.url, "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid, reason)"
                       " values ($1, $2, $3, tstzrange(now() - interval '60 days', null), 'seed')",
              org.id, org.deployments[0], org.persons[0])
    return org


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def send(api, org, name: str, value: str, form: str) -> dict:
    input_type, base, field, token = MUTATIONS[name]
    fields = base(org) | {field: value}
    if form == "literal":
        response = await api.post(f"mutation {{ {name}(input: {literal(fields)}) {{ __typename }} }}",
                                  token=org.tokens[token])
    else:
        response = await api.post(f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename }} }}",
                                  {"input": {k: plain(v) for k, v in fields.items()}}, org.tokens[token])
    assert response.status_code in (200, 400) and "Traceback" not in response.text
    return response.json()


# --- mutations: refused before anything is written -----------------------------------------------

@pytest.mark.parametrize("form", ["literal", "variable"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_an_instant_out_of_range_is_bad_input_naming_the_field_and_writes_nothing(api, org, name, value,
                                                                                       form):
    field = MUTATIONS[name][2]
    before = await counts(api.url, org.id)

    body = await send(api, org, name, value, form)

    assert codes(body) == ["BAD_USER_INPUT"], body
    message = body["errors"][0]["message"]
    assert INSTANT_RANGE in message, message
    if form == "literal":
        assert message.startswith(f"input.{field}: DateTime "), message
        assert body["errors"][0]["extensions"]["field"] == f"input.{field}"
    else:
        assert "$input" in message and f".{field}" in message, message
    assert body.get("data") is None
    assert await counts(api.url, org.id) == before


@pytest.mark.parametrize("form", ["literal", "variable"])
@pytest.mark.parametrize("value", UNPARSABLE)
async def test_an_unparsable_instant_is_bad_input_too(api, org, value, form):
    body = await send(api, org, "assignOwner", value, form)

    assert codes(body) == ["BAD_USER_INPUT"], body
    assert "effectiveAt" in body["errors"][0]["message"] and "ISO 8601" in body["errors"][0]["message"]


async def test_a_non_string_instant_is_bad_input(api, org):
    for query, variables in (
        ('mutation { assignOwner(input: {deploymentId: "x", personId: "y", reason: "r", effectiveAt: 20260301})'
         " { __typename } }", None),
        ("mutation($input: AssignOwnerInput!) { assignOwner(input: $input) { __typename } }",
         {"input": {"deploymentId": "x", "personId": "y", "reason": "r", "effectiveAt": 20260301}}),
    ):
        body = (await api.post(query, variables, org.tokens["owners"])).json()
        assert codes(body) == ["BAD_USER_INPUT"], body


async def test_after_every_refusal_the_organization_still_answers(api, org):
    for value in OUT_OF_RANGE:
        for name in MUTATIONS:
            await send(api, org, name, value, "variable")

    body = await api.gql(README_QUERY, token=org.tokens["read"])

    assert "errors" not in body, body
    assert sorted(str(e["node"]["owner"]) for e in body["data"]["deployments"]["edges"]) == [
        "None", str({"name": f"{org.slug} person 0"})]


async def test_the_range_ends_and_offsets_inside_it_are_accepted(api, org):
    # 2100-01-01T00:30:00+01:00 is 2099-12-31T23:30Z: in range, but in the future, a typed ValidationError
    future = await send(api, org, "recordReview", "2100-01-01T00:30:00+01:00", "variable")
    first = await send(api, org, "recordWorkflowUpdate", "1970-01-01T00:00:00Z", "variable")
    shifted = await send(api, org, "recordReview", "1970-01-01T01:00:00+01:00", "literal")

    assert future["data"]["recordReview"]["__typename"] == "ValidationError"
    assert first["data"]["recordWorkflowUpdate"]["__typename"] == "RecordWorkflowUpdateSuccess"
    assert shifted["data"]["recordReview"]["__typename"] == "RecordReviewSuccess"
    stored = await sql(api.url, "select min(reviewed_at) as r from steward.performance_reviews where org_id = $1",
                       org.id)
    assert stored[0]["r"] == datetime(1970, 1, 1, tzinfo=UTC)


# --- windows and other dates -----------------------------------------------------------------------

WINDOW_FIELDS = {
    "metrics": ("{ deployments { edges { node { metrics(window: %s) { conversations } } } } }",
                "query($w: WindowInput) { deployments { edges { node { metrics(window: $w) { conversations } } } } }"),
    "ownershipSummary": ("{ ownershipSummary(window: %s) { deployments } }",
                         "query($w: WindowInput) { ownershipSummary(window: $w) { deployments } }"),
    "workflowUpdates": ("{ workflowUpdates(filter: {window: %s}) { totalCount } }",
                        "query($w: WindowInput) { workflowUpdates(filter: {window: $w}) { totalCount } }"),
}


@pytest.mark.parametrize(("window", "bound"), [
    ({"from": "0001-01-01", "to": "2026-01-01"}, "from"),
    ({"from": "2026-01-01", "to": "9999-12-31"}, "to"),
    ({"from": "1969-12-31", "to": "1970-01-02"}, "from"),
    ({"from": "2099-12-01", "to": "2100-01-01"}, "to"),
    ({"from": "2026-01-01", "to": "2026-13-01"}, "to"),
])
@pytest.mark.parametrize("where", sorted(WINDOW_FIELDS))
async def test_a_window_out_of_range_is_bad_input_naming_window_and_bound(api, org, where, window, bound):
    with_literal, with_variable = WINDOW_FIELDS[where]
    path = "filter.window" if where == "workflowUpdates" else "window"

    as_literal = await api.gql(with_literal % literal(window), token=org.tokens["read"])
    as_variable = await api.gql(with_variable, {"w": window}, org.tokens["read"])

    assert codes(as_literal) == ["BAD_USER_INPUT"] and codes(as_variable) == ["BAD_USER_INPUT"]
    assert as_literal["errors"][0]["message"].startswith(f"{path}.{bound}: Date "), as_literal
    assert as_literal["errors"][0]["extensions"]["field"] == f"{path}.{bound}"
    assert "$w" in as_variable["errors"][0]["message"] and f".{bound}" in as_variable["errors"][0]["message"]
    if "13" not in window["to"]:
        assert "1970-01-01 to 2099-12-31" in as_literal["errors"][0]["message"]


async def test_weekly_series_dates_out_of_range_are_bad_input(api, org):
    query = "query($f: Date, $t: Date) { deployments { edges { node { weeklyMetrics(from: $f, to: $t) { weekStart } } } } }"
    literal_body = await api.gql('{ deployments { edges { node { weeklyMetrics(from: "0001-01-01", to: "2026-01-05")'
                                 " { weekStart } } } } }", token=org.tokens["read"])
    variable_body = await api.gql(query, {"f": "2026-01-05", "t": "9999-12-31"}, org.tokens["read"])

    assert codes(literal_body) == ["BAD_USER_INPUT"] and codes(variable_body) == ["BAD_USER_INPUT"]
    assert literal_body["errors"][0]["extensions"]["field"] == "from"
    assert "$t" in variable_body["errors"][0]["message"]


async def test_windows_at_the_ends_of_the_range_are_answered(api, org):
    body = await api.gql("{ deployments { edges { node { first: metrics(window: {from: \"1970-01-01\", "
                         "to: \"1970-01-31\"}) { conversations daysSinceLastUpdate } last: metrics(window: "
                         "{from: \"2099-12-01\", to: \"2099-12-31\"}) { conversations } "
                         "weeklyMetrics(from: \"1970-01-01\", to: \"1970-01-15\") { weekStart } } } } }",
                         token=org.tokens["read"])

    assert "errors" not in body, body
    node = body["data"]["deployments"]["edges"][0]["node"]
    assert node["first"]["conversations"] == 0 and node["last"]["conversations"] == 0
    assert [w["weekStart"] for w in node["weeklyMetrics"]] == ["1969-12-29", "1970-01-05", "1970-01-12"]


# --- ingest ------------------------------------------------------------------------------------------

async def test_ingest_rejects_out_of_range_instants_per_row_with_line_and_reason(api, org):
    key = "bot-0"
    rows = [row("in-1", key),
            row("bad-start", key, startedAt="0001-01-01T00:00:00Z"),
            row("bad-offset", key, startedAt="0001-01-01T00:00:00+01:00"),
            row("bad-resolved", key, resolvedAt="9999-12-31T23:00:00-05:00"),
            row("bad-reopened", key, reopenedAt="2100-01-01T00:00:00Z"),
            row("bad-early", key, startedAt="1969-12-31T23:59:59Z", resolvedAt="1969-12-31T23:59:59Z"),
            row("in-2", key, startedAt="1970-01-01T00:00:00Z", resolvedAt="1970-01-01T00:01:00Z")]
    csv = ("externalId,deploymentKey,topic,channel,startedAt,aiEngaged,outcome,resolvedAt,reopenedAt\n"
           f"in-3,{key},returns,CHAT,2026-03-02T10:00:00Z,true,OPEN,,\n"
           f"bad-csv,{key},returns,CHAT,9999-12-31T23:59:59.999999Z,true,OPEN,,\n")
    auth = {"authorization": f"Bearer {org.tokens['activity']}"}

    as_ndjson = await api.client.post("/ingest/conversations", content=ndjson(rows),
                                      headers=auth | {"content-type": "application/x-ndjson"})
    as_csv = await api.client.post("/ingest/conversations", content=csv.encode(),
                                   headers=auth | {"content-type": "text/csv"})

    assert as_ndjson.status_code == 200 and as_csv.status_code == 200, (as_ndjson.text, as_csv.text)
    result = as_ndjson.json()
    assert (result["accepted"], result["rejected"]) == (2, 5)
    assert [(e["line"], e["reason"].split(" is out of range")[0]) for e in result["errors"]] == [
        (2, "startedAt"), (3, "startedAt"), (4, "resolvedAt"), (5, "reopenedAt"), (6, "startedAt")]
    assert all(INSTANT_RANGE in e["reason"] for e in result["errors"])
    reason = f"startedAt is out of range: '9999-12-31T23:59:59.999999Z'; instants must be {INSTANT_RANGE}"
    assert as_csv.json()["errors"] == [{"line": 3, "code": "INVALID_FIELDS", "reason": reason,
                                        "fields": [{"field": "startedAt", "code": "OUT_OF_RANGE", "reason": reason}]}]
    stored = await sql(api.url, "select external_id from steward.conversations where org_id = $1 order by 1", org.id)
    assert [r["external_id"] for r in stored] == ["in-1", "in-2", "in-3"]


async def test_steward_import_rejects_out_of_range_rows(api, org, tmp_path):
    path = tmp_path / "c.ndjson"
    path.write_bytes(ndjson([row("cli-1", "bot-0"), row("cli-bad", "bot-0", startedAt="0001-01-01T00:00:00+01:00")]))

    result = await asyncio.to_thread(run_cli, api.url, str(path), "--org", org.slug)

    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert summary["errors"][0]["line"] == 2 and INSTANT_RANGE in summary["errors"][0]["reason"]


# --- a bad value already stored fails one field, not the list ----------------------------------------

LIST = """{ deployments(first: 50) { edges { node { key owner { name } ownerTenureDays
            metrics(window: {lastDays: 30}) { daysSinceLastUpdate daysSinceLastReview }
            health { status } currentOwnership { validFrom } } } } }"""


@pytest.fixture
async def legacy(fresh_db_url):
    """An org migrated with out-of-range rows: one deployment owned since -infinity, its only update at -infinity.

    Written with the constraint out of the way and put back NOT VALID, as migration 0007 leaves a dirty table.
    """
    org = await seed(fresh_db_url, persons=5, deployments=5, owner=None)
    for i in range(1, 5):
        await sql(fresh_db_url, "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
                                " values ($1, $2, $3, tstzrange(now() - interval '20 days', null))",
                  org.id, org.deployments[i], org.persons[i])
        await sql(fresh_db_url, "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind,"
                                " summary, occurred_at) values ($1, $2, $3, 'WORKFLOW_CHANGE', 's', now() - interval"
                                " '3 days')", org.id, org.deployments[i], org.persons[i])
    bad = {"org": org.id, "dep": org.deployments[0], "person": org.persons[0]}
    for table, name, check, insert in (
        ("ownership_assignments", "ownership_assignments_valid_in_range", "steward.period_in_range(valid)",
         "insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
         " values ($1, $2, $3, tstzrange('-infinity', null))"),
        ("workflow_updates", "workflow_updates_occurred_at_in_range", "steward.instant_in_range(occurred_at)",
         "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind, summary, occurred_at)"
         " values ($1, $2, $3, 'WORKFLOW_CHANGE', 's', '-infinity')"),
    ):
        await sql(fresh_db_url, f"alter table steward.{table} drop constraint {name}")
        await sql(fresh_db_url, insert, bad["org"], bad["dep"], bad["person"])
        await sql(fresh_db_url, f"alter table steward.{table} add constraint {name} check ({check}) not valid")
    api, lifespan = await start_api(fresh_db_url)
    yield api, org
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


async def test_one_bad_row_fails_its_own_fields_and_every_other_deployment_answers(legacy):
    api, org = legacy

    readme = await api.gql(README_QUERY, token=org.tokens["read"])
    body = await api.gql(LIST, token=org.tokens["read"])

    assert "errors" not in readme, readme
    assert len(readme["data"]["deployments"]["edges"]) == 5
    nodes = {e["node"]["key"]: e["node"] for e in body["data"]["deployments"]["edges"]}
    index = [e["node"]["key"] for e in body["data"]["deployments"]["edges"]].index("bot-0")
    for key in ("bot-1", "bot-2", "bot-3", "bot-4"):
        assert nodes[key]["owner"]["name"] == f"{org.slug} person {key[-1]}"
        assert (nodes[key]["ownerTenureDays"], nodes[key]["metrics"]["daysSinceLastUpdate"]) == (20, 3)
    bad = nodes["bot-0"]
    assert bad["owner"]["name"] == f"{org.slug} person 0" and bad["health"]["status"] == "STALE"
    assert bad["ownerTenureDays"] is None and bad["metrics"]["daysSinceLastUpdate"] is None
    assert bad["metrics"]["daysSinceLastReview"] is None  # none ever: not an error
    assert sorted((e["path"], e["extensions"]["code"]) for e in body["errors"]) == [
        (["deployments", "edges", index, "node", "metrics", "daysSinceLastUpdate"], "DATA_OUT_OF_RANGE"),
        (["deployments", "edges", index, "node", "ownerTenureDays"], "DATA_OUT_OF_RANGE")]
    assert all(INSTANT_RANGE in e["message"] for e in body["errors"])


async def test_changes_that_touch_the_bad_row_are_typed_errors_and_the_rest_of_the_org_changes(legacy):
    from .automation import ASSIGN, DEACTIVATE, UNASSIGN

    api, org = legacy
    unassign = await api.gql(UNASSIGN, {"input": {"deploymentId": org.deployment(0), "reason": "r"}},
                             org.tokens["owners"])
    handover = await api.gql(ASSIGN, {"input": {"deploymentId": org.deployment(0), "personId": org.person(1),
                                                "reason": "r"}}, org.tokens["owners"])
    leave = await api.gql(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left"}}, org.tokens["owners"])
    elsewhere = await api.gql(ASSIGN, {"input": {"deploymentId": org.deployment(1), "personId": org.person(2),
                                                 "reason": "r"}}, org.tokens["owners"])

    for body, name in ((unassign, "unassignOwner"), (handover, "assignOwner"), (leave, "deactivatePerson")):
        assert "errors" not in body, body
        result = body["data"][name]
        assert result["__typename"] == "ValidationError" and result["field"] == (
            None if name == "deactivatePerson" else "effectiveAt"), result
        assert "supported range" in result["message"] and "violates" not in result["message"]
    assert elsewhere["data"]["assignOwner"]["__typename"] == "AssignOwnerSuccess"


async def test_a_bad_launch_instant_in_a_sorted_page_keeps_the_page(fresh_db_url):
    org = await seed(fresh_db_url, deployments=3)
    await sql(fresh_db_url, "alter table steward.deployments drop constraint deployments_launched_at_in_range")
    await sql(fresh_db_url, "update steward.deployments set launched_at = '-infinity' where id = $1",
              org.deployments[1])
    api, lifespan = await start_api(fresh_db_url)
    try:
        body = await api.gql("{ deployments(orderBy: {field: LAUNCHED_AT}) { edges { node { key launchedAt"
                             " metrics(window: {lastDays: 30}) { ownershipGapDays } } } } }", token=org.tokens["read"])
    finally:
        await api.client.aclose()
        await lifespan.__aexit__(None, None, None)

    assert "errors" not in body, body
    assert [e["node"]["key"] for e in body["data"]["deployments"]["edges"]][0] == "bot-1"
    assert len(body["data"]["deployments"]["edges"]) == 3
