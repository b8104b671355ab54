"""Delivery end to end: real writes, the worker in the app, a real HTTP receiver on 127.0.0.1."""
from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from service.db.pool import connect
from service.events.webhook_worker import Worker

from ..api.automation import ASSIGN, DEACTIVATE, payload, seed, sql
from ..api.conftest import start_api
from .conftest import FIGURES
from .helpers import UPDATE, WEBHOOKS, all_settled, create, outbox, settings
from .receiver import Receiver, check_signature

ROOT = Path(__file__).resolve().parents[2]


class App:
    """An app (with or without its worker) over a fresh database, a seeded organization and a receiver."""

    def __init__(self, api, lifespan, org, receiver, secret, hook):
        self.api, self.lifespan, self.org, self.receiver, self.secret, self.hook = (
            api, lifespan, org, receiver, secret, hook)
        self._owner: dict[int, int] = {}  # deployment -> index of its current owner (person 0 at first)

    async def handover(self, deployment: int = 0) -> float:
        """Hand deployment `deployment` to the next person (an OWNER_CHANGED event); returns when it was sent."""
        self._owner[deployment] = 2 if self._owner.get(deployment) == 1 else 1  # 1, 2, 1, 2, …
        sent = time.monotonic()
        result = payload(await self.api.gql(ASSIGN, {"input": {
            "deploymentId": self.org.deployment(deployment), "personId": self.org.person(self._owner[deployment]),
            "reason": "rotation"}}, self.org.tokens["owners"]), "assignOwner")
        assert result["__typename"] == "AssignOwnerSuccess" and result["changed"], result
        return sent

    async def close(self) -> None:
        await self.receiver.down()
        await self.api.client.aclose()
        await self.lifespan.__aexit__(None, None, None)


async def start(db_url: str, events=("OWNER_CHANGED",), deployments: int = 1, **hooks) -> App:
    api, lifespan = await start_api(db_url, settings(**hooks))
    org = await seed(db_url, owner=0, deployments=deployments)
    receiver = Receiver()
    await receiver.up()
    created = await create(api, org.tokens["admin"], receiver.url, events=events)
    receiver.secret = created["secret"]
    return App(api, lifespan, org, receiver, created["secret"], created["webhook"]["id"])


@pytest.fixture
async def app(fresh_db_url):
    started = await start(fresh_db_url)
    yield started
    await started.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def test_deactivating_an_owner_sends_one_signed_owner_changed_delivery_within_seconds(app):
    sent = time.monotonic()
    result = payload(await app.api.gql(DEACTIVATE, {"input": {"personId": app.org.person(0), "reason": "left"}},
                                       app.org.tokens["owners"]), "deactivatePerson")
    [got] = await app.receiver.wait_for(1, timeout=5)
    await asyncio.sleep(0.5)  # nothing more comes
    await all_settled(app.api.url)

    assert result["__typename"] == "DeactivatePersonSuccess"
    assert len(app.receiver.requests) == 1 and got.at - sent < 5
    check_signature(app.secret, got)
    body = got.payload
    assert body["type"] == "owner.changed" and body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["action"] == "OWNER_DEACTIVATED" and data["newOwner"] is None and data["reason"] == "left"
    assert data["previousOwner"]["id"] == app.org.person(0) and data["previousOwner"]["active"] is False
    assert data["deployment"] == {"id": app.org.deployment(0), "key": "bot-0", "name": data["deployment"]["name"]}
    assert data["ownershipChangeId"] and data["changedBy"] == "test"
    [row] = await outbox(app.api.url)
    assert (row["message_id"], row["status"], row["attempts"]) == (got.id, "DELIVERED", 1)


async def listeners(db_url: str) -> int:
    """Sessions of the database that LISTEN: the hub's, or any other whose last statement was a LISTEN."""
    rows = await sql(db_url, "select count(*) as n from pg_stat_activity where datname = current_database()"
                             " and (application_name = 'steward-listener' or query ilike 'listen %')")
    return rows[0]["n"]


