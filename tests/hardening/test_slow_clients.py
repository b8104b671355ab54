"""Slow clients hold no connection: ingest bodies are spooled first and refused below a minimum rate (issue 10).

Through a real `steward serve` and real sockets: httpx sends chunked bodies that trickle.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from service.db.pool import connect

from ..api.conftest import make_token
from ..live import steward_serve
from .conftest import FIGURES, codes

QUERY = "{ deployments { totalCount } organizations { slug } }"
GRACE_S, MIN_RATE, MAX_INGEST = 6, 1000, 4_000_000
ENV = {"STEWARD_BODY_GRACE_MS": str(GRACE_S * 1000), "STEWARD_BODY_MIN_BYTES_PER_S": str(MIN_RATE),
       "STEWARD_MAX_INGEST_BYTES": str(MAX_INGEST), "STEWARD_POOL_MAX": "10"}
NDJSON = {"content-type": "application/x-ndjson"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("slow") / "serve.log"


@pytest.fixture(scope="module")
def server(world_url, server_log):
    """A server whose bodies get 6 s of grace, then must average 1000 bytes/s."""
    with steward_serve(world_url, server_log, **ENV) as base:
        yield base


def line(ext: str, key: str = "bot-000") -> bytes:
    return json.dumps({"externalId": ext, "deploymentKey": key, "topic": "slow-test", "channel": "CHAT",
                       "startedAt": "2026-03-02T10:00:00Z", "aiEngaged": True, "outcome": "AI_RESOLVED",
                       "resolvedAt": "2026-03-02T10:04:00Z"}).encode() + b"\n"


async def dribble(prefix: str, n: int, every_s: float, end_s: float):
    """A chunked body: one line every `every_s` seconds, `n` lines, then the end of the body at `end_s`.

    The server answers 408 in the middle and closes the connection. httpx reads the answer
    only once it has sent the whole body (a later write would find the socket reset and lose
    the answer), so the body ends soon after the server's deadline; the server's own
    duration of each request (its log) shows it did not wait for the end.
    """
    start = time.monotonic()
    for i in range(n):
        yield line(f"{prefix}-{i:03d}")
        await asyncio.sleep(every_s)
    await asyncio.sleep(max(0.0, end_s - (time.monotonic() - start)))


def served(log: Path, path: str, status: int) -> list[float]:
    """Seconds the server took for each request to `path` answered with `status`, from its access log."""
    entries = [json.loads(text) for text in log.read_text().splitlines() if text.startswith("{")]
    return [e["duration_ms"] / 1000 for e in entries
            if e.get("logger") == "steward.access" and e.get("path") == path and e.get("status") == status]


def lines(prefix: str, n: int) -> bytes:
    return b"".join(line(f"{prefix}-{i:07d}") for i in range(n))


async def written(url: str, prefix: str) -> int:
    conn = await connect(url)
    try:
        return await conn.fetchval("select count(*) from steward.conversations where external_id like $1",
                                   prefix + "-%")
    finally:
        await conn.close()


async def busy_backends(url: str) -> int:
    """The service's connections that are running something or sit inside a transaction."""
    conn = await connect(url)
    try:
        return await conn.fetchval(
            "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
            " and application_name = 'steward' and state <> 'idle'")
    finally:
        await conn.close()


