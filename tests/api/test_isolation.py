"""Tenant isolation through the API: another organization's token sees nothing and changes nothing.

Organization A has data of every kind; organization B's tokens (admin: every scope) ask for it by
every Query root field, every connection and every mutation. The answer is exactly what an ID or
slug that does not exist gets, and A's rows are unchanged. Then the same in SQL, under the service
role with the wrong `app.org_id`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schema import schema
from schema.relay import from_global_id, to_global_id
from service.db.pool import connect

from .automation import ASSIGN, counts, payload, seed, sql

UTC = timezone.utc
UNKNOWN = 2**40


@pytest.fixture(scope="module")
async def orgs(module_db_url, api):
    """A with people, deployments, owners, activity, audit entries and idempotency keys; B smaller."""
    a = await seed(module_db_url, persons=3, deployments=2, owner=0, slug="iso-a")
    b = await seed(module_db_url, persons=1, deployments=1, owner=0, slug="iso-b")
    now = datetime.now(UTC)
    conn = await connect(module_db_url)
    try:
        topic = await conn.fetchval("insert into steward.topics (org_id, key, name) values ($1, 'returns', 'Returns')"
                                    " returning id", a.id)
        workflow = await conn.fetchval("insert into steward.workflows (org_id, deployment_id, topic_id, name, channels)"
                                       " values ($1, $2, $3, 'Returns flow', '{CHAT}') returning id",
                                       a.id, a.deployments[0], topic)
        update = await conn.fetchval("insert into steward.workflow_updates (org_id, deployment_id, author_id, kind,"
                                     " summary, occurred_at) values ($1, $2, $3, 'WORKFLOW_CHANGE', 'a change', $4)"
                                     " returning id", a.id, a.deployments[0], a.persons[0], now - timedelta(days=1))
        review = await conn.fetchval("insert into steward.performance_reviews (org_id, deployment_id, reviewer_id,"
                                     " reviewed_at) values ($1, $2, $3, $4) returning id",
                                     a.id, a.deployments[0], a.persons[0], now - timedelta(days=1))
        # an endpoint (TEST-NET: never reached), so the handover below queues a delivery for it
        webhook = await conn.fetchval("insert into steward.webhooks (org_id, url, events, secret) values ($1,"
                                      " 'https://192.0.2.1/h', '{OWNER_CHANGED}', 'whsec_' || repeat('A', 43) || '=')"
                                      " returning id", a.id)
    finally:
        await conn.close()
    handover = payload(await api.gql(ASSIGN, {"input": {"deploymentId": a.deployment(0), "personId": a.person(1),
                                                        "reason": "a handover", "idempotencyKey": "a-key"}},
                                     a.tokens["owners"]), "assignOwner")
    a.ids = {"Organization": a.id, "Deployment": a.deployments[0], "Person": a.persons[1], "Topic": topic,
             "Workflow": workflow, "WorkflowUpdate": update, "Review": review,
             "OwnershipAssignment": from_global_id(handover["assignment"]["id"])[1],
             "OwnershipChange": (await sql(module_db_url, "select max(id) as id from steward.ownership_changes"
                                                          " where org_id = $1", a.id))[0]["id"],
             "HealthEvent": (await sql(module_db_url, "select max(id) as id from steward.health_events"
                                                      " where org_id = $1", a.id))[0]["id"],
             "Webhook": webhook,
             "WebhookDelivery": (await sql(module_db_url, "select max(id) as id from steward.webhook_deliveries"
                                                          " where org_id = $1", a.id))[0]["id"]}
    return a, b


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


def error_of(body: dict) -> tuple:
    """What a caller can tell from a failed read: data, message, code and path (nothing else)."""
    assert body.get("errors"), body
    return body.get("data"), [(e["message"], e["extensions"]["code"], e.get("path")) for e in body["errors"]]


async def same_as_unknown(api, token: str, query: str, theirs: dict, unknown: dict) -> tuple:
    """Ask for A's object and for one that does not exist: the two answers must be identical."""
    answer = error_of(await api.gql(query, theirs, token))
    assert answer == error_of(await api.gql(query, unknown, token))
    return answer


NODE = "query($id: ID!) { node(id: $id) { id } }"


# Every type that implements Node: a new one needs an object of its kind in `orgs` (a.ids) to pass.
NODE_TYPES = sorted(t.name for t in schema._schema.get_possible_types(schema._schema.get_type("Node")))


