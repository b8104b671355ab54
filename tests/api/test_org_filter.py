"""Every statement the service runs on tenant tables names its organization (issue 16, item 3).

A representative run of the service (every root field of Query and Mutation with each kind of
selection test_scopes builds, a dashboard, an ingest, a pass of the health evaluator, a webhook
delivered by the worker) is captured from asyncpg's query logger on every connection; each named
statement that ran is EXPLAINed with its own arguments and passes when every scan of a tenant
table in its plan is restricted to one organization by the statement itself (tests/api/org_filter.py
says how; docs/scale-out.md why row-level security is not enough for Citus). The statements that
do not are listed below with the reason: the test fails for any other, and for a listed one that
now passes or no longer runs, so the list stays exact.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schema.relay import to_global_id
from service.config import Settings
from service.db.pool import connect
from service.events.evaluator import Evaluator

from ..sql.test_citus_ready import tenant_tables
from ..webhooks.helpers import create, settings
from ..webhooks.receiver import Receiver
from .automation import seed
from .conftest import make_token, start_api
from .org_filter import Capture, Verdict, judge, named_statements
from .test_read_api import DASHBOARD
from .test_scopes import CASES, document

ALL_SCOPES = "read,write:owners,write:activity,admin"

# What the matrix's one-kind-per-case selections do not reach: nested lists (first pages batched
# across parents, and a later page), node lookups of every kind, root lists with their counts.
DEEP = """
query($d: ID!, $p: ID!) {
  deployment(id: $d) {
    escalationContact { id } currentOwnership { id } ownershipHistory { id } ownershipGaps { startedAt }
    workflows { id topic { id } }
    workflowUpdates(first: 2) { totalCount edges { node { id author { id } workflow { id } } } }
    later: workflowUpdates(last: 1) { edges { node { id } } }
    reviews(first: 2) { totalCount edges { node { id reviewer { id } } } }
    laterReviews: reviews(last: 1) { edges { node { id } } }
    auditLog(first: 2) { totalCount edges { node { id } } }
    laterAudit: auditLog(last: 1) { edges { node { id } } }
    topicOpportunities(first: 3) { topic { id } }
  }
  person: node(id: $p) {
    ... on Person { ownedDeployments { id } workflowUpdates(first: 2) { totalCount edges { node { id } } } }
  }
  workflowUpdates(first: 2) { totalCount edges { node { id } } }
  auditLog(first: 2) { totalCount edges { node { id } } }
}
"""
WEBHOOKS = """
query($slug: String!) { organization(slug: $slug) {
  webhooks { id deliveries(first: 5) { totalCount edges { node { id attempts { attempt } } } }
             later: deliveries(last: 1) { edges { node { id } } } }
  healthEvents(first: 5) { totalCount edges { node { id deployment { id } acknowledgement { note } } } } } }
