"""Authentication and scopes: 401 without a valid token, typed PermissionError without the scope."""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys

import pytest

from schema.relay import to_global_id
from service.auth import create_token, revoke_token
from service.cli import DEMO_TOKENS, REFERENCE_ORGS, _demo_tokens
from service.db.pool import connect

from .automation import counts, payload, seed, sql

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUERY = "{ deployments { totalCount } }"
MUTATION = ('mutation { unassignOwner(input: {deploymentId: "RGVwbG95bWVudDox", reason: "x"}) '
            "{ __typename } }")


@pytest.fixture(scope="module")
async def org(module_db_url):
    return await seed(module_db_url, persons=2, deployments=1, owner=0, slug="auth-org")


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"]


@pytest.mark.parametrize("document", [QUERY, MUTATION], ids=["query", "mutation"])
@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer stw_not-a-real-token", "Bearer not-even-prefixed",
    "Bearer stw_" + "x" * 300,
], ids=["none", "empty", "no-value", "blank-value", "basic", "unknown", "unprefixed", "too-long"])
async def test_a_missing_or_bad_token_is_401_with_a_graphql_error_body(api, org, document, authorization):
    before = await counts(api.url, org.id)
    headers = {} if authorization is None else {"authorization": authorization}

    response = await api.post(document, headers=headers)

    assert_unauthenticated(response)
    assert await counts(api.url, org.id) == before


async def test_a_revoked_token_is_401(api, org):
    conn = await connect(api.url)
    try:
        token_id, token = await create_token(conn, org.slug, ["read", "write:owners"], "to-revoke")
    finally:
        await conn.close()
    assert (await api.post(QUERY, token=token)).status_code == 200

    conn = await connect(api.url)
    try:
        assert await revoke_token(conn, token_id) is True
        assert await revoke_token(conn, token_id) is False  # once
    finally:
        await conn.close()

    assert_unauthenticated(await api.post(QUERY, token=token))
    assert_unauthenticated(await api.post(MUTATION, token=token))


# mutation -> (input type, input, scope it needs)
def mutations(org) -> dict:
    dep, person = to_global_id("Deployment", org.deployments[0]), to_global_id("Person", org.persons[1])
    return {
        "assignOwner": ("AssignOwnerInput", {"deploymentId": dep, "personId": person, "reason": "x"}, "write:owners"),
        "unassignOwner": ("UnassignOwnerInput", {"deploymentId": dep, "reason": "x"}, "write:owners"),
        "deactivatePerson": ("DeactivatePersonInput", {"personId": person, "reason": "x"}, "write:owners"),
        "createPerson": ("CreatePersonInput", {"name": "N", "email": "n@x.test", "function": "CX"}, "write:owners"),
        "updatePerson": ("UpdatePersonInput", {"id": person, "name": "N"}, "write:owners"),
        "createDeployment": ("CreateDeploymentInput", {"key": "k", "name": "K", "channels": ["CHAT"]}, "admin"),
        "updateDeployment": ("UpdateDeploymentInput", {"id": dep, "name": "K"}, "admin"),
        "recordWorkflowUpdate": ("RecordWorkflowUpdateInput", {"deploymentId": dep, "authorId": person,
                                                               "kind": "CONFIG_CHANGE", "summary": "x"},
                                 "write:activity"),
        "recordReview": ("RecordReviewInput", {"deploymentId": dep, "reviewerId": person}, "write:activity"),
        "setHealthPolicy": ("SetHealthPolicyInput", {"staleUpdateDays": 3}, "admin"),
        "acknowledgeHealthEvent": ("AcknowledgeHealthEventInput", {"eventId": to_global_id("HealthEvent", 1)},
                                   "write:owners"),
        "setEscalationContact": ("SetEscalationContactInput", {"deploymentId": dep, "personId": person},
                                 "write:owners"),
        "createWebhook": ("CreateWebhookInput", {"url": "https://192.0.2.1/h", "events": ["OWNER_CHANGED"]},
                          "admin"),
        "updateWebhook": ("UpdateWebhookInput", {"id": to_global_id("Webhook", 1), "enabled": False}, "admin"),
        "deleteWebhook": ("DeleteWebhookInput", {"id": to_global_id("Webhook", 1)}, "admin"),
        "testWebhook": ("TestWebhookInput", {"id": to_global_id("Webhook", 1)}, "admin"),
        "redeliverWebhookDelivery": ("RedeliverWebhookDeliveryInput", {"id": to_global_id("WebhookDelivery", 1)},
                                     "admin"),
    }


TOKEN_SCOPES = {"read": {"read"}, "owners": {"read", "write:owners"}, "activity": {"read", "write:activity"}}


