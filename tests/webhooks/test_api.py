"""The webhook mutations and reads: admin only, typed errors, SSRF refusals, isolation, the secret shown once."""
from __future__ import annotations

import asyncpg
import pytest

from schema.relay import to_global_id
from service.db.pool import connect

from ..api.automation import ASSIGN, counts, payload, seed, sql
from ..api.conftest import start_api
from .helpers import CREATE, DELETE, REDELIVER, TEST, UPDATE, WEBHOOKS, all_settled, create, no_worker, outbox, settings
from .receiver import Receiver, check_signature


@pytest.fixture
async def api(fresh_db_url):
    api, lifespan = await start_api(fresh_db_url, no_worker())
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def strict(fresh_db_url):
    """An app without STEWARD_WEBHOOK_ALLOW_PRIVATE."""
    api, lifespan = await start_api(fresh_db_url, no_worker(allow_private=False))
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


async def test_create_returns_the_secret_once_and_a_replay_does_not(api):
    org = await seed(api.url, owner=0)
    variables = {"input": {"url": "http://127.0.0.1:9/h", "events": ["OWNER_CHANGED", "HEALTH_CHANGED",
                                                                       "OWNER_CHANGED"],
                           "description": " HR bot ", "idempotencyKey": "k1"}}

    first = payload(await api.gql(CREATE, variables, org.tokens["admin"]), "createWebhook")
    again = payload(await api.gql(CREATE, variables, org.tokens["admin"]), "createWebhook")

    assert first["__typename"] == "CreateWebhookSuccess" and first["secret"].startswith("whsec_")
    assert first["webhook"]["events"] == ["HEALTH_CHANGED", "OWNER_CHANGED"]
    assert first["webhook"]["description"] == "HR bot" and first["webhook"]["enabled"] is True
    assert (again["replayed"], again["secret"], again["webhook"]) == (True, None, first["webhook"])
    stored = await sql(api.url, "select secret from steward.webhooks where org_id = $1", org.id)
    assert [r["secret"] for r in stored] == [first["secret"]]
    # the idempotency key's stored answer holds no secret
    answers = await sql(api.url, "select response::text from steward.idempotency_keys where org_id = $1", org.id)
    assert answers and all("whsec_" not in r["response"] for r in answers)


async def test_the_service_role_cannot_read_or_change_the_secret(api):
    org = await seed(api.url)
    await create(api, org.tokens["admin"], "http://127.0.0.1:9/h")
    conn = await connect(api.url)
    try:
        for statement in ("select secret from steward.webhooks", "select * from steward.webhooks",
                          "update steward.webhooks set secret = 'whsec_x'"):
            async with conn.transaction():
                await conn.execute("select set_config('role', 'steward_app', true),"
                                   " set_config('app.org_id', $1, true)", str(org.id))
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        async with conn.transaction():  # the worker's role may
            await conn.execute("set local role steward_webhook_worker")
            assert (await conn.fetchval("select secret from steward.webhooks")).startswith("whsec_")
    finally:
        await conn.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://[::1]/h", "http://10.1.2.3/h",
                                 "http://169.254.169.254/latest/meta-data/", "http://localhost/h",
                                 "http://foo.localhost/h", "ftp://example.com/h", "file:///etc/passwd",
                                 "not a url", ""])
async def test_create_and_update_refuse_unsafe_urls_without_the_allow_flag(strict, url):
    org = await seed(strict.url)
    before = await counts(strict.url, org.id)

    created = payload(await strict.gql(CREATE, {"input": {"url": url, "events": ["OWNER_CHANGED"]}},
                                       org.tokens["admin"]), "createWebhook")

    assert (created["__typename"], created["field"], created["code"]) == ("ValidationError", "url", "BAD_USER_INPUT")
    assert await counts(strict.url, org.id) == before and await sql(strict.url, "select 1 from steward.webhooks") == []
    # an existing endpoint cannot be moved there either
    await sql(strict.url, "insert into steward.webhooks (org_id, url, events, secret) values ($1, 'https://93.184.215.14/h',"
                          " '{OWNER_CHANGED}', 'whsec_' || repeat('A', 43) || '=')", org.id)
    pk = (await sql(strict.url, "select id from steward.webhooks"))[0]["id"]
    updated = payload(await strict.gql(UPDATE, {"input": {"id": to_global_id("Webhook", pk), "url": url}},
                                       org.tokens["admin"]), "updateWebhook")
    assert (updated["__typename"], updated["field"]) == ("ValidationError", "url")
    assert (await sql(strict.url, "select url from steward.webhooks"))[0]["url"] == "https://93.184.215.14/h"


