"""Read replicas against a real streaming standby: a primary of this module's own (it is stopped at the end) and a
hot standby cloned from it with `pg_basebackup -R`, both from the embedded PostgreSQL's binaries whatever
DATABASE_URL says. Which server answered a read is read from /metrics' counters.

The tests run in order and share the two servers: reads on the replica, read-your-writes, a lagging replica,
malformed tokens, the standby stopped and restarted under load, and last the primary stopped.
"""
from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
import time

import pytest

from schema.relay import to_global_id
from service.auth import create_token
from service.config import ReplicaSettings, Settings
from service.db.embedded import EmbeddedPostgres
from service.db.lag import parse_lsn
from service.db.migrate import migrate
from service.db.pool import connect

from ..api.conftest import start_api
from ..factory import Factory

pytestmark = [pytest.mark.slow, pytest.mark.replicas]

MAX_LAG_MS = 1000
SETTINGS = Settings(rate_limit=None, pool_min=1, pool_max=6, db_connect_timeout_s=1.0, request_timeout_s=5.0,
                    health_evaluator_interval_s=0,
                    replicas=ReplicaSettings(max_lag_ms=MAX_LAG_MS, check_interval_s=0.05))
CREATE = """mutation Create($input: CreatePersonInput!) {
  createPerson(input: $input) { __typename ... on CreatePersonSuccess { person { id name } } }
}"""
PERSON = "query Person($id: ID!) { node(id: $id) { ... on Person { name } } }"
PEOPLE = "query People { people(first: 5) { totalCount } }"
DETAIL = """query Detail($id: ID!) {
  deployment(id: $id) {
    id key name status owner { name } health { status reasons { code } }
    metrics(window: {lastDays: 30}) { conversations addressableResolutionRate workflowUpdates reviews ownershipGapDays }
    weeklyMetrics { weekStart metrics { conversations addressableResolutionRate } }
    ownershipHistory { validFrom validTo reason person { name } }
    workflowUpdates(first: 5) { totalCount }
    topicOpportunities(first: 3) { rank }
  }
  ownershipSummary(window: {lastDays: 90}) { deployments unowned ownedShare }
}"""
# No standby ever replays this far (the largest LSN there is): a read sending it runs on the primary.
BEYOND = "FFFFFFFF/FFFFFFFF"
ASSIGN = """mutation Assign($input: AssignOwnerInput!) {
  assignOwner(input: $input) { __typename ... on AssignOwnerSuccess { changed } }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@pytest.fixture(scope="module")
async def servers(tmp_path_factory):
    """(primary, standby, read token, write token, a deployment's and a person's global ids)."""
    base = tmp_path_factory.mktemp("replicas")
    # the standby must find the WAL it missed while stopped: keep enough of it on the primary
    primary = EmbeddedPostgres(base / "primary", free_port(), options="-c fsync=off -c wal_keep_size=256MB")
    url = await in_thread(primary.start)
    standby = None
    try:
        conn = await connect(url)
        try:
            await migrate(conn)
            factory = Factory(conn)
            org = await factory.org("replicas")
            deployment = await factory.deployment(org)
            person = await factory.person(org)
            _, read = await create_token(conn, "replicas", ["read"], "replica reads")
            _, write = await create_token(conn, "replicas", ["write:owners", "write:activity", "read"], "writes")
        finally:
            await conn.close()
        standby = await in_thread(primary.standby, base / "standby", free_port())
        await in_thread(standby.start)
        yield primary, standby, read, write, to_global_id("Deployment", deployment), to_global_id("Person", person)
    finally:
        if standby is not None:
            await in_thread(standby.stop)
        await in_thread(primary.stop)


@pytest.fixture(scope="module")
async def api(servers):
    primary, standby, *_ = servers
    settings = dataclasses.replace(SETTINGS, replicas=dataclasses.replace(SETTINGS.replicas, urls=(standby.url,)))
    api, lifespan = await start_api(primary.url, settings)
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


async def reads(api) -> dict[str, float]:
    """Reads served so far: {"replica": n, "primary:<reason>": n}, from /metrics."""
    text = (await api.client.get("/metrics")).text
    served = {"replica": sum(float(v) for v in re.findall(r'^steward_replica_reads_total\{[^}]*\} (\S+)$', text, re.M))}
    for reason, value in re.findall(r'^steward_primary_reads_total\{reason="(\w+)"\} (\S+)$', text, re.M):
        served[f"primary:{reason}"] = float(value)
    return served


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


async def replica_state(api) -> dict:
    return (await api.client.get("/readyz")).json()["replicas"][0]


async def wait_for_state(api, state: str, within: float = 30.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        seen = await replica_state(api)
        if seen["state"] == state:
            return seen
        assert time.monotonic() < deadline, f"the replica stayed {seen} (waited for {state})"
        await asyncio.sleep(0.05)


async def create_person(api, token: str, name: str) -> tuple[str, str]:
    response = await api.post(CREATE, {"input": {"name": name, "email": f"{name}@example.com",
                                                 "function": "CX"}}, token=token)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    token_header = response.headers["steward-consistency-token"]
    assert body["extensions"]["consistencyToken"] == token_header and parse_lsn(token_header) is not None
    return body["data"]["createPerson"]["person"]["id"], token_header


async def test_queries_run_on_the_replica(api, servers):
    *_, read, _, _, _ = servers
    state = await wait_for_state(api, "up")
    assert state["usable"] and state["lagMs"] <= MAX_LAG_MS
    before = await reads(api)
    for _ in range(10):
        data = await api.data(PEOPLE, token=read)
        assert data["people"]["totalCount"] == 1
    got = await api.client.get("/graphql", params={"query": PEOPLE}, headers={"authorization": f"Bearer {read}"})
    assert got.json()["data"]["people"]["totalCount"] == 1
    assert delta(await reads(api), before) == {"replica": 11}
    ready = (await api.client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["replicas"][0]["readsServed"] >= 10


async def test_a_replica_answers_as_the_primary_does(api, servers):
    *_, read, _, deployment, _ = servers
    await wait_for_state(api, "up")
    before = await reads(api)
    on_replica = await api.post(DETAIL, {"id": deployment}, token=read)
    on_primary = await api.post(DETAIL, {"id": deployment}, token=read, headers={"Steward-Consistency-Token": BEYOND})
    assert delta(await reads(api), before) == {"replica": 1, "primary:token_ahead": 1}
    assert "errors" not in on_replica.json() and on_replica.json()["data"]["deployment"]["id"] == deployment
    assert on_replica.json() == on_primary.json()


async def test_a_read_with_a_writes_token_sees_the_write(api, servers, record_property):
    """Each write is read back at once with its token: always seen, from the replica once it has replayed it."""
    *_, read, write, _, _ = servers
    before = await reads(api)
    for i in range(40):
        person_id, token = await create_person(api, write, f"ryw{i}")
        response = await api.post(PERSON, {"id": person_id}, token=read,
                                  headers={"Steward-Consistency-Token": token})
        assert response.json() == {"data": {"node": {"name": f"ryw{i}"}}}
        assert "steward-consistency-token" not in response.headers  # a read answers with none
    served = delta(await reads(api), before)
    assert served.get("replica", 0) + served.get("primary:token_ahead", 0) == 40, served
    record_property("read_your_writes", served)
    print(f"read-your-writes: 40 reads right after their write: {served}")


async def test_a_token_ahead_of_the_replica_goes_to_the_primary_and_a_lagging_replica_is_left_alone(api, servers):
    primary, standby, read, write, _, _ = servers
    await wait_for_state(api, "up")
    control = await connect(standby.url)
    try:
        await control.execute("select pg_wal_replay_pause()")
        person_id, token = await create_person(api, write, "paused")
        before = await reads(api)
        with_token = await api.post(PERSON, {"id": person_id}, token=read,
                                    headers={"Steward-Consistency-Token": token})
        assert with_token.json() == {"data": {"node": {"name": "paused"}}}
        assert delta(await reads(api), before) == {"primary:token_ahead": 1}
        # without the token, a read may be as old as STEWARD_REPLICA_MAX_LAG_MS: then the replica is lagging
        lagging = await wait_for_state(api, "lagging", within=10)
        assert lagging["lagMs"] > MAX_LAG_MS and not lagging["usable"]
        before = await reads(api)
        assert (await api.data(PERSON, {"id": person_id}, token=read)) == {"node": {"name": "paused"}}
        assert delta(await reads(api), before) == {"primary:no_usable_replica": 1}
        await control.execute("select pg_wal_replay_resume()")
        await wait_for_state(api, "up", within=10)
        before = await reads(api)
        assert (await api.data(PERSON, {"id": person_id}, token=read)) == {"node": {"name": "paused"}}
        assert delta(await reads(api), before) == {"replica": 1}
    finally:
        await control.execute("select pg_wal_replay_resume()")
        await control.close()


@pytest.mark.parametrize("token", ["yesterday", "0/", "1/2/3", "0/123456789", "G/0", "0/1 0/2", ""])
async def test_a_malformed_token_is_refused_and_nothing_runs(api, servers, token):
    *_, read, write, _, _ = servers
    people = (await api.data(PEOPLE, token=read))["people"]["totalCount"]
    before = await reads(api)
    for query, bearer, variables in [(PEOPLE, read, None),
                                     (CREATE, write, {"input": {"name": "never", "email": "n@example.com",
                                                                "function": "CX"}})]:
        response = await api.post(query, variables, token=bearer, headers={"Steward-Consistency-Token": token})
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "BAD_REQUEST", "header": "Steward-Consistency-Token"}
    assert delta(await reads(api), before) == {}
    assert (await api.data(PEOPLE, token=read))["people"]["totalCount"] == people  # no "never" was created


class Readers:
    """`n` clients reading back to back, keeping every answer's status and errors; a steady write alongside."""

    def __init__(self, api, read: str, write: str, deployment: str, people: list[str]):
        self.api, self.read, self.write = api, read, write
        self.deployment, self.people = deployment, people
        self.answers: list[tuple[int, object]] = []
        self.writes: list[int] = []

    async def reader(self) -> None:
        while True:
            response = await self.api.post(PEOPLE, token=self.read)
            self.answers.append((response.status_code, response.json().get("errors")))

    async def writer(self) -> None:
        for i in range(10**6):  # handovers between two people, 5 a second
            response = await self.api.post(ASSIGN, {"input": {
                "deploymentId": self.deployment, "personId": self.people[i % 2], "reason": "handover"}},
                token=self.write)
            self.writes.append(response.status_code)
            await asyncio.sleep(0.2)

    def failures(self) -> list:
        return [a for a in self.answers if a != (200, None)]