async def test_one_listen_connection_per_process_wakes_the_worker_without_polling(fresh_db_url):
    app = await start(fresh_db_url, poll_s=60)  # a poll would come far too late: only a wake-up is in time
    try:
        hub = app.api.app.state.live.hub
        async with asyncio.timeout(5):
            await hub.listening.wait()
        assert hub.watchers["steward_webhooks"] and await listeners(fresh_db_url) == 1
        await asyncio.sleep(0.3)  # the worker's first look found nothing; it now waits for the hub
        sent = await app.handover()
        [got] = await app.receiver.wait_for(1, timeout=5)
        assert got.at - sent < 5 and await listeners(fresh_db_url) == 1
    finally:
        await app.close()


async def test_a_worker_on_its_own_is_woken_by_a_hub_of_its_own(fresh_db_url):
    app = await start(fresh_db_url, worker=False)
    worker = Worker(settings(poll_s=60), fresh_db_url)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while worker._own_hub is None or not worker._own_hub.listening.is_set():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        sent = await app.handover()
        [got] = await app.receiver.wait_for(1, timeout=5)
        assert got.at - sent < 5
    finally:
        await worker.stop()
        await app.close()
    assert await listeners(fresh_db_url) == 0  # stopping the worker stopped its hub


async def test_write_to_receipt_latency_over_50_events(app):
    sent = [await app.handover() for _ in range(50)]
    received = await app.receiver.wait_for(50, timeout=30)
    await asyncio.sleep(0.3)

    by_change = {r.payload["data"]["ownershipChangeId"]: r for r in received}
    assert len(by_change) == len(app.receiver.requests) == 50  # each event once
    order = [r.at for r in sorted(received, key=lambda r: r.payload["data"]["recordedAt"])]
    latencies = [(at - s) * 1000 for at, s in zip(order, sent)]
    for r in received:
        check_signature(app.secret, r)
    p50, p99 = statistics.median(latencies), percentile(latencies, 99)
    FIGURES["write → receipt latency, 50 handovers (ms)"] = f"p50 {p50:.0f}, p99 {p99:.0f}, max {max(latencies):.0f}"
    assert p99 < 3000


async def test_a_rolled_back_change_is_never_sent(app):
    # a mutation that fails with a typed error writes nothing, so queues nothing
    failed = payload(await app.api.gql(ASSIGN, {"input": {"deploymentId": app.org.deployment(0),
                                                          "personId": app.org.person(1), "reason": " "}},
                                       app.org.tokens["owners"]), "assignOwner")
    # an event written and rolled back after the workers had time to look at the open transaction
    conn = await connect(app.api.url)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("select set_config('role', 'steward_app', true), set_config('app.org_id', $1, true)",
                           str(app.org.id))
        await conn.execute("insert into steward.ownership_changes (org_id, deployment_id, action, previous_person_id,"
                           " effective_at, token_name) values ($1, $2, 'UNASSIGNED', $3, now(), 'rolled back')",
                           app.org.id, app.org.deployments[0], app.org.persons[0])
        assert len(await conn.fetch("select 1 from steward.webhook_deliveries")) == 1  # inside, it is queued
        await asyncio.sleep(1.2)  # > the poll interval: the worker looked
        await tx.rollback()
    finally:
        await conn.close()
    await app.handover()  # a committed marker after it
    [got] = await app.receiver.wait_for(1)
    await asyncio.sleep(0.5)

    assert failed["__typename"] == "ValidationError"
    assert len(app.receiver.requests) == 1 and got.payload["data"]["action"] == "HANDED_OVER"
    assert len(await outbox(app.api.url)) == 1