@pytest.mark.parametrize("type_name", NODE_TYPES)
async def test_node_of_another_org_is_not_found_exactly_like_an_unknown_id(api, orgs, type_name):
    a, b = orgs
    own = await api.gql(NODE, {"id": gid(type_name, a.ids[type_name])}, a.tokens["read"])
    assert own["data"]["node"]["id"] == gid(type_name, a.ids[type_name])  # it exists, for A

    _, errors = await same_as_unknown(api, b.tokens["admin"], NODE, {"id": gid(type_name, a.ids[type_name])},
                                      {"id": gid(type_name, UNKNOWN)})
    assert errors[0][1] == "NOT_FOUND"


# Every Query root field, asked for A's data with B's token: (query, A's variables, unknown variables) for
# NOT_FOUND, or (query, variables, check) for lists that must hold only B's rows.
def root_cases(a, b) -> dict:
    dep, person = gid("Deployment", a.deployments[0]), gid("Person", a.persons[0])
    return {
        "node": [("not_found", NODE, {"id": dep}, {"id": gid("Deployment", UNKNOWN)})],
        "organization": [("not_found", "query($s: String!) { organization(slug: $s) { id } }",
                          {"s": a.slug}, {"s": "no-such-org"})],
        "organizations": [("only_b", "{ organizations { slug } }", {},
                           lambda d: d["organizations"] == [{"slug": b.slug}])],
        "deployments": [
            ("not_found", "query($s: String) { deployments(orgSlug: $s) { totalCount } }",
             {"s": a.slug}, {"s": "no-such-org"}),
            ("only_b", "{ deployments { totalCount edges { node { id } } } }", {},
             lambda d: [e["node"]["id"] for e in d["deployments"]["edges"]] == [gid("Deployment", b.deployments[0])]),
            ("only_b", "query($p: ID!) { deployments(filter: {ownerId: $p}) { totalCount } }", {"p": person},
             lambda d: d["deployments"]["totalCount"] == 0),
        ],
        "deployment": [
            ("not_found", "query($id: ID!) { deployment(id: $id) { id } }", {"id": dep},
             {"id": gid("Deployment", UNKNOWN)}),
            ("not_found", "query($s: String!) { deployment(orgSlug: $s, key: \"bot-0\") { id } }",
             {"s": a.slug}, {"s": "no-such-org"}),
            # the same key in B's own organization is B's deployment, never A's
            ("only_b", "{ deployment(key: \"bot-0\") { id } }", {},
             lambda d: d["deployment"]["id"] == gid("Deployment", b.deployments[0])),
        ],
        "people": [
            ("not_found", "query($s: String) { people(orgSlug: $s) { totalCount } }", {"s": a.slug},
             {"s": "no-such-org"}),
            ("only_b", "{ people { totalCount edges { node { id } } } }", {},
             lambda d: [e["node"]["id"] for e in d["people"]["edges"]] == [gid("Person", b.persons[0])]),
        ],
        "workflowUpdates": [
            ("only_b", "{ workflowUpdates { totalCount } }", {}, lambda d: d["workflowUpdates"]["totalCount"] == 0),
            ("only_b", "query($d: ID!) { workflowUpdates(filter: {deploymentId: $d}) { totalCount } }", {"d": dep},
             lambda d: d["workflowUpdates"]["totalCount"] == 0),
        ],
        "ownershipSummary": [
            ("not_found", "query($s: String) { ownershipSummary(orgSlug: $s) { deployments } }", {"s": a.slug},
             {"s": "no-such-org"}),
            ("only_b", "{ ownershipSummary { deployments } }", {},
             lambda d: d["ownershipSummary"]["deployments"] == 1),
        ],
        "auditLog": [
            ("only_b", "{ auditLog { totalCount } }", {}, lambda d: d["auditLog"]["totalCount"] == 0),
            ("only_b", "query($d: ID!) { auditLog(filter: {deploymentId: $d}) { totalCount } }", {"d": dep},
             lambda d: d["auditLog"]["totalCount"] == 0),
            ("only_b", "query($p: ID!) { auditLog(filter: {personId: $p}) { totalCount } }", {"p": person},
             lambda d: d["auditLog"]["totalCount"] == 0),
        ],
    }


