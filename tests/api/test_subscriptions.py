"""Subscriptions with a real WebSocket client (`websockets`) against the app served by uvicorn on 127.0.0.1.

Events are caused the way the service causes them: a committed insert into steward.health_events,
whose trigger sends NOTIFY on commit; the server's one listener fans it out.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from schema.relay import to_global_id
from service.app import create_app
from service.config import Settings
from service.db.pool import connect
from service.events.hub import Notice

from .conftest import make_token
from .world import build_world

PROTOCOL = "graphql-transport-ws"
HEALTH = "subscription($org: String) { healthChanged(orgSlug: $org) { id statusBefore statusAfter " \
         "reasonsAfter cause deployment { key } } }"


@pytest.fixture(scope="module")
async def world(module_db_url: str) -> dict:
    # bot-000 (unowned) and bot-001 get hand-made events; bot-002's owner is deactivated for real
    return await build_world(module_db_url, deployments=3)


@contextlib.asynccontextmanager
async def serve(db_url: str, settings: Settings):
    """The app on uvicorn, on this event loop (so the test can look at the hub), on a free port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings, db_url)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                           ws_max_size=settings.max_body_bytes))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    try:
        yield app, f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def server(world, module_db_url: str):
    async with serve(module_db_url, Settings()) as (app, url):
        yield app, url


@pytest.fixture(scope="module")
async def tokens(world, module_db_url: str) -> dict:
    return {"acme": await make_token(module_db_url, "acme"),
            "globex": await make_token(module_db_url, "globex"),
            "writer": await make_token(module_db_url, "acme", "write:owners")}


class Client:
    """One graphql-transport-ws connection, acknowledged."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = 0

    async def subscribe(self, query: str = HEALTH, variables: dict | None = None) -> str:
        self.ids += 1
        payload = {"query": query} | ({"variables": variables} if variables is not None else {})
        await self.ws.send(json.dumps({"id": str(self.ids), "type": "subscribe", "payload": payload}))
        return str(self.ids)

    async def receive(self, timeout: float = 1.0) -> dict:
        """The next message other than the server's keep-alive pings."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            return message

    async def nothing(self, within: float = 0.5) -> None:
        with pytest.raises(TimeoutError):
            message = await self.receive(within)
            print("unexpected", message)


@contextlib.asynccontextmanager
async def client(url: str, payload: dict | None, origin: str | None = None):
    async with ws_connect(url, subprotocols=[PROTOCOL], origin=origin) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 2))
        assert ack == {"type": "connection_ack"}, ack
        yield Client(ws)


async def subscribed(app, count: int) -> None:
    """Until the hub holds `count` subscribers (a subscription is registered just after `subscribe`)."""
    hub = app.state.live.hub
    deadline = time.monotonic() + 5
    while hub.subscriber_count != count:
        assert time.monotonic() < deadline, f"{hub.subscriber_count} subscribers, expected {count}"
        await asyncio.sleep(0.01)


async def record_event(db_url: str, org_id: int, deployment_id: int, *, commit: bool = True,
                       status: str = "UNOWNED") -> int:
    """Insert a health event as the owner, in a transaction of its own; commit it or roll it back."""
    conn = await connect(db_url)
    try:
        tx = conn.transaction()
        await tx.start()
        event_id = await conn.fetchval(
            "insert into steward.health_events (org_id, deployment_id, status_before, reasons_before, status_after,"
            " reasons_after, cause) values ($1, $2, 'HEALTHY', '{}', $3, '{NO_OWNER}', 'WRITE') returning id",
            org_id, deployment_id, status)
        await (tx.commit() if commit else tx.rollback())
        return event_id
    finally:
        await conn.close()


def gid(event_id: int) -> str:
    return to_global_id("HealthEvent", event_id)


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


async def test_subscriber_receives_its_event_within_a_second(server, world, tokens, module_db_url):
    app, url = server
    async with client(url, bearer(tokens["acme"])) as acme:
        sub = await acme.subscribe(variables={"org": "acme"})
        await subscribed(app, 1)
        started = time.perf_counter()
        event_id = await record_event(module_db_url, world["acme"], world["deployments"][0])
        message = await acme.receive(1.0)
        latency = time.perf_counter() - started
    assert message == {"id": sub, "type": "next", "payload": {"data": {"healthChanged": {
        "id": to_global_id("HealthEvent", event_id), "statusBefore": "HEALTHY", "statusAfter": "UNOWNED", "reasonsAfter": ["NO_OWNER"],
        "cause": "WRITE", "deployment": {"key": "bot-000"}}}}}
    assert latency < 1.0
    print(f"commit to receipt: {latency * 1000:.1f} ms")