async def test_receiver_down_then_back_is_retried_with_backoff_and_delivered(fresh_db_url):
    app = await start(fresh_db_url)
    try:
        await app.receiver.down()  # port closed
        for _ in range(5):
            await app.handover()
        await asyncio.sleep(1.5)
        during = await outbox(app.api.url)
        attempts = await sql(app.api.url, "select delivery_id, attempt, attempted_at, status_code, error,"
                                          " next_retry_at from steward.webhook_attempts order by id")
        back = time.monotonic()
        await app.receiver.up()
        received = await app.receiver.wait_for(5, timeout=10)
        took = max(r.at for r in received) - back
        await all_settled(app.api.url)

        assert all(r["status"] == "PENDING" and r["attempts"] >= 2 for r in during)
        assert all(a["status_code"] is None and "ConnectError" in a["error"] and a["next_retry_at"]
                   for a in attempts)
        first = [a for a in attempts if a["delivery_id"] == during[0]["id"]]
        gaps = [(b["attempted_at"] - a["attempted_at"]).total_seconds() for a, b in zip(first, first[1:])]
        assert gaps and all(g >= 0.02 for g in gaps)  # backed off (base 50 ms, jittered)
        assert sorted(r.id for r in received) == sorted(r["message_id"] for r in during)
        for r in received:
            check_signature(app.secret, r)
        listed = await app.api.data(WEBHOOKS, {"slug": app.org.slug}, app.org.tokens["admin"])
        node = listed["organization"]["webhooks"][0]["deliveries"]["edges"][0]["node"]
        assert node["status"] == "DELIVERED" and node["attempts"][-1]["statusCode"] == 200
        assert node["attempts"][0]["statusCode"] is None and node["attempts"][0]["nextRetryAt"] is not None
        FIGURES["receiver down 1.5 s, 5 events"] = (f"{len(attempts)} failed attempts while down, all 5 delivered "
                                                   f"{took * 1000:.0f} ms after it came back, 0 lost")
    finally:
        await app.close()


@pytest.mark.slow
async def test_100_events_with_a_flapping_receiver_lose_nothing(fresh_db_url):
    app = await start(fresh_db_url, deployments=4)
    rng = random.Random(12)
    stop = asyncio.Event()

    async def flap():
        while not stop.is_set():
            mode = rng.choice(["up", "500", "down"])
            if mode == "down":
                await app.receiver.down()
            else:
                if app.receiver._server is None:
                    await app.receiver.up()
                app.receiver.status = 200 if mode == "up" else 500
            await asyncio.sleep(rng.uniform(0.1, 0.4))

    flapper = asyncio.create_task(flap())
    try:
        for i in range(100):
            await app.handover(i % 4)
        await asyncio.sleep(2)
        stop.set()
        await flapper
        if app.receiver._server is None:
            await app.receiver.up()
        app.receiver.status = 200
        accepted = await app.receiver.wait_for(100, timeout=30)
        await asyncio.sleep(0.5)

        rows = await all_settled(app.api.url)
        per_id = Counter(r.id for r in app.receiver.accepted())
        assert len(rows) == 100 and {r["status"] for r in rows} == {"DELIVERED"}
        assert set(per_id) == {r["message_id"] for r in rows}  # 0 lost
        bodies: dict[str, str] = {}
        for r in app.receiver.requests:  # a repeat is the same message: same webhook-id, same body
            assert bodies.setdefault(r.id, r.body) == r.body
            check_signature(app.secret, r)
        failed = sum(1 for r in app.receiver.requests if r.status != 200)
        refused = await sql(app.api.url, "select count(*) as n from steward.webhook_attempts where status_code is null")
        FIGURES["flapping receiver, 100 events"] = (
            f"{len(accepted)} accepted of 100, 0 lost, {sum(per_id.values()) - len(per_id)} duplicates, "
            f"{failed} answered 500, {refused[0]['n']} connection refused, "
            f"max {max(r['attempts'] for r in rows)} attempts for one delivery")
        assert all(n == 1 for n in per_id.values())
    finally:
        stop.set()
        await app.close()


async def test_two_workers_share_the_work_and_send_each_event_once(fresh_db_url):
    app = await start(fresh_db_url, worker=False)  # events committed while no worker runs
    workers = []
    try:
        for _ in range(60):
            await app.handover()
        settings_ = settings()
        workers = [Worker(settings_, fresh_db_url), Worker(settings_, fresh_db_url)]
        for worker in workers:
            worker.start()
        await app.receiver.wait_for(60, timeout=20)
        await asyncio.sleep(0.5)

        per_id = Counter(r.id for r in app.receiver.requests)
        assert len(per_id) == 60 and set(per_id.values()) == {1}
        FIGURES["two workers, 60 events"] = "60 delivered, each once"
    finally:
        for worker in workers:
            await worker.stop()
        await app.close()