async def test_every_query_root_field_keeps_to_the_callers_org(api, orgs):
    a, b = orgs
    cases = root_cases(a, b)
    assert set(cases) == set(schema._schema.query_type.fields), "add an isolation case for the new root field"
    token = b.tokens["admin"]
    for field, field_cases in cases.items():
        for kind, query, variables, other in field_cases:
            if kind == "not_found":
                _, errors = await same_as_unknown(api, token, query, variables, other)
                assert errors[0][1] == "NOT_FOUND", (field, errors)
            else:
                assert other(await api.data(query, variables, token)), (field, query)


async def test_connections_below_the_callers_objects_hold_only_its_rows(api, orgs):
    a, b = orgs
    data = await api.data("""{
      organizations { deployments { totalCount } people { totalCount } healthEvents { totalCount } }
      deployments { edges { node {
        workflowUpdates { totalCount } reviews { totalCount } auditLog { totalCount } ownershipHistory { id }
        workflows { id } owner { id } } } }
      people { edges { node { workflowUpdates { totalCount } ownedDeployments { id } } } }
    }""", None, b.tokens["admin"])

    assert data["organizations"] == [{"deployments": {"totalCount": 1}, "people": {"totalCount": 1},
                                      "healthEvents": {"totalCount": 0}}]
    node = data["deployments"]["edges"][0]["node"]
    assert node["workflowUpdates"]["totalCount"] == node["reviews"]["totalCount"] == 0
    assert node["auditLog"]["totalCount"] == 0 and node["workflows"] == []
    assert len(node["ownershipHistory"]) == 1 and node["owner"] == {"id": gid("Person", b.persons[0])}
    assert data["people"]["edges"][0]["node"]["ownedDeployments"] == [{"id": gid("Deployment", b.deployments[0])}]


def mutation_cases(a) -> dict:
    """Every mutation aimed at A's objects. Those that take no ID act on the caller's own organization."""
    dep, person = gid("Deployment", a.deployments[0]), gid("Person", a.persons[1])
    return {
        # with A's idempotency key: B's token has a key space of its own
        "assignOwner": ("AssignOwnerInput", {"deploymentId": dep, "personId": person, "reason": "x",
                                             "idempotencyKey": "a-key"}),
        "unassignOwner": ("UnassignOwnerInput", {"deploymentId": dep, "reason": "x"}),
        "deactivatePerson": ("DeactivatePersonInput", {"personId": person, "reason": "x"}),
        "createPerson": ("CreatePersonInput", {"name": "Mallory", "email": "mallory@b.test", "function": "IT"}),
        "updatePerson": ("UpdatePersonInput", {"id": person, "name": "Mallory"}),
        "createDeployment": ("CreateDeploymentInput", {"key": "b-new", "name": "B's", "channels": ["CHAT"]}),
        "updateDeployment": ("UpdateDeploymentInput", {"id": dep, "status": "RETIRED"}),
        "recordWorkflowUpdate": ("RecordWorkflowUpdateInput", {"deploymentId": dep, "authorId": person,
                                                               "kind": "CONFIG_CHANGE", "summary": "x"}),
        "recordReview": ("RecordReviewInput", {"deploymentId": dep, "reviewerId": person}),
        "setHealthPolicy": ("SetHealthPolicyInput", {"staleUpdateDays": 2}),
        "acknowledgeHealthEvent": ("AcknowledgeHealthEventInput", {"eventId": gid("HealthEvent", a.ids["HealthEvent"]),
                                                                   "note": "x"}),
        "setEscalationContact": ("SetEscalationContactInput", {"deploymentId": dep, "personId": None}),
        "createWebhook": ("CreateWebhookInput", {"url": "https://192.0.2.1/b", "events": ["OWNER_CHANGED"]}),
        "updateWebhook": ("UpdateWebhookInput", {"id": gid("Webhook", a.ids["Webhook"]), "enabled": False}),
        "deleteWebhook": ("DeleteWebhookInput", {"id": gid("Webhook", a.ids["Webhook"])}),
        "testWebhook": ("TestWebhookInput", {"id": gid("Webhook", a.ids["Webhook"])}),
        "redeliverWebhookDelivery": ("RedeliverWebhookDeliveryInput",
                                     {"id": gid("WebhookDelivery", a.ids["WebhookDelivery"])}),
    }