async def test_token_key_and_default_org(server, world, tokens, module_db_url):
    app, url = server
    async with client(url, {"token": tokens["acme"]}) as acme:
        await acme.subscribe()  # orgSlug defaults to the token's
        await subscribed(app, 1)
        event_id = await record_event(module_db_url, world["acme"], world["deployments"][1])
        message = await acme.receive()
    assert message["payload"]["data"]["healthChanged"]["id"] == gid(event_id)


async def test_two_subscribers_of_one_org_both_receive_and_the_other_org_nothing(
        server, world, tokens, module_db_url):
    app, url = server
    async with (client(url, bearer(tokens["acme"])) as first, client(url, bearer(tokens["acme"])) as second,
                client(url, bearer(tokens["globex"])) as globex):
        await first.subscribe()
        await second.subscribe()
        await globex.subscribe(variables={"org": "globex"})
        await subscribed(app, 3)
        event_id = await record_event(module_db_url, world["acme"], world["deployments"][0])
        for subscriber in (first, second):
            assert (await subscriber.receive())["payload"]["data"]["healthChanged"]["id"] == gid(event_id)
        await globex.nothing()
        # and globex's own event reaches globex only
        own = await record_event(module_db_url, world["globex"], world["globex_deployment"])
        assert (await globex.receive())["payload"]["data"]["healthChanged"]["id"] == gid(own)
        await first.nothing(0.3)


async def test_rolled_back_event_is_never_announced(server, world, tokens, module_db_url):
    app, url = server
    async with client(url, bearer(tokens["acme"])) as acme:
        await acme.subscribe()
        await subscribed(app, 1)
        await record_event(module_db_url, world["acme"], world["deployments"][0], commit=False)
        await acme.nothing()


async def test_another_orgs_slug_is_not_found(server, tokens):
    app, url = server
    async with client(url, bearer(tokens["acme"])) as acme:
        sub = await acme.subscribe(variables={"org": "globex"})
        message = await acme.receive()
        assert message["id"] == sub and message["type"] == "next"
        assert message["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["NOT_FOUND"]
        assert (await acme.receive()) == {"id": sub, "type": "complete"}
    assert app.state.live.hub.subscriber_count == 0


@pytest.mark.parametrize("payload, reason", [
    (None, "Unauthorized"), ({}, "Unauthorized"), ({"authorization": "Bearer stw_nope"}, "revoked"),
    ({"token": 42}, "Unauthorized"), ({"authorization": "Basic abc"}, "Unauthorized"),
])
async def test_missing_or_bad_token_closes_4401(server, payload, reason):
    _, url = server
    async with ws_connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init"} | ({"payload": payload} if payload is not None else {})))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd.code == 4401 and reason in closed.value.rcvd.reason


async def test_token_without_read_closes_4403(server, tokens):
    _, url = server
    async with ws_connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer(tokens["writer"])}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd.code == 4403


async def test_subscribe_before_init_closes_4401(server):
    _, url = server
    async with ws_connect(url, subprotocols=[PROTOCOL]) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": HEALTH}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd.code == 4401


async def test_limits_apply_on_subscribe(server, tokens):
    _, url = server
    deep = "subscription { healthChanged { deployment { owner { ownedDeployments { owner { " \
           "ownedDeployments { owner { name } } } } } } } }"
    async with client(url, bearer(tokens["acme"])) as acme:
        for query, code in [(deep, "QUERY_TOO_DEEP"), ("subscription { nope }", "GRAPHQL_VALIDATION_FAILED"),
                            ("subscription {", "GRAPHQL_PARSE_FAILED"),
                            ("{ organizations { slug } }", "OPERATION_NOT_SUPPORTED"),
                            ("subscription { healthChanged(orgSlug: 1) { cause } }", "GRAPHQL_VALIDATION_FAILED")]:
            sub = await acme.subscribe(query)
            message = await acme.receive()
            assert message["id"] == sub and message["type"] == "error", message
            assert [e["extensions"]["code"] for e in message["payload"]] == [code], (query, message)
        # the connection is still good
        await acme.subscribe()
        await subscribed(server[0], 1)
    await subscribed(server[0], 0)  # closing the connection ends its subscriptions