async def test_a_standby_stopped_under_load_sends_reads_to_the_primary_and_they_come_back(api, servers):
    primary, standby, read, write, deployment, person = servers
    other, _ = await create_person(api, write, "second")
    readers = Readers(api, read, write, deployment, [person, other])
    await wait_for_state(api, "up")
    tasks = [asyncio.create_task(readers.reader()) for _ in range(4)] + [asyncio.create_task(readers.writer())]
    try:
        await asyncio.sleep(1.0)
        await in_thread(standby.stop)
        down = await wait_for_state(api, "down", within=10)
        assert not down["usable"]
        seen_down = await reads(api)  # until then the standby served reads while it shut down: rightly
        await asyncio.sleep(1.0)
        while_down = delta(await reads(api), seen_down)
        await in_thread(standby.start)
        await wait_for_state(api, "up", within=30)
        back = await reads(api)
        await asyncio.sleep(1.0)
        after_restart = delta(await reads(api), back)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert readers.failures() == [] and len(readers.answers) > 20
    assert set(readers.writes) == {200}
    # once it was seen down every read ran on the primary (but the 4 readers' reads already under way there)
    assert while_down.get("replica", 0) <= 4 and while_down.get("primary:no_usable_replica", 0) > 0, while_down
    assert after_restart.get("replica", 0) > 0 and "primary:no_usable_replica" not in after_restart, after_restart