@pytest.mark.parametrize("kind", sorted(TOKEN_SCOPES))
async def test_a_mutation_without_its_scope_is_a_permission_error_and_writes_nothing(api, org, kind):
    from schema import schema

    cases = mutations(org)
    assert set(cases) == set(schema._schema.mutation_type.fields)
    before = await counts(api.url, org.id)
    policy = await sql(api.url, "select * from steward.health_policies where org_id = $1", org.id)

    refused = []
    for name, (input_type, variables, scope) in cases.items():
        if scope in TOKEN_SCOPES[kind]:
            continue
        response = await api.post(f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename "
                                  "... on UserError { message field } } }",
                                  {"input": variables | {"idempotencyKey": f"{kind}-{name}"}}, org.tokens[kind])
        assert response.status_code == 200
        result = payload(response.json(), name)
        assert result["__typename"] == "PermissionError", (name, result)
        assert scope in result["message"]
        refused.append(name)

    assert refused  # every token kind lacks some scope
    assert await counts(api.url, org.id) == before
    assert await sql(api.url, "select * from steward.health_policies where org_id = $1", org.id) == policy


async def test_write_scopes_without_read_may_write_but_not_query(api, org):
    conn = await connect(api.url)
    try:
        _, token = await create_token(conn, org.slug, ["write:activity"], "bot")
    finally:
        await conn.close()

    refused = await api.post(QUERY, token=token)
    written = await api.gql("""mutation($input: RecordReviewInput!) { recordReview(input: $input) { __typename } }""",
                            {"input": {"deploymentId": to_global_id("Deployment", org.deployments[0]),
                                       "reviewerId": to_global_id("Person", org.persons[0])}}, token)

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert written == {"data": {"recordReview": {"__typename": "RecordReviewSuccess"}}}


async def test_only_the_hash_of_a_token_is_stored(api, org):
    conn = await connect(api.url)
    try:
        token_id, token = await create_token(conn, org.slug, ["read"], "hash-check")
        row = await conn.fetchrow("select * from steward.api_tokens where id = $1", token_id)
        tables = await conn.fetch("select table_schema, table_name from information_schema.tables"
                                  " where table_schema in ('steward', 'steward_meta') and table_type = 'BASE TABLE'")
        secret = token.removeprefix("stw_")
        found = [f"{t['table_schema']}.{t['table_name']}" for t in tables
                 if await conn.fetchval(f"select count(*) from {t['table_schema']}.{t['table_name']} x"
                                        " where x::text like '%' || $1 || '%'", secret)]
    finally:
        await conn.close()

    assert set(row.keys()) == {"org_id", "id", "name", "token_hash", "scopes", "created_at", "revoked_at",
                                "last_used_at"}
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert found == []
    assert re.fullmatch(r"stw_[A-Za-z0-9_-]{40,}", token)


# --- the CLI -------------------------------------------------------------------------------------

async def steward(db_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", *args, cwd=ROOT, env=os.environ | {"DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_token_create_and_revoke_on_the_command_line(api, org):
    code, out, err = await steward(api.url, "token", "create", "--org", org.slug, "--scopes", "read,write:owners",
                                   "--name", "hr-bot")
    assert code == 0, err
    token = out.strip()
    token_id = int(re.search(r"token (\d+) for", err).group(1))
    assert token not in err
    assignment = await api.gql("""mutation($input: AssignOwnerInput!) { assignOwner(input: $input) {
        ... on AssignOwnerSuccess { change { tokenId tokenName } } } }""",
                               {"input": {"deploymentId": to_global_id("Deployment", org.deployments[0]),
                                          "personId": to_global_id("Person", org.persons[1]), "reason": "cli"}},
                               token)
    assert assignment["data"]["assignOwner"]["change"] == {"tokenId": token_id, "tokenName": "hr-bot"}

    code, _, err = await steward(api.url, "token", "revoke", str(token_id))
    assert code == 0, err
    assert_unauthenticated(await api.post(QUERY, token=token))
    code, _, err = await steward(api.url, "token", "revoke", str(token_id))
    assert code == 2 and "no active token" in err

    code, _, err = await steward(api.url, "token", "create", "--org", org.slug, "--scopes", "read,root")
    assert code == 2 and "scopes must be" in err


async def test_the_demo_prints_a_read_and_a_write_token_per_organization(api):
    slugs = ("demo-a", "demo-b")
    for slug in slugs:
        await seed(api.url, persons=1, deployments=1, slug=slug)

    tokens = await _demo_tokens(api.url, slugs)

    assert [(slug, kind) for _, slug, kind, _, _ in tokens] == [(s, k) for s in slugs for k, _ in DEMO_TOKENS]
    for token_id, slug, kind, scopes, token in tokens:
        response = await api.post("{ organizations { slug } }", token=token)
        assert response.json()["data"]["organizations"] == [{"slug": slug}]
        rows = await sql(api.url, "select t.id, t.scopes, t.name from steward.api_tokens t where t.token_hash = $1",
                         hashlib.sha256(token.encode()).digest())
        assert rows[0]["scopes"] == sorted(scopes.split(",")) and rows[0]["name"] == f"demo-{kind}"
        assert rows[0]["id"] == token_id
    assert dict(DEMO_TOKENS)["write"] == "read,write:owners,write:activity"
    assert REFERENCE_ORGS == ("lumen-beauty", "harbor-home", "northwind-outfitters")