@pytest.mark.slow
async def test_a_killed_server_leaves_nothing_behind_a_new_worker_delivers_it(fresh_db_url, tmp_path):
    app = await start(fresh_db_url, worker=False)
    server = None
    try:
        for _ in range(10):
            await app.handover()
        app.receiver.delay = 0.8  # requests arrive, answers are late: the kill lands mid-send
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = os.environ | {"DATABASE_URL": fresh_db_url, "STEWARD_PORT": str(port), "STEWARD_HOST": "127.0.0.1",
                            "STEWARD_WEBHOOK_ALLOW_PRIVATE": "1", "STEWARD_WEBHOOK_TIMEOUT_MS": "1000",
                            "STEWARD_WEBHOOK_CONNECT_TIMEOUT_MS": "500", "STEWARD_WEBHOOK_RETRY_BASE_MS": "50",
                            "STEWARD_WEBHOOK_RETRY_MAX_MS": "300"}
        with open(tmp_path / "serve.log", "wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while app.receiver.arrivals == 0:
            assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "serve.log").read_text()
            await asyncio.sleep(0.02)
        server.send_signal(signal.SIGKILL)  # dies without recording anything
        server.wait()
        in_flight = await sql(fresh_db_url, "select count(*) as n from steward.webhook_deliveries"
                                            " where status = 'PENDING' and lease is not null")
        await asyncio.sleep(1)  # the dead server's requests get their (unread) answers
        app.receiver.delay = 0
        worker = Worker(settings(timeout_s=1.0), fresh_db_url)  # the same lease: 2 × 1 s + 5 s
        worker.start()
        try:
            rows = await all_settled(fresh_db_url, timeout=20)
        finally:
            await worker.stop()

        assert {r["status"] for r in rows} == {"DELIVERED"} and len(rows) == 10
        per_id = Counter(r.id for r in app.receiver.accepted())
        assert set(per_id) == {r["message_id"] for r in rows}  # every committed event reached the receiver
        bodies: dict[str, str] = {}
        for r in app.receiver.requests:  # a repeat is the same message: same webhook-id, same body
            assert bodies.setdefault(r.id, r.body) == r.body
        FIGURES["server killed mid-send (SIGKILL)"] = (
            f"{in_flight[0]['n']} deliveries claimed when it died; all 10 delivered, the claimed ones again by a "
            f"new worker after the lease; {sum(per_id.values()) - len(per_id)} received twice (same webhook-id)")
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        await app.close()


async def test_an_endpoint_is_disabled_after_n_failures_and_that_is_an_event(fresh_db_url):
    app = await start(fresh_db_url, max_failures=3)
    watcher = await Receiver().up()
    try:
        created = await create(app.api, app.org.tokens["admin"], watcher.url, events=["WEBHOOK_DISABLED"])
        watcher.secret = created["secret"]
        app.receiver.status = 500
        await app.handover()
        [event] = await watcher.wait_for(1, timeout=10)
        await asyncio.sleep(0.5)

        assert len(app.receiver.requests) == 3  # then it stopped trying
        check_signature(watcher.secret, event)
        assert event.payload["type"] == "webhook.disabled"
        data = event.payload["data"]
        assert (data["webhook"]["id"], data["reason"], data["consecutiveFailures"]) == (app.hook, "FAILURES", 3)
        listed = await app.api.data(WEBHOOKS, {"slug": app.org.slug}, app.org.tokens["admin"])
        hook = next(h for h in listed["organization"]["webhooks"] if h["id"] == app.hook)
        assert (hook["enabled"], hook["disabledReason"], hook["consecutiveFailures"]) == (False, "FAILURES", 3)
        assert hook["deliveries"]["edges"][0]["node"]["status"] == "PENDING"  # it waits

        app.receiver.status = 200  # fixed: enabling resumes the waiting delivery
        await app.api.data(UPDATE, {"input": {"id": app.hook, "enabled": True}}, app.org.tokens["admin"])
        await app.receiver.wait_for(1, timeout=5)
        assert [r.status for r in app.receiver.requests] == [500, 500, 500, 200]
    finally:
        await watcher.down()
        await app.close()


async def test_at_send_time_a_private_address_is_refused_without_the_flag(fresh_db_url):
    app = await start(fresh_db_url, worker=False)  # created while private addresses were allowed
    worker = Worker(settings(allow_private=False), fresh_db_url)
    worker.start()
    try:
        await app.handover()
        deadline = time.monotonic() + 5
        while not (attempts := await sql(fresh_db_url, "select * from steward.webhook_attempts")):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert app.receiver.requests == []
        assert attempts[0]["status_code"] is None and "127.0.0.1 is a loopback address" in attempts[0]["error"]
    finally:
        await worker.stop()
        await app.close()