async def test_no_mutation_can_reach_another_orgs_data(api, orgs):
    a, b = orgs
    cases = mutation_cases(a)
    assert set(cases) == set(schema._schema.mutation_type.fields), "add an isolation case for the new mutation"
    before = await counts(api.url, a.id)
    policy_before = await sql(api.url, "select * from steward.health_policies where org_id = $1", a.id)

    for name, (input_type, variables) in cases.items():
        body = await api.gql(f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename"
                             " ... on UserError { message field } } }", {"input": variables}, b.tokens["admin"])
        result = payload(body, name)
        if name in ("createPerson", "createDeployment", "setHealthPolicy"):
            assert result["__typename"].endswith("Success"), (name, result)  # written in B, see below
        elif name == "createWebhook":  # a TEST-NET address is not public: refused before anything is written
            assert (result["__typename"], result["field"]) == ("ValidationError", "url"), (name, result)
        else:
            assert result["__typename"] == "NotFoundError", (name, result)

    assert await counts(api.url, a.id) == before
    assert await sql(api.url, "select * from steward.health_policies where org_id = $1", a.id) == policy_before
    hooks = await sql(api.url, "select w.enabled, count(d.*) as deliveries from steward.webhooks w"
                               " join steward.webhook_deliveries d on d.webhook_id = w.id where w.org_id = $1"
                               " group by w.enabled", a.id)
    assert [tuple(r) for r in hooks] == [(True, 1)]  # not disabled, deleted or tested by B
    created = await sql(api.url, "select org_id from steward.persons where email = 'mallory@b.test'"
                                 " union all select org_id from steward.deployments where key = 'b-new'")
    assert [r["org_id"] for r in created] == [b.id, b.id]


# --- the same, in SQL, under the service role -----------------------------------------------------

TENANT_TABLES = """
    select c.relname, c.relrowsecurity, c.relforcerowsecurity,
           has_table_privilege('steward_app', c.oid, 'select') as service_reads
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped
    -- the partitioned parent (conversations) and not its partitions, which the service role cannot
    -- read at all (tests/sql/test_partitions.py): the parent's policy applies to every row read through it
    where n.nspname = 'steward' and c.relkind in ('r', 'p') and not c.relispartition
    order by c.relname
"""


async def test_the_service_role_with_another_org_id_reads_zero_rows(module_db_url, orgs):
    a, b = orgs
    conn = await connect(module_db_url)
    try:
        tables = await conn.fetch(TENANT_TABLES)
        # steward.bi_logins is the owner's alone: the service cannot read it at all
        names = [t["relname"] for t in tables if t["service_reads"]]
        assert {"ownership_changes", "idempotency_keys", "persons", "ownership_assignments"} <= set(names)
        assert all(t["relrowsecurity"] and t["relforcerowsecurity"] for t in tables), tables
        role = await conn.fetchrow("select rolsuper, rolbypassrls from pg_roles where rolname = 'steward_app'")
        assert not role["rolsuper"] and not role["rolbypassrls"]

        for org_id, expect_rows in ((a.id, True), (b.id, False), (None, False)):
            async with conn.transaction():
                await conn.execute("select set_config('role', 'steward_app', true),"
                                   " set_config('app.org_id', $1, true)", "" if org_id is None else str(org_id))
                seen = {name: await conn.fetchval(f"select count(*) from steward.{name} where org_id = $1", a.id)
                        for name in names}
                seen["metrics.deployment_health"] = await conn.fetchval(
                    "select count(*) from metrics.deployment_health where org_id = $1", a.id)
                seen["metrics.ownership_periods"] = await conn.fetchval(
                    "select count(*) from metrics.ownership_periods where org_id = $1", a.id)
            if expect_rows:  # A sees its own rows (the check below is not vacuous)
                assert seen["health_events"] > 0
                assert seen["ownership_changes"] > 0 and seen["idempotency_keys"] > 0 and seen["persons"] == 3
            else:
                assert set(seen.values()) == {0}, seen
    finally:
        await conn.close()


async def test_the_service_role_cannot_write_into_another_org(module_db_url, orgs):
    a, b = orgs
    conn = await connect(module_db_url)
    try:
        async with conn.transaction():
            await conn.execute("select set_config('role', 'steward_app', true), set_config('app.org_id', $1, true)",
                               str(b.id))
            updated = await conn.execute("update steward.persons set name = 'x' where org_id = $1", a.id)
            assert updated == "UPDATE 0"
            with pytest.raises(Exception, match="row-level security"):
                await conn.execute("insert into steward.ownership_changes (org_id, deployment_id, action,"
                                   " new_person_id, started_assignment_id, effective_at, token_name)"
                                   " values ($1, $2, 'ASSIGNED', $3, 1, now(), 'x')",
                                   a.id, a.deployments[0], a.persons[0])
    finally:
        await conn.close()
