"""`steward serve --workers 2`: two processes behind one port, and no state lost between them.

Real processes, real HTTP and WebSocket connections, a new connection per request: each lands on
whichever worker accepts it, and each worker's /metrics (which names its pid) says who served what.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import AsyncExitStack

import psutil
import pytest
from websockets.asyncio.client import connect as ws_connect

from service.events.evaluator import LEADER_KEY

from ..api.automation import ASSIGN, seed, sql
from ..webhooks.helpers import CREATE
from ..webhooks.receiver import Receiver, check_signature
from .conftest import FIGURES
from .workers import ROOT, free_port, gauge, graphql_requests, scrape_each, steward_serve


@pytest.fixture(scope="module")
def server(module_db_url, tmp_path_factory):
    env = {"DATABASE_URL": module_db_url, "STEWARD_HEALTH_EVALUATOR_INTERVAL_S": "1",
           "STEWARD_WEBHOOK_ALLOW_PRIVATE": "true", "STEWARD_WEBHOOK_POLL_MS": "200"}
    with steward_serve(env, tmp_path_factory.mktemp("workers") / "serve.log", "--workers", "2") as served:
        yield served


async def post(http, query: str, variables: dict | None, token: str) -> dict:
    response = await http.post("/graphql", json={"query": query, "variables": variables},
                               headers={"authorization": f"Bearer {token}"})
    return response.json()


def assigned(body: dict) -> dict:
    assert "errors" not in body, body
    result = body["data"]["assignOwner"]
    assert result["__typename"] == "AssignOwnerSuccess", result
    return result


ORGS = "query Orgs { organizations { slug } }"


async def test_both_workers_serve_the_one_port(server):
    org = await seed(server.db_url)
    sent = 0
    async with server.client() as http:
        for _ in range(10):  # batches of concurrent requests until both workers have served some
            bodies = await asyncio.gather(*(post(http, ORGS, None, org.tokens["read"]) for _ in range(20)))
            sent += len(bodies)
            assert all(b == {"data": {"organizations": [{"slug": org.slug}]}} for b in bodies)
            served = graphql_requests(await scrape_each(server), "Orgs")
            if all(served.values()):
                break
    assert len(served) == 2 and all(served.values()), served
    assert sum(served.values()) == sent
    FIGURES["queries per worker"] = f"{sorted(served.values(), reverse=True)} of {sent}"


async def test_an_idempotent_mutation_writes_once_whichever_worker_takes_it(server):
    org = await seed(server.db_url)
    variables = {"input": {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "on call",
                           "idempotencyKey": "workers-assign-1"}}
    before = graphql_requests(await scrape_each(server), "Assign")  # other tests' assignments, if any
    async with server.client() as http:
        first = assigned(await post(http, ASSIGN, variables, org.tokens["owners"]))
        assert first["replayed"] is False and first["changed"] is True
        replays = []
        for _ in range(10):
            replays += [assigned(b) for b in await asyncio.gather(
                *(post(http, ASSIGN, variables, org.tokens["owners"]) for _ in range(10)))]
            after = graphql_requests(await scrape_each(server), "Assign")
            served = {pid: after[pid] - before.get(pid, 0) for pid in after}
            if all(served.values()):
                break
    assert sum(served.values()) == 1 + len(replays)
    assert all(served.values()), f"one worker served every request: {served}"
    for replay in replays:  # the first answer, as it was, marked as replayed
        assert replay == first | {"replayed": True}
    periods = await sql(org.db_url, "select count(*) as n from steward.ownership_assignments where deployment_id = $1",
                        org.deployments[0])
    changes = await sql(org.db_url, "select count(*) as n from steward.ownership_changes where org_id = $1", org.id)
    keys = await sql(org.db_url, "select count(*) as n from steward.idempotency_keys where org_id = $1", org.id)
    assert (periods[0]["n"], changes[0]["n"], keys[0]["n"]) == (1, 1, 1)
    FIGURES["one idempotency key"] = (f"{1 + len(replays)} requests, Assign served per worker "
                                      f"{sorted(served.values(), reverse=True)}, 1 write, {len(replays)} replays")


HEALTH = "subscription { healthChanged { id cause statusAfter deployment { key } } }"


async def open_subscription(stack: AsyncExitStack, server, token: str):
    ws = await stack.enter_async_context(ws_connect(server.base.replace("http://", "ws://") + "/graphql",
                                                    subprotocols=["graphql-transport-ws"]))
    await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "connection_ack"}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": HEALTH}}))
    return ws


async def next_event(ws, timeout: float) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        return message["payload"]["data"]["healthChanged"]


async def test_a_subscriber_on_one_worker_hears_a_mutation_served_by_the_other(server):
    org = await seed(server.db_url)  # no owners: assigning one changes the deployment's health
    async with AsyncExitStack() as stack:
        sockets = []
        for _ in range(16):  # subscriptions on new connections until both workers hold some
            sockets.append(await open_subscription(stack, server, org.tokens["read"]))
            if len(sockets) < 2:
                continue
            held = await _held_subscriptions(server, len(sockets))
            if all(held.values()):
                break
        assert len(held) == 2 and all(held.values()), held
        before = graphql_requests(await scrape_each(server), "Assign")
        async with server.client() as http:
            started = time.perf_counter()
            assigned(await post(http, ASSIGN, {"input": {"deploymentId": org.deployment(0),
                                                         "personId": org.person(0), "reason": "first owner"}},
                                    org.tokens["owners"]))
            events = [await next_event(ws, 2.0) for ws in sockets]
            latency = time.perf_counter() - started
        after = graphql_requests(await scrape_each(server), "Assign")
    [mutation_pid] = [pid for pid in after if after[pid] != before.get(pid, 0)]
    assert {(e["id"], e["cause"], e["deployment"]["key"]) for e in events} == {(events[0]["id"], "WRITE", "bot-0")}
    other = next(pid for pid in held if pid != mutation_pid)
    assert held[other] >= 1  # subscribers on the worker that did not serve the mutation got it too
    FIGURES["subscriptions"] = (f"{len(sockets)} subscribers {dict(held)} per worker; mutation served by"
                                f" {mutation_pid}; all had the event {latency * 1000:.0f} ms after the request")


async def _held_subscriptions(server, total: int) -> dict[int, float]:
    deadline = time.monotonic() + 5
    while True:
        held = gauge(await scrape_each(server), "steward_graphql_subscriptions")
        if sum(held.values()) == total or time.monotonic() > deadline:
            return held
        await asyncio.sleep(0.05)


async def test_one_evaluator_leads_across_workers(server):
    db = server.db_url

    async def holders() -> int:
        rows = await sql(db, "select l.pid from pg_locks l where l.locktype = 'advisory' and l.granted"
                             " and l.classid = 0 and l.objid = $1 and l.objsubid = 1"
                             " and l.database = (select oid from pg_database where datname = current_database())",
                         LEADER_KEY)
        return len(rows)

    # The election runs at each worker's first evaluator tick, which may come after the server answers.
    for _ in range(150):  # up to 15 s
        if await holders():
            break
        await asyncio.sleep(0.1)
    leaders = []
    for _ in range(30):  # 3 s: three evaluator ticks in each worker
        leaders.append(await holders())
        await asyncio.sleep(0.1)
    assert set(leaders) == {1}, leaders
    assert server.output.count("this process is the leader") == 1
    FIGURES["evaluator"] = "1 leader lock held across 2 workers, elected once"


async def test_each_webhook_delivery_is_sent_once_by_the_two_workers(server):
    org = await seed(server.db_url, persons=3, deployments=1, owner=0)
    receiver = await Receiver().up()
    try:
        async with server.client() as http:
            created = await post(http, CREATE, {"input": {"url": receiver.url, "events": ["OWNER_CHANGED"]}},
                                 org.tokens["admin"])
            receiver.secret = created["data"]["createWebhook"]["secret"]
            for round_ in range(20):  # handovers on new connections, so both workers cause events
                assigned(await post(http, ASSIGN, {"input": {"deploymentId": org.deployment(0),
                                                             "personId": org.person(1 + round_ % 2),
                                                             "reason": "rotation"}},
                                    org.tokens["owners"]))
        await receiver.wait_for(20, timeout=20)
        await asyncio.sleep(1.0)  # a second sending would have arrived by now
    finally:
        await receiver.down()
    per_id = Counter(r.id for r in receiver.requests)
    for received in receiver.requests:
        check_signature(receiver.secret, received)
    rows = await sql(org.db_url, "select status, attempts from steward.webhook_deliveries where org_id = $1", org.id)
    assert len(per_id) == 20 and set(per_id.values()) == {1}, per_id
    assert [(r["status"], r["attempts"]) for r in rows] == [("DELIVERED", 1)] * 20
    FIGURES["webhooks"] = "20 OWNER_CHANGED deliveries, each sent once by the two workers' delivery loops"


def test_sigterm_stops_every_worker_then_the_embedded_postgres_once(tmp_path):
    """The parent resolves the database (here: starts the embedded PostgreSQL) and hands its URL to the workers;
    SIGTERM stops the workers gracefully, then the parent stops PostgreSQL, once, and exits 0."""
    env = {"STEWARD_DATA_DIR": str(tmp_path / "data"), "STEWARD_EMBEDDED_PORT": str(free_port()),
           "STEWARD_WORKERS": "2"}
    migrated = subprocess.run([sys.executable, "-m", "service.cli", "migrate"], cwd=ROOT, capture_output=True,
                              env=_without_database_url() | env, text=True, timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    with steward_serve(env, tmp_path / "serve.log") as server:
        pids = set(asyncio.run(scrape_each(server)))
        children = psutil.Process(server.process.pid).children(recursive=True)
        assert pids <= {c.pid for c in children}, (pids, children)
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(60)
    output = server.output
    assert code == 0, output[-3000:]
    _, alive = psutil.wait_procs(children, timeout=5)  # none outlives the parent for long
    assert [(c.pid, c.cmdline()) for c in alive] == []
    assert output.count("Application shutdown complete.") == 2
    assert output.count("started embedded PostgreSQL") == 1 and output.count("stopped embedded PostgreSQL") == 1
    assert output.index("2 worker processes stopped") < output.index("stopped embedded PostgreSQL")
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists()
    FIGURES["SIGTERM"] = f"exit 0; workers {sorted(pids)} and {len(children) - len(pids)} helper process(es) gone"


def _without_database_url() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}


@pytest.mark.parametrize(("args", "env", "message"), [
    (("--workers", "0"), {}, "--workers: must be between 1 and 64, got 0"),
    (("--workers", "two"), {}, "--workers: must be an integer, got 'two'"),
    ((), {"STEWARD_WORKERS": "65"}, "STEWARD_WORKERS must be between 1 and 64, got 65"),
])
def test_a_worker_count_out_of_range_is_refused(args, env, message):
    refused = subprocess.run([sys.executable, "-m", "service.cli", "serve", *args], cwd=ROOT, capture_output=True,
                             env=_without_database_url() | env, text=True, timeout=60)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def test_a_worker_that_cannot_start_stops_them_all_with_exit_3(server_url):
    """Not restarted again and again: here the workers' database does not exist (the parent checked another)."""
    url = server_url.rsplit("/", 1)[0] + "/steward_no_such_database"
    script = ("import sys; from service.cli import _serve_workers; "
              f"sys.exit(_serve_workers({url!r}, 2, dict(host='127.0.0.1', port={free_port()}, log_config=None)))")
    started = time.monotonic()
    failed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=_without_database_url())
    assert failed.returncode == 3, failed.stderr[-3000:]
    assert "a worker process failed to start" in failed.stderr and "steward_no_such_database" in failed.stderr
    assert time.monotonic() - started < 30