async def test_retries_stop_after_the_window_and_the_delivery_fails(fresh_db_url):
    app = await start(fresh_db_url, retry_window_s=1)
    try:
        await app.receiver.down()
        await app.handover()
        deadline = time.monotonic() + 5
        while (rows := await outbox(app.api.url))[0]["status"] == "PENDING":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert rows[0]["status"] == "FAILED" and rows[0]["next_attempt_at"] is None
        last = await sql(app.api.url, "select next_retry_at from steward.webhook_attempts order by id desc limit 1")
        assert last[0]["next_retry_at"] is None
    finally:
        await app.close()


async def test_health_changed_carries_the_deployment_statuses_owner_and_escalation_contact(fresh_db_url):
    app = await start(fresh_db_url, events=("HEALTH_CHANGED",))
    try:
        org = app.org
        conn = await connect(fresh_db_url)
        try:
            async with conn.transaction():
                await conn.execute("select set_config('role', 'steward_app', true),"
                                   " set_config('app.org_id', $1, true)", str(org.id))
                await conn.execute(
                    "insert into steward.health_events (org_id, deployment_id, status_before, status_after,"
                    " reasons_before, reasons_after, cause, request_id, owner_person_id, escalation_person_id)"
                    " values ($1, $2, 'HEALTHY', 'UNOWNED', '{}', '{NO_OWNER}', 'WRITE', 'req-1', null, $3)",
                    org.id, org.deployments[0], org.persons[2])
                # an evaluator's baseline is not news: not sent
                await conn.execute(
                    "insert into steward.health_events (org_id, deployment_id, status_after, reasons_after, cause)"
                    " values ($1, $2, 'HEALTHY', '{}', 'TIME')", org.id, org.deployments[0])
        finally:
            await conn.close()
        [got] = await app.receiver.wait_for(1)
        await asyncio.sleep(0.5)

        assert len(app.receiver.requests) == 1
        check_signature(app.secret, got)
        assert got.payload["type"] == "health.changed"
        data = got.payload["data"]
        assert data["deployment"]["id"] == org.deployment(0) and data["deployment"]["key"] == "bot-0"
        assert (data["statusBefore"], data["statusAfter"], data["reasonsBefore"], data["reasonsAfter"]) == (
            "HEALTHY", "UNOWNED", [], ["NO_OWNER"])
        assert data["owner"] is None and data["escalationContact"]["id"] == org.person(2)
        assert (data["cause"], data["requestId"], data["ownershipChangeId"]) == ("WRITE", "req-1", None)
        assert data["healthEventId"] and data["occurredAt"].endswith("Z")
    finally:
        await app.close()


async def test_deactivating_an_owner_sends_owner_changed_and_health_changed_to_unowned(fresh_db_url):
    app = await start(fresh_db_url, events=("OWNER_CHANGED", "HEALTH_CHANGED"))
    try:
        await sql(fresh_db_url, "update steward.deployments set escalation_person_id = $1 where id = $2",
                  app.org.persons[2], app.org.deployments[0])
        result = payload(await app.api.gql(DEACTIVATE, {"input": {"personId": app.org.person(0), "reason": "left"}},
                                           app.org.tokens["owners"]), "deactivatePerson")
        received = await app.receiver.wait_for(2, timeout=5)
        await asyncio.sleep(0.5)

        assert result["__typename"] == "DeactivatePersonSuccess" and len(app.receiver.requests) == 2
        by_type = {r.payload["type"]: r for r in received}
        for r in received:
            check_signature(app.secret, r)
        owner, health = by_type["owner.changed"].payload["data"], by_type["health.changed"].payload["data"]
        assert health["statusAfter"] == "UNOWNED" and "NO_OWNER" in health["reasonsAfter"]
        assert health["cause"] == "WRITE" and health["ownershipChangeId"] == owner["ownershipChangeId"]
        assert health["deployment"] == owner["deployment"] and health["owner"] is None
        assert health["escalationContact"]["id"] == app.org.person(2)
        assert by_type["owner.changed"].id != by_type["health.changed"].id
    finally:
        await app.close()