"""
REVIEW = """
query($d: ID!, $slug: String!) {
  deployment(id: $d) {
    weeklyBrief { weekStart headline { __typename } topicsToFix { __typename } topicsToAdd { __typename }
                  staleWorkflows { __typename } openEvents { id } }
    maturity { level }
    topics(first: 2) { totalCount edges { node { __typename } } }
  }
  organization(slug: $slug) { scorecard { __typename } healthPolicy { __typename } }
}
"""
WRITES = {
    "redeliverWebhookDelivery": "RedeliverWebhookDeliveryInput",
    "acknowledgeHealthEvent": "AcknowledgeHealthEventInput",
    "updateWebhook": "UpdateWebhookInput",
    "deleteWebhook": "DeleteWebhookInput",
}
CREATE_PERSON = """
mutation($input: CreatePersonInput!) { createPerson(input: $input) { __typename } }
"""

# Cross-organization by design: these run outside any one organization's request, on every
# organization's rows, and stay multi-shard under Citus.
CROSS_ORGANIZATION = {
    "service/events/webhook_worker.sql:claim": "the worker claims due deliveries of every organization",
    "service/events/webhook_worker.sql:seconds_until_due": "the worker's next due delivery, any organization",
}

# Unpinned today: calls of `metrics` functions and views (the contract BI tools and the compiler read,
# signatures fixed) that take deployment ids, not an organization. Inlined, their inner scans filter by
# id, and row-level security keeps them in the caller's organization; under Citus they go to every
# shard (results correct) unless the functions are distributed by an organization argument
# (docs/scale-out.md). An outer `org_id = $n` does not reach the scans inside their CTEs.
METRICS = "metrics function over deployment ids: RLS only inside"
RLS_ONLY: dict[str, str] = {
    "schema/queries.sql:health": METRICS,
    "schema/queries.sql:window_metrics": METRICS,
    "schema/queries.sql:weekly_metrics": METRICS,
    "schema/queries.sql:topic_opportunities": METRICS,
    "schema/ownership/gaps.sql:ownership_gaps": METRICS,
    "schema/review/queries.sql:headline": METRICS,
    "schema/review/queries.sql:maturity": METRICS,
    "schema/review/queries.sql:open_events": METRICS,
    "schema/review/queries.sql:scorecard": METRICS,
    "schema/review/queries.sql:scorecard_weeks": METRICS,
    "schema/review/queries.sql:stale_workflows": METRICS,
    "schema/review/queries.sql:topics_count": METRICS,
    "schema/review/queries.sql:topics_page": METRICS,
    "schema/review/queries.sql:topics_to_add": METRICS,
    "schema/review/queries.sql:topics_to_fix": METRICS,
    "schema/review/queries.sql:weekly_brief": METRICS,
    "schema/organizations/queries.sql:ownership_overview": "metrics.ownership_overview reads metrics.deployment_health,"
                                                          " metrics.health over every deployment: RLS only inside",
    "schema/organizations/queries.sql:ownership_impact": "metrics.deployment_week_facts pins org_id ="
                                                        " (select steward.current_org_id()): a function, not $n",
}


@pytest.fixture(scope="module")
async def capture(module_db_url):
    """Run the service once through everything it does, with every statement captured."""
    log = Capture()
    with pytest.MonkeyPatch.context() as patch:
        log.install(patch)
        org = await seed(module_db_url, persons=3, deployments=2, owner=0, slug="org-filter")
        token = await make_token(module_db_url, org.slug, ALL_SCOPES)
        receiver = await Receiver().up()
        # the resolvers' statements, one by one: with the compiler on, whole reads become one
        # statement composed at run time, which no `-- name:` identifies
        api, lifespan = await start_api(module_db_url, replace(settings(), compile=False))
        try:
            await create(api, token, receiver.url, events=("OWNER_CHANGED", "HEALTH_CHANGED"))
            seen = set()
            for case in CASES:  # each root field with each kind of selection, once
                if (case.operation, case.field, case.kind) not in seen:
                    seen.add((case.operation, case.field, case.kind))
                    await api.post(*document(case, org), token=token)
            await api.data(DASHBOARD, {"first": 10}, token)
            await api.data(DEEP, {"d": org.deployment(0), "p": org.person(0)}, token)
            ids = [row["id"] for row in await all_nodes(module_db_url, org.id)]
            for node_id in ids:
                await api.post("query($id: ID!) { node(id: $id) { id } }", {"id": node_id}, token)
            person = {"name": "Idem Potent", "email": "idem@example.com", "function": "CX", "idempotencyKey": "k-1"}
            for _ in range(2):  # the second is answered from the key
                await api.data(CREATE_PERSON, {"input": person}, token)
            started = datetime.now(UTC) - timedelta(days=1)
            rows = "".join(
                f'{{"externalId": "of-{i}", "deploymentKey": "bot-{i % 2}", "topic": "returns", "channel": "CHAT",'
                f' "startedAt": "{(started + timedelta(minutes=i)).isoformat()}", "aiEngaged": true,'
                f' "outcome": "ESCALATED"}}\n' for i in range(20))
            ingested = await api.client.post("/ingest/conversations", content=rows.encode(),
                                             headers={"authorization": f"Bearer {token}",
                                                      "content-type": "application/x-ndjson"})
            assert ingested.status_code == 200, ingested.text
            evaluator = Evaluator(Settings(db_connect_timeout_s=10), module_db_url)
            try:
                assert await evaluator.tick() is not None
            finally:
                await evaluator.close()
            await receiver.wait_for(1)  # the worker delivered (claim, settle, attempt, success)
            deadline = time.monotonic() + 5
            while not any("webhook_worker.sql:succeeded" in n for n in log.by_statement(named_statements())):
                assert time.monotonic() < deadline, "the webhook worker never recorded a success"
                await receiver.wait_for(0, timeout=0.1)
            await api.data(REVIEW, {"d": org.deployment(0), "slug": org.slug}, token)
            seen_hooks = (await api.data(WEBHOOKS, {"slug": org.slug}, token))["organization"]
            hook = seen_hooks["webhooks"][0]
            inputs = {"redeliverWebhookDelivery": {"id": hook["deliveries"]["edges"][0]["node"]["id"]},
                      "updateWebhook": {"id": hook["id"], "description": "org filter"},
                      "deleteWebhook": {"id": hook["id"]}}
            events = seen_hooks["healthEvents"]["edges"]
            if events:
                inputs["acknowledgeHealthEvent"] = {"eventId": events[0]["node"]["id"], "note": "seen"}
            for name, value in inputs.items():
                body = await api.gql(f"mutation($input: {WRITES[name]}!) {{ {name}(input: $input) {{ __typename }} }}",
                                     {"input": value}, token)
                assert "errors" not in body, body
        finally:
            await api.client.aclose()
            await lifespan.__aexit__(None, None, None)
            await receiver.down()
    return log


async def all_nodes(db_url: str, org_id: int) -> list:
    """The global id of one row of each node type of the organization."""
    conn = await connect(db_url)
    try:
        found = []
        for type_name, table in (("Deployment", "deployments"), ("Person", "persons"), ("Topic", "topics"),
                                 ("Workflow", "workflows"), ("WorkflowUpdate", "workflow_updates"),
                                 ("Review", "performance_reviews"), ("OwnershipChange", "ownership_changes"),
                                 ("OwnershipAssignment", "ownership_assignments"), ("HealthEvent", "health_events"),
                                 ("Webhook", "webhooks")):
            pk = await conn.fetchval(f"select min(id) from steward.{table} where org_id = $1", org_id)
            if pk is not None:
                found.append({"id": to_global_id(type_name, pk)})
        return found
    finally:
        await conn.close()


async def verdicts(capture: Capture, db_url: str) -> dict[str, Verdict]:
    """{statement: verdict} of every named statement that ran; the worst of up to 5 distinct runs."""
    names = named_statements()
    text = {name: query for query, name in names.items()}
    order = {"pinned": 0, "no tenant table": 0, "utility": 0, "through functions": 1, "unpinned": 2,
             "explain failed": 3}
    found: dict[str, Verdict] = {}
    conn = await connect(db_url)
    try:
        tenant = await tenant_tables(conn)
        temp_tables = capture.temp_tables()
        for name, runs in capture.by_statement(names).items():
            distinct = list({repr(args): args for args in runs}.values())[:5]
            judged = [await judge(conn, name, text[name], args, tenant, temp_tables) for args in distinct]
            found[name] = max(judged, key=lambda v: order[v.kind])
    finally:
        await conn.close()
    return found


async def test_every_statement_on_tenant_tables_names_its_organization(capture, module_db_url):
    found = await verdicts(capture, module_db_url)
    kinds = {kind: sorted(n for n, v in found.items() if v.kind == kind)
             for kind in ("pinned", "unpinned", "through functions", "no tenant table", "utility", "explain failed")}
    print(f"\n{len(found)} named statements ran: "
          + ", ".join(f"{len(names)} {kind}" for kind, names in kinds.items()))
    for name in kinds["unpinned"] + kinds["through functions"] + kinds["explain failed"]:
        print(f"  {found[name].kind}: {name} {found[name].scans or found[name].detail}")

    assert kinds["explain failed"] == []
    unpinned = set(kinds["unpinned"])
    assert unpinned - CROSS_ORGANIZATION.keys() - RLS_ONLY.keys() == set(), "new statements without org_id"
    assert (CROSS_ORGANIZATION.keys() | RLS_ONLY.keys()) - unpinned == set(), "listed, but pinned or not run"


async def test_the_run_reaches_every_part_of_the_service(capture):
    """The run is representative: reads, mutations, ingest, the evaluator and the webhook worker all ran."""
    ran = set(capture.by_statement(named_statements()))
    for part in ("schema/deployments/", "schema/people/", "schema/ownership/", "schema/activity/",
                 "schema/health/", "schema/webhooks/", "schema/organizations/", "schema/idempotency.sql",
                 "service/ingest/", "service/events/evaluator.sql", "service/events/webhook_worker.sql",
                 "service/auth.sql"):
        assert any(name.startswith(part) for name in ran), part