async def test_with_the_primary_stopped_queries_answer_from_the_replica_and_writes_get_503(api, servers):
    primary, standby, read, write, deployment, person = servers
    await wait_for_state(api, "up")
    people = (await api.data(PEOPLE, token=read))["people"]["totalCount"]
    await in_thread(primary.stop)
    deadline = time.monotonic() + 10
    while (ready := (await api.client.get("/readyz")).json())["status"] != "read-only":
        assert time.monotonic() < deadline, ready
        await asyncio.sleep(0.05)
    assert ready["database"] == "unreachable" and ready["replicas"][0]["usable"]
    before = await reads(api)
    for _ in range(5):
        assert (await api.data(PEOPLE, token=read))["people"]["totalCount"] == people
    assert delta(await reads(api), before) == {"replica": 5}
    for _ in range(2):  # the first may find a pooled connection the primary closed: the same answer
        response = await api.post(CREATE, {"input": {"name": "nope", "email": "nope@example.com",
                                                     "function": "CX"}}, token=write)
        assert response.status_code == 503 and response.headers["retry-after"]
        assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    ingest = await api.client.post("/ingest/conversations", content=b"{}\n", headers={
        "authorization": f"Bearer {write}", "content-type": "application/x-ndjson"})
    assert ingest.status_code == 503 and ingest.headers["retry-after"]