async def test_bad_events_and_descriptions_are_typed_errors(api):
    org = await seed(api.url)
    cases = [({"events": []}, "events"), ({"events": ["WEBHOOK_TEST"]}, "events"),
             ({"events": ["OWNER_CHANGED"], "description": "x" * 1001}, "description")]
    for extra, field in cases:
        result = payload(await api.gql(CREATE, {"input": {"url": "http://127.0.0.1:9/h", **extra}},
                                       org.tokens["admin"]), "createWebhook")
        assert (result["__typename"], result["field"]) == ("ValidationError", field), result
    assert await sql(api.url, "select 1 from steward.webhooks") == []


async def test_every_webhook_mutation_and_the_list_need_admin(api):
    org = await seed(api.url)
    hook = (await create(api, org.tokens["admin"], "http://127.0.0.1:9/h"))["webhook"]["id"]
    mutations = [(CREATE, {"url": "http://127.0.0.1:9/h", "events": ["OWNER_CHANGED"]}),
                 (UPDATE, {"id": hook, "enabled": False}), (DELETE, {"id": hook}), (TEST, {"id": hook}),
                 (REDELIVER, {"id": to_global_id("WebhookDelivery", 1)})]
    for kind in ("read", "owners", "activity"):
        for document, input in mutations:
            body = await api.gql(document, {"input": input}, org.tokens[kind])
            result = next(iter(body["data"].values()))
            assert result["__typename"] == "PermissionError" and "admin" in result["message"], (kind, result)
        listed = await api.gql(WEBHOOKS, {"slug": org.slug}, org.tokens["read"])
        if kind == "read":
            assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len(await sql(api.url, "select 1 from steward.webhooks")) == 1


async def test_another_organizations_webhooks_are_not_found(api):
    mine, theirs = await seed(api.url), await seed(api.url)
    hook = (await create(api, theirs.tokens["admin"], "http://127.0.0.1:9/h"))["webhook"]["id"]
    queued = payload(await api.gql(TEST, {"input": {"id": hook}}, theirs.tokens["admin"]), "testWebhook")
    delivery = queued["delivery"]["id"]
    unknown_hook, unknown_delivery = to_global_id("Webhook", 10**9), to_global_id("WebhookDelivery", 10**9)

    for document, name, ours, unknown in [
            (UPDATE, "updateWebhook", {"id": hook, "enabled": False}, {"id": unknown_hook, "enabled": False}),
            (DELETE, "deleteWebhook", {"id": hook}, {"id": unknown_hook}),
            (TEST, "testWebhook", {"id": hook}, {"id": unknown_hook}),
            (REDELIVER, "redeliverWebhookDelivery", {"id": delivery}, {"id": unknown_delivery})]:
        theirs_answer = payload(await api.gql(document, {"input": ours}, mine.tokens["admin"]), name)
        unknown_answer = payload(await api.gql(document, {"input": unknown}, mine.tokens["admin"]), name)
        assert theirs_answer["__typename"] == "NotFoundError" and theirs_answer == unknown_answer
    listed = await api.data(WEBHOOKS, {"slug": mine.slug}, mine.tokens["admin"])
    assert listed["organization"]["webhooks"] == []
    assert (await sql(api.url, "select enabled from steward.webhooks"))[0]["enabled"] is True
    # and their events never reach our outbox
    await api.gql(ASSIGN, {"input": {"deploymentId": theirs.deployment(0), "personId": theirs.person(1),
                                     "reason": "x"}}, theirs.tokens["owners"])
    assert {r["org_id"] for r in await outbox(api.url)} == {theirs.id}