async def test_ten_trickling_uploads_leave_graphql_and_readyz_alone_then_get_408(server, server_log, world_url,
                                                                                 record_property):
    ingest_tokens = [await make_token(world_url, "acme", "write:activity") for _ in range(10)]
    read_token = await make_token(world_url, "globex", "read")
    started = time.monotonic()

    async def trickle(i: int, token: str):
        response = await http.post(f"{server}/ingest/conversations", content=dribble(f"slow{i}", 4, 2, 10),
                                    headers={"authorization": f"Bearer {token}", **NDJSON})
        return response, time.monotonic() - started

    async def read():
        sent = time.monotonic()
        response = await http.post(f"{server}/graphql", json={"query": QUERY},
                                   headers={"authorization": f"Bearer {read_token}"})
        return response, time.monotonic() - sent, sent - started

    async def ready_probes(until: float):
        seen = []
        while time.monotonic() < until:
            seen.append((await http.get(f"{server}/readyz")).status_code)
            await asyncio.sleep(0.25)
        return seen

    async with httpx.AsyncClient(timeout=60) as http:
        await read()  # the process's first query builds the schema: not what is measured here
        started = time.monotonic()
        uploads = [asyncio.create_task(trickle(i, t)) for i, t in enumerate(ingest_tokens)]
        await asyncio.sleep(1.0)  # every upload authenticated and trickling
        busy_while_trickling = await busy_backends(world_url)
        probes = asyncio.create_task(ready_probes(until=time.monotonic() + 4.5))
        reads = []
        for _ in range(50):  # spread over ~4 s, well inside the grace period
            reads.append(asyncio.create_task(read()))
            await asyncio.sleep(0.08)
        reads = await asyncio.gather(*reads)
        ready = await probes
        reads_done = time.monotonic() - started
        results = await asyncio.gather(*uploads)

    statuses = Counter(r.status_code for r, _, _ in reads)
    latencies = sorted(took for _, took, _ in reads)
    upload_statuses = Counter(r.status_code for r, _ in results)
    answered = sorted(t for _, t in results)
    refused_after = sorted(served(server_log, "/ingest/conversations", 408))
    figures = {
        "reads": len(reads), "read_statuses": dict(statuses),
        "read_latency_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "read_latency_ms_p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
        "read_latency_ms_max": round(latencies[-1] * 1000, 1),
        "readyz_statuses": dict(Counter(ready)), "busy_backends_while_trickling": busy_while_trickling,
        "upload_statuses": dict(upload_statuses),
        "uploads_refused_by_server_after_s": [round(t, 2) for t in refused_after[:1] + refused_after[-1:]],
        "uploads_answered_at_client_after_s": [round(answered[0], 1), round(answered[-1], 1)],
        "reads_done_after_s": round(reads_done, 1),
    }
    FIGURES["slow uploads"] = figures
    for name, value in figures.items():
        record_property(name, value)

    assert busy_while_trickling == 0  # ten uploads in flight, not one connection taken for them
    assert statuses == {200: 50}, figures
    assert all(r.json()["data"]["organizations"] == [{"slug": "globex"}] for r, _, _ in reads)
    assert set(ready) == {200} and len(ready) >= 10, figures
    assert upload_statuses == {408: 10}, figures
    assert all("too slowly" in r.json()["error"] for r, _ in results)
    # refused once behind the rate (6 s of grace + ~0.9 s for 4 lines), before the bodies ended at 10 s
    assert len(refused_after) == 10 and GRACE_S < refused_after[0] and refused_after[-1] < 8.5, figures
    assert reads_done < 1 + refused_after[0]  # the uploads were still trickling while every read ran
    assert await written(world_url, "slow0") == 0
    assert sum([await written(world_url, f"slow{i}") for i in range(10)]) == 0


async def test_a_large_fast_upload_is_spooled_and_ingested(server, world_url):
    token = await make_token(world_url, "acme", "write:activity")
    body = lines("big", 12_000)
    assert 1 << 20 < len(body) < MAX_INGEST  # past the in-memory part of the spool: a file on disk

    async def chunked():
        for i in range(0, len(body), 65_536):
            yield body[i:i + 65_536]

    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{server}/ingest/conversations", content=chunked(),
                                   headers={"authorization": f"Bearer {token}", **NDJSON})

    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 12_000 and response.json()["rejected"] == 0
    assert await written(world_url, "big") == 12_000


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
async def test_an_upload_over_the_limit_gets_413_and_writes_nothing(server, world_url, chunked):
    token = await make_token(world_url, "acme", "write:activity")
    prefix = f"huge{int(chunked)}"
    body = lines(prefix, 20_000)
    assert len(body) > MAX_INGEST

    async def pieces():
        for i in range(0, len(body), 65_536):
            yield body[i:i + 65_536]

    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(f"{server}/ingest/conversations", content=pieces() if chunked else body,
                                   headers={"authorization": f"Bearer {token}", **NDJSON})

    assert response.status_code == 413
    assert f"{MAX_INGEST} bytes" in response.json()["error"]
    assert await written(world_url, prefix) == 0


async def test_a_trickling_graphql_body_gets_408_and_holds_no_connection(server, server_log, world_url):
    token = await make_token(world_url, "globex", "read")
    payload = json.dumps({"query": QUERY}).encode()

    async def trickle():
        for byte in payload[:4]:  # then nothing until the body ends at 10 s (see dribble)
            yield bytes([byte])
            await asyncio.sleep(1)
        await asyncio.sleep(6)

    async def sample():
        await asyncio.sleep(2)
        return await busy_backends(world_url)

    async with httpx.AsyncClient(timeout=60) as http:
        sampling = asyncio.create_task(sample())
        response = await http.post(f"{server}/graphql", content=trickle(),
                                   headers={"authorization": f"Bearer {token}", "content-type": "application/json"})

    assert await sampling == 0
    assert response.status_code == 408
    assert codes(response.json()) == ["REQUEST_TIMEOUT"]
    refused_after = served(server_log, "/graphql", 408)
    assert len(refused_after) == 1 and GRACE_S <= refused_after[0] < GRACE_S + 1