async def test_subscriptions_per_connection_and_per_token(world, module_db_url, tokens):
    settings = Settings(max_subscriptions_per_connection=2, max_subscriptions_per_token=3)
    async with serve(module_db_url, settings) as (app, url):
        async with client(url, bearer(tokens["acme"])) as one, client(url, bearer(tokens["acme"])) as two:
            await one.subscribe()
            await one.subscribe()
            third = await one.subscribe()
            message = await one.receive()
            assert message["id"] == third and message["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
            await two.subscribe()
            fourth = await two.subscribe()
            message = await two.receive()
            assert message["id"] == fourth and "token" in message["payload"][0]["message"]
            await subscribed(app, 3)
            # completing one gives its place back
            await one.ws.send(json.dumps({"id": "1", "type": "complete"}))
            await subscribed(app, 2)
            await two.subscribe()
            await subscribed(app, 3)
        await subscribed(app, 0)
        assert app.state.subscription_counts.counts == {}


async def test_connection_init_timeout_closes_4408(world, module_db_url):
    async with serve(module_db_url, Settings(ws_init_timeout_s=0.2)) as (_, url):
        async with ws_connect(url, subprotocols=[PROTOCOL]) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd.code == 4408


async def test_pings_and_a_revoked_token_closes_4401(world, module_db_url):
    token = await make_token(module_db_url, "acme")
    async with serve(module_db_url, Settings(ws_ping_interval_s=0.2)) as (_, url):
        async with ws_connect(url, subprotocols=[PROTOCOL]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": bearer(token)}))
            assert json.loads(await ws.recv()) == {"type": "connection_ack"}
            assert json.loads(await asyncio.wait_for(ws.recv(), 2)) == {"type": "ping"}
            conn = await connect(module_db_url)
            await conn.execute("update steward.api_tokens set revoked_at = now() where revoked_at is null "
                               "and token_hash = sha256($1::text::bytea)", token)
            await conn.close()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd.code == 4401 and "revoked" in closed.value.rcvd.reason


async def test_origin_is_checked_for_browsers(world, module_db_url, tokens):
    settings = Settings(cors_origins=("https://dash.example",))
    async with serve(module_db_url, settings) as (_, url):
        async with client(url, bearer(tokens["acme"]), origin="https://dash.example"):
            pass
        async with client(url, bearer(tokens["acme"]), origin="http://127.0.0.1:" + url.split(":")[2].split("/")[0]):
            pass  # same origin as the server (GraphiQL)
        with pytest.raises(Exception) as refused:
            async with ws_connect(url, subprotocols=[PROTOCOL], origin="https://evil.example"):
                pass
        assert "403" in str(refused.value)


async def test_listener_killed_reconnects_and_catches_up(server, world, tokens, module_db_url):
    app, url = server
    hub = app.state.live.hub
    async with client(url, bearer(tokens["acme"])) as acme:
        await acme.subscribe()
        await subscribed(app, 1)
        before = hub.connections
        admin = await connect(module_db_url)
        try:
            killed = await admin.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                " where datname = current_database() and application_name = 'steward-listener'")
            assert killed == 1
            # an event committed while nobody listens: delivered by the catch-up after the reconnect
            during = await record_event(module_db_url, world["acme"], world["deployments"][0])
            deadline = time.monotonic() + 5
            while hub.connections == before:
                assert time.monotonic() < deadline, "the listener did not reconnect"
                await asyncio.sleep(0.02)
            assert (await acme.receive(2))["payload"]["data"]["healthChanged"]["id"] == gid(during)
            later = await record_event(module_db_url, world["acme"], world["deployments"][1])
            assert (await acme.receive(1))["payload"]["data"]["healthChanged"]["id"] == gid(later)
            await acme.nothing(0.3)  # no duplicate
        finally:
            await admin.close()


async def test_slow_subscriber_is_dropped_others_unaffected(world, module_db_url, tokens):
    async with serve(module_db_url, Settings(subscription_queue=2)) as (app, url):
        async with client(url, bearer(tokens["acme"])) as acme:
            await acme.subscribe()
            await subscribed(app, 1)
            hub = app.state.live.hub
            subscriber = next(iter(hub.orgs[world["acme"]].subscribers))
            for i in range(3):  # the third does not fit in a queue of 2: as if the client had stopped reading
                subscriber.offer(Notice(world["acme"], 10**12 + i, "HEALTH_CHANGED"))
            message = await acme.receive()
            assert message["payload"]["errors"][0]["extensions"]["code"] == "SLOW_SUBSCRIBER", message
            assert (await acme.receive())["type"] == "complete"
            await subscribed(app, 0)


async def test_a_subscription_over_http_is_refused(server, tokens):
    _, url = server
    async with httpx.AsyncClient(base_url=url.replace("ws://", "http://").removesuffix("/graphql")) as http:
        response = await http.post("/graphql", json={"query": HEALTH},
                                   headers={"authorization": f"Bearer {tokens['acme']}"})
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["OPERATION_NOT_SUPPORTED"]
    assert "WebSocket" in body["errors"][0]["message"] and "data" not in body


async def test_deactivating_an_owner_reaches_the_subscriber(server, world, tokens):
    """The whole loop: a mutation over HTTP records the event in its transaction; the subscriber sees it."""
    app, url = server
    deactivate = "mutation($input: DeactivatePersonInput!) { deactivatePerson(input: $input) { __typename } }"
    async with client(url, bearer(tokens["acme"])) as acme:
        sub = await acme.subscribe("subscription { healthChanged { id cause statusAfter reasonsAfter "
                                   "deployment { key } owner { name } ownershipChange { id } } }")
        await subscribed(app, 1)
        async with httpx.AsyncClient(base_url=url.replace("ws://", "http://").removesuffix("/graphql")) as http:
            started = time.perf_counter()
            response = await http.post("/graphql", headers={"authorization": f"Bearer {tokens['writer']}"}, json={
                "query": deactivate, "variables": {"input": {
                    "personId": to_global_id("Person", world["owners"][2]), "reason": "left the company"}}})
            assert "errors" not in response.json(), response.json()
            message = await acme.receive(1.0)
            latency = time.perf_counter() - started
    event = message["payload"]["data"]["healthChanged"]
    assert message["id"] == sub
    assert (event["cause"], event["statusAfter"], event["deployment"]) == ("WRITE", "UNOWNED", {"key": "bot-002"})
    assert "OWNER_INACTIVE" in event["reasonsAfter"] or "NO_OWNER" in event["reasonsAfter"], event
    print(f"deactivatePerson request to receipt: {latency * 1000:.1f} ms")


async def test_ids_of_the_two_kinds_do_not_collide(server, world, tokens, module_db_url):
    """OWNER_CHANGED ids are audit ids, HEALTH_CHANGED ids event ids: the same number is two events."""
    app, url = server
    async with client(url, bearer(tokens["acme"])) as acme:
        await acme.subscribe()
        await subscribed(app, 1)
        event_id = await record_event(module_db_url, world["acme"], world["deployments"][0], commit=False) + 1
        app.state.live.hub.deliver(Notice(world["acme"], event_id, "OWNER_CHANGED"))
        assert await record_event(module_db_url, world["acme"], world["deployments"][0]) == event_id
        assert (await acme.receive())["payload"]["data"]["healthChanged"]["id"] == gid(event_id)


async def test_database_away_at_connection_init_closes_1013(server, tokens):
    """1013 (Try Again Later): clients retry it, unlike 4401, which says the token is bad."""
    app, url = server

    class Away:
        def acquire(self, **_):
            raise ConnectionRefusedError("connection refused")

    pool, app.state.pool = app.state.pool, Away()
    try:
        async with ws_connect(url, subprotocols=[PROTOCOL]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": bearer(tokens["acme"])}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 2)
    finally:
        app.state.pool = pool
    assert closed.value.rcvd.code == 1013


async def test_subscribe_counts_against_the_tokens_rate_limit(world, module_db_url):
    token = await make_token(module_db_url, "acme")
    async with serve(module_db_url, Settings(rate_limit="2/minute")) as (_, url):
        async with client(url, bearer(token)) as acme:
            await acme.subscribe()
            await acme.subscribe()
            third = await acme.subscribe()
            message = await acme.receive()
    assert message["id"] == third and message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