async def test_update_disable_enable_and_delete(api):
    org = await seed(api.url)
    watcher = await create(api, org.tokens["admin"], "http://127.0.0.1:9/w", events=["WEBHOOK_DISABLED"])
    hook = (await create(api, org.tokens["admin"], "http://127.0.0.1:9/h"))["webhook"]["id"]

    off = payload(await api.gql(UPDATE, {"input": {"id": hook, "enabled": False, "description": "paused"}},
                                org.tokens["admin"]), "updateWebhook")["webhook"]
    tested = payload(await api.gql(TEST, {"input": {"id": hook}}, org.tokens["admin"]), "testWebhook")
    on = payload(await api.gql(UPDATE, {"input": {"id": hook, "enabled": True, "events": ["HEALTH_CHANGED"],
                                                  "url": "http://127.0.0.1:10/h"}},
                               org.tokens["admin"]), "updateWebhook")["webhook"]
    cleared = payload(await api.gql(UPDATE, {"input": {"id": hook, "url": None}}, org.tokens["admin"]),
                      "updateWebhook")
    deleted = payload(await api.gql(DELETE, {"input": {"id": hook}}, org.tokens["admin"]), "deleteWebhook")
    gone = payload(await api.gql(DELETE, {"input": {"id": hook}}, org.tokens["admin"]), "deleteWebhook")

    assert (off["enabled"], off["disabledReason"], off["description"]) == (False, "MANUAL", "paused")
    assert off["disabledAt"] is not None
    assert tested["__typename"] == "ConflictError"  # a disabled endpoint is not tested
    assert (on["enabled"], on["disabledAt"], on["events"], on["url"], on["description"]) == (
        True, None, ["HEALTH_CHANGED"], "http://127.0.0.1:10/h", "paused")
    assert (cleared["__typename"], cleared["field"]) == ("ValidationError", "url")
    assert deleted == {"__typename": "DeleteWebhookSuccess", "deletedWebhookId": hook}
    assert gone["__typename"] == "NotFoundError"
    # the manual disabling went to the watcher, as a WEBHOOK_DISABLED event
    [event] = await outbox(api.url, org.id)
    assert event["event"] == "WEBHOOK_DISABLED" and event["webhook_id"] != hook
    data = __import__("json").loads(event["payload"])
    assert data["type"] == "webhook.disabled" and data["data"]["reason"] == "MANUAL"
    assert data["data"]["webhook"]["id"] == hook
    assert watcher["webhook"]["id"] != hook


async def test_at_most_20_webhooks_per_organization(api):
    org = await seed(api.url)
    for _ in range(20):
        await create(api, org.tokens["admin"], "http://127.0.0.1:9/h")
    result = payload(await api.gql(CREATE, {"input": {"url": "http://127.0.0.1:9/h", "events": ["OWNER_CHANGED"]}},
                                   org.tokens["admin"]), "createWebhook")
    assert result["__typename"] == "ValidationError" and "at most 20" in result["message"]


async def test_test_and_redeliver_go_through_the_outbox_and_keep_the_webhook_id(fresh_db_url):
    api, lifespan = await start_api(fresh_db_url, settings())
    try:
        org = await seed(api.url)
        created = await create(api, org.tokens["admin"], "http://127.0.0.1:1/h")
        receiver = await Receiver(secret=created["secret"]).up()
        hook = created["webhook"]["id"]
        await api.data(UPDATE, {"input": {"id": hook, "url": receiver.url}}, org.tokens["admin"])

        queued = payload(await api.gql(TEST, {"input": {"id": hook}}, org.tokens["admin"]), "testWebhook")
        [ping] = await receiver.wait_for(1)
        await all_settled(api.url)  # recorded
        again = payload(await api.gql(REDELIVER, {"input": {"id": queued["delivery"]["id"]}},
                                      org.tokens["admin"]), "redeliverWebhookDelivery")
        first, second = await receiver.wait_for(2)
        await all_settled(api.url)
        await receiver.down()

        check_signature(created["secret"], ping)
        assert ping.payload["type"] == "webhook.test" and ping.payload["data"]["webhook"]["id"] == hook
        assert queued["delivery"]["event"] == "WEBHOOK_TEST"
        assert first.id == second.id == queued["delivery"]["messageId"] == again["delivery"]["messageId"]
        assert first.body == second.body
        listed = await api.data(WEBHOOKS, {"slug": org.slug}, org.tokens["admin"])
        [delivery] = [e["node"] for e in listed["organization"]["webhooks"][0]["deliveries"]["edges"]]
        assert delivery["status"] == "DELIVERED" and delivery["attemptCount"] == 2
        assert [(a["attempt"], a["statusCode"], a["error"], a["nextRetryAt"]) for a in delivery["attempts"]] == [
            (1, 200, None, None), (2, 200, None, None)]
        assert all(a["latencyMs"] >= 0 for a in delivery["attempts"])
    finally:
        await api.client.aclose()
        await lifespan.__aexit__(None, None, None)
