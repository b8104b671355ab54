"""The weekly review over the API (#13): weeklyBrief, topics, maturity, cadenceEffect, scorecard, healthPolicy,
reviewersCounted and recordReview's briefWeek; batching, isolation, scopes and bad input."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from graphql import GraphQLObjectType

from schema import schema
from schema.relay import to_global_id

from .conftest import make_token, run_schema
from .world import build_world

BRIEF = """
weeklyBrief { weekStart weekEnd previousWeekStart baselineFrom complete reviewersCounted reviewedAt reviewDue
  lastCountedReviewAt nextReviewDueAt
  headline { figure isRate week { numerator denominator value ciLow ciHigh } previous { numerator denominator value
    ciLow ciHigh } baseline { numerator denominator value ciLow ciHigh } changeVsPrevious changeVsBaseline
    significant significantVsPrevious }
  topicsToFix { rank conversations addressable aiOutcomes aiResolved reopened escalated addressableResolutionRate
    deploymentArr reopenRate deploymentReopenRate resolutionsShort excessReopens score reason topic { key } }
  topicsToAdd { rank conversations uncovered uncoveredEscalated escalationCost score uncoveredShare topic { key } }
  staleWorkflows { liveSince lastUpdateAt lastChangedAt daysUnchanged staleUpdateDays weekAddressable weekAiResolved
    weekArr baselineAddressable baselineAiResolved baselineArr arrChangePoints workflow { name } topic { key } }
  openEvents { id statusAfter }
}"""
TOPICS = """
topics(window: {lastDays: 30}) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { conversations addressable unaddressable aiOutcomes aiResolved reopened escalated topicCoverage
    addressableResolutionRate reopenRate automationRate escalationRate volumeShare covered deploymentArr arrGapPoints
    opportunity opportunityScore window { from to } topic { key }
    weeks { weekStart conversations addressable unaddressable aiOutcomes aiResolved reopened escalated topicCoverage
      addressableResolutionRate reopenRate automationRate escalationRate volumeShare covered deploymentArr
      arrGapPoints opportunity opportunityScore } } } }"""
MATURITY = "maturity { level asOf nextStep duties { number duty met nextStep evidence { name value flag text } } }"
REVIEW_PAGE = f"""
query Review($first: Int!) {{
  deployments(first: $first) {{ edges {{ node {{ key {BRIEF} {TOPICS} {MATURITY}
    reviews(first: 1) {{ edges {{ node {{ briefWeek counted }} }} }} }} }} }}
  organizations {{ healthPolicy {{ reviewersCounted reviewDueDays }}
    scorecard {{ deployments owned unowned ownersOutsideCx ownersBelowFte deploymentsOwnerOutsideCx
      deploymentsOwnerBelowFte maturity {{ level deployments }} gaps openGaps resolutionsLost estimatedCost
      window {{ from to }}
      ownedWeeks {{ deploymentWeeks arr {{ numerator denominator value ciLow ciHigh }} }}
      unownedWeeks {{ deploymentWeeks arr {{ numerator denominator value ciLow ciHigh }} }}
      weeks {{ weekStart deployments owned unowned workflowUpdates reviewed ownedArr {{ value ciLow ciHigh }}
        unownedArr {{ value ciLow ciHigh }} }} }}
    ownershipSummary {{ cadenceEffect {{ lagWeeks estimate stdError ciLow ciHigh deploymentWeeks deployments
      degreesOfFreedom }} }} }}
}}"""
# The types of the weekly review: every field of each must be asked for by REVIEW_PAGE, so a field added later
# gets its batching (N+1) guard here or the test below fails.
REVIEW_TYPES = ("WeeklyBrief", "BriefFigure", "Estimate", "TopicToFix", "TopicToAdd", "StaleWorkflow",
                "TopicPerformance", "TopicWeek", "Maturity", "MaturityDuty", "EvidenceFigure", "Scorecard",
                "ScorecardWeek", "MaturityLevelCount", "DeploymentWeeksArr", "CadenceEffect")
NEW_FIELDS = {"Deployment": ("weeklyBrief", "topics", "maturity"), "Organization": ("healthPolicy", "scorecard"),
              "OwnershipSummary": ("cadenceEffect",), "Review": ("briefWeek", "counted")}


@pytest.fixture(scope="module")
async def world(module_db_url):
    return await build_world(module_db_url, deployments=60)


@pytest.fixture(scope="module")
async def token(module_db_url, world):
    return await make_token(module_db_url, "acme")


def test_every_field_of_the_review_types_is_in_the_batching_document():
    asked = set(re.findall(r"[A-Za-z]+", REVIEW_PAGE))
    for type_name in REVIEW_TYPES:
        gql_type = schema._schema.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        missing = set(gql_type.fields) - asked
        assert not missing, f"add {type_name}.{sorted(missing)} to REVIEW_PAGE (N+1 guard)"
    for type_name, fields in NEW_FIELDS.items():
        assert set(fields) <= asked and set(fields) <= set(schema._schema.type_map[type_name].fields)


async def test_the_review_reads_in_a_fixed_number_of_statements_however_many_deployments(module_db_url, token):
    small, small_statements = await run_schema(module_db_url, token, REVIEW_PAGE, {"first": 5})
    large, large_statements = await run_schema(module_db_url, token, REVIEW_PAGE, {"first": 60})

    assert small.errors is None and large.errors is None, (small.errors, large.errors)
    assert len(large.data["deployments"]["edges"]) == 60
    assert len(large_statements) == len(small_statements), "\n".join(large_statements)
    # one per (function, arguments): brief header, headline, to fix, to add, stale, open events, topics page,
    # topic weeks, maturity, reviews + counted, scorecard + weeks, cadence, policy, ... and the page itself
    assert len(large_statements) <= 30, "\n".join(large_statements)


async def test_the_brief_defaults_to_the_last_complete_week_and_shows_the_figures(api, world, token):
    gid = to_global_id("Deployment", world["deployments"][0])
    data = await api.data(f"query($id: ID!) {{ deployment(id: $id) {{ {BRIEF} }} }}", {"id": gid}, token)
    brief = data["deployment"]["weeklyBrief"]
    today = date.today()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=1)
    assert (brief["weekStart"], brief["weekEnd"], brief["complete"]) == (
        monday.isoformat(), (monday + timedelta(weeks=1)).isoformat(), True)
    assert [f["figure"] for f in brief["headline"]] == [
        "ARR", "REOPEN_RATE", "COVERAGE", "AUTOMATION_RATE", "ESCALATION_RATE", "VOLUME"]
    assert brief["reviewersCounted"] == "OWNER"


async def test_a_week_argument_names_the_iso_week_containing_it(api, world, token):
    gid = to_global_id("Deployment", world["deployments"][0])
    sunday = date.today() - timedelta(days=date.today().weekday() + 8)
    data = await api.data("""query($id: ID!, $w: Date) { deployment(id: $id) { weeklyBrief(week: $w) {
        weekStart complete headline { figure } } } }""", {"id": gid, "w": sunday.isoformat()}, token)
    brief = data["deployment"]["weeklyBrief"]
    assert brief["weekStart"] == (sunday - timedelta(days=6)).isoformat() and brief["complete"] is True
    assert len(brief["headline"]) == 6


@pytest.mark.parametrize(("query", "field"), [
    ('{ deployment(key: "bot-000") { weeklyBrief(week: "2099-12-01") { weekStart } } }', "week"),
    ('{ deployment(key: "bot-000") { weeklyBrief(week: "1970-01-20") { weekStart } } }', "week"),
    ('{ deployment(key: "bot-000") { weeklyBrief { topicsToFix(first: 0) { rank } } } }', "first"),
    ('{ deployment(key: "bot-000") { weeklyBrief { topicsToAdd(first: 21) { rank } } } }', "first"),
    ('{ deployment(key: "bot-000") { topics(first: 101) { totalCount } } }', "first"),
    ('{ deployment(key: "bot-000") { topics(after: "garbage") { totalCount } } }', "after"),
    ('{ deployment(key: "bot-000") { topics(after: "WyJ4IiwgMV0=") { totalCount } } }', "after"),
    ('{ deployment(key: "bot-000") { topics(window: {lastDays: 0}) { totalCount } } }', "window"),
    ("{ ownershipSummary { cadenceEffect(maxLagWeeks: -1) { lagWeeks } } }", "maxLagWeeks"),
    ("{ ownershipSummary { cadenceEffect(maxLagWeeks: 53) { lagWeeks } } }", "maxLagWeeks"),
    ('{ organizations { scorecard(window: {from: "2026-02-01", to: "2026-01-01"}) { deployments } } }', "window"),
])
async def test_bad_input_is_bad_user_input_naming_the_argument(api, world, token, query, field):
    body = await api.gql(query, None, token)
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
        ("BAD_USER_INPUT", field)], body


async def test_topics_page_through_every_topic_once_in_order(api, world, token):
    gid = to_global_id("Deployment", world["deployments"][0])
    query = """query($id: ID!, $after: String) { deployment(id: $id) {
        topics(first: 1, after: $after, orderBy: {field: CONVERSATIONS, direction: ASC}, window: {lastDays: 30}) {
          totalCount pageInfo { hasNextPage endCursor }
          edges { node { conversations opportunity topic { key } } } } } }"""
    seen, after = [], None
    while True:
        page = (await api.data(query, {"id": gid, "after": after}, token))["deployment"]["topics"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert page["totalCount"] == len(seen) == 2
    # topic-1: 2 uncovered conversations (AUTOMATE); topic-0: 5 covered, at the deployment's own ARR (NONE)
    assert [(n["topic"]["key"], n["conversations"], n["opportunity"]) for n in seen] == [
        ("topic-1", 2, "AUTOMATE"), ("topic-0", 5, "NONE")]


async def test_maturity_says_what_to_do_for_an_unowned_deployment(api, world, token):
    data = await api.data('{ deployment(key: "bot-000") { maturity { level nextStep duties { duty met } } } }',
                          None, token)
    maturity = data["deployment"]["maturity"]
    assert maturity["level"] == 0 and maturity["duties"][0] == {"duty": "NAMED_CX_OWNER", "met": False}
    assert "owner" in maturity["nextStep"]


async def test_health_policy_reads_with_read_scope_and_reviewers_counted_is_settable(api, module_db_url, world, token):
    read = await api.data("{ organizations { healthPolicy { reviewersCounted staleUpdateDays } } }", None, token)
    assert read["organizations"][0]["healthPolicy"] == {"reviewersCounted": "OWNER", "staleUpdateDays": 14}
    admin = await make_token(module_db_url, "acme", "admin")
    mutation = """mutation($v: ReviewersCounted) { setHealthPolicy(input: {reviewersCounted: $v}) { __typename
        ... on SetHealthPolicySuccess { policy { reviewersCounted } } ... on UserError { field } } }"""
    try:
        done = await api.data(mutation, {"v": "ANYONE"}, admin)
        assert done["setHealthPolicy"]["policy"] == {"reviewersCounted": "ANYONE"}
        again = await api.data("{ organizations { healthPolicy { reviewersCounted } } }", None, token)
        assert again["organizations"][0]["healthPolicy"]["reviewersCounted"] == "ANYONE"
        refused = await api.data(mutation, {"v": None}, admin)
        assert refused["setHealthPolicy"] == {"__typename": "ValidationError", "field": "reviewersCounted"}
    finally:
        await api.data(mutation, {"v": "OWNER"}, admin)


async def test_record_review_names_the_brief_week_and_the_brief_counts_it(api, module_db_url, world, token):
    writer = await make_token(module_db_url, "acme", "write:activity,read")
    dep, owner = world["deployments"][1], world["owners"][1]
    today = date.today()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=2)
    mutation = """mutation($d: ID!, $p: ID!, $w: Date) { recordReview(input: {deploymentId: $d, reviewerId: $p,
        briefWeek: $w}) { __typename ... on RecordReviewSuccess { review { briefWeek counted }
          deployment { weeklyBrief(week: $w) { weekStart reviewedAt reviewDue } } } ... on UserError { field } } }"""
    variables = {"d": to_global_id("Deployment", dep), "p": to_global_id("Person", owner)}

    tuesday = await api.data(mutation, variables | {"w": (monday + timedelta(days=1)).isoformat()}, writer)
    assert tuesday["recordReview"] == {"__typename": "ValidationError", "field": "briefWeek"}

    done = (await api.data(mutation, variables | {"w": monday.isoformat()}, writer))["recordReview"]
    assert done["review"] == {"briefWeek": monday.isoformat(), "counted": True}
    brief = done["deployment"]["weeklyBrief"]
    assert brief["weekStart"] == monday.isoformat() and brief["reviewedAt"] is not None
    assert brief["reviewDue"] is False


async def test_another_org_sees_only_its_own_review_figures(api, module_db_url, world):
    globex = await make_token(module_db_url, "globex")
    data = await api.data("""{ organizations { slug healthPolicy { reviewersCounted }
        scorecard { deployments owned maturity { level deployments } }
        ownershipSummary { cadenceEffect(maxLagWeeks: 2) { lagWeeks deploymentWeeks deployments } } }
      deployments { edges { node { key maturity { level } weeklyBrief { headline { week { denominator } } }
        topics { totalCount } } } } }""", None, globex)
    org = data["organizations"][0]
    assert org["slug"] == "globex" and org["scorecard"]["deployments"] == 1
    assert sum(level["deployments"] for level in org["scorecard"]["maturity"]) == 1
    assert [e["deployments"] for e in org["ownershipSummary"]["cadenceEffect"]] == [0, 0, 0]
    node = data["deployments"]["edges"][0]["node"]
    assert node["key"] == "secret-bot" and node["topics"]["totalCount"] == 0

    theirs = to_global_id("Deployment", world["deployments"][0])
    body = await api.gql("query($id: ID!) { deployment(id: $id) { weeklyBrief { weekStart } maturity { level } } }",
                         {"id": theirs}, globex)
    assert body["data"]["deployment"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_without_the_read_scope_the_review_fields_are_refused(api, module_db_url, world):
    automation = await make_token(module_db_url, "acme", "write:activity")
    body = await api.gql("{ organizations { healthPolicy { reviewersCounted } } }", None, automation)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
