"""Bulk ingest: POST /ingest/conversations and `steward import`, against a real PostgreSQL."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from service.app import create_app
from service.auth import create_token, revoke_token
from service.config import Settings
from service.db import pool as db
from service import ingest

from ..conftest import ROOT
from ..factory import Factory, at

UTC = timezone.utc
NDJSON = {"content-type": "application/x-ndjson"}
CSV = {"content-type": "text/csv"}
SETTINGS = Settings(pool_min=1, pool_max=4)


def brief(errors: list[dict]) -> list[dict]:
    """Rejections as line and reason (codes and fields are checked by the tests about them)."""
    return [{"line": e["line"], "reason": e["reason"]} for e in errors]


@dataclass
class Tenant:
    org_id: int
    slug: str
    deployment_id: int
    deployment_key: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
async def owner(module_db_url):
    """A superuser connection that commits: setup and assertions outside any request."""
    conn = await db.connect(module_db_url)
    yield conn
    await conn.close()


@pytest.fixture(scope="module")
async def app(module_db_url):
    application = create_app(SETTINGS, module_db_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://steward") as http:
        yield http


async def tenant(owner, scopes=("write:activity",), channels=("CHAT", "EMAIL")) -> Tenant:
    slug = f"org-{uuid.uuid4().hex[:10]}"
    factory = Factory(owner)
    org_id = await factory.org(slug)
    key = f"bot-{uuid.uuid4().hex[:6]}"
    dep = await factory.deployment(org_id, key=key, channels=channels)
    _, token = await create_token(owner, slug, list(scopes), "ingest test")
    return Tenant(org_id, slug, dep, key, token)


def row(ext: str, dep_key: str, **fields) -> dict:
    base = {"externalId": ext, "deploymentKey": dep_key, "topic": "order-status", "channel": "CHAT",
            "startedAt": "2026-03-02T10:00:00Z", "aiEngaged": True, "outcome": "AI_RESOLVED",
            "resolvedAt": "2026-03-02T10:04:00Z"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def ndjson(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def many(n: int, dep_key: str, *, prefix: str = "c", outcome=lambda i: "AI_RESOLVED") -> list[dict]:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    topics = ("order-status", "returns", "refund-status", "shipping-delay")
    rows = []
    for i in range(n):
        started = start + timedelta(minutes=7 * i)
        oc = outcome(i)
        rows.append(row(f"{prefix}-{i:06d}", dep_key, topic=topics[i % 4], channel=("CHAT", "EMAIL")[i % 2],
                        startedAt=started.isoformat(), aiEngaged=i % 10 != 0, outcome=oc,
                        resolvedAt=(started + timedelta(minutes=3)).isoformat() if oc == "AI_RESOLVED" else None))
    return rows


async def count(owner, org_id: int) -> int:
    return await owner.fetchval("select count(*) from steward.conversations where org_id = $1", org_id)


async def post(client, t: Tenant, body, headers=NDJSON, query: str = ""):
    return await client.post(f"/ingest/conversations{query}", content=body, headers={**t.auth, **headers})


# --- the happy path, both formats ------------------------------------------------------------


async def test_ndjson_rows_are_stored_with_their_values_and_new_topics(client, owner):
    t = await tenant(owner)
    body = ndjson([
        row("n-1", t.deployment_key, startedAt="2026-03-02T12:00:00+02:00", resolvedAt="2026-03-02T10:30:00Z",
            reopenedAt="2026-03-02T11:00:00Z"),
        row("n-2", t.deployment_key, topic="returns", channel="EMAIL", aiEngaged=False, outcome="ESCALATED",
            resolvedAt=None),
        {"externalId": "n-3", "deploymentId": t.deployment_id, "topic": "returns", "channel": "CHAT",
         "startedAt": "2026-03-03T09:00:00Z", "aiEngaged": True, "outcome": "OPEN"},
    ])

    r = await post(client, t, body)

    assert r.status_code == 200
    assert r.json() == {"accepted": 3, "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 0, "errors": []}
    stored = await owner.fetchrow(
        "select c.*, t.key as topic_key, t.name as topic_name from steward.conversations c"
        " join steward.topics t on t.id = c.topic_id where c.org_id = $1 and c.external_id = 'n-1'", t.org_id)
    assert stored["started_at"] == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert stored["reopened_at"] == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert (stored["deployment_id"], stored["channel"], stored["outcome"]) == (t.deployment_id, "CHAT", "AI_RESOLVED")
    assert (stored["topic_key"], stored["topic_name"]) == ("order-status", "Order status")
    topics = await owner.fetch("select key from steward.topics where org_id = $1 order by key", t.org_id)
    assert [r["key"] for r in topics] == ["order-status", "returns"]


async def test_csv_with_quoting_crlf_and_absent_optional_columns(client, owner):
    t = await tenant(owner)
    body = (
        "externalId,deploymentKey,topic,channel,startedAt,aiEngaged,outcome,resolvedAt\r\n"
        f'"csv,1",{t.deployment_key},returns,CHAT,2026-03-02T10:00:00Z,true,AI_RESOLVED,2026-03-02T10:01:00Z\r\n'
        f"csv-2,{t.deployment_key},returns,EMAIL,2026-03-02T11:00:00Z,false,ABANDONED,\r\n"
        "\r\n"
        f"csv-3,{t.deployment_key},returns,FAX,2026-03-02T11:00:00Z,false,ABANDONED,\r\n"
    ).encode()

    r = await post(client, t, body, CSV)

    assert r.status_code == 200
    assert r.json()["accepted"] == 2 and r.json()["inserted"] == 2
    assert brief(r.json()["errors"]) == [{"line": 5, "reason": "channel must be one of CHAT, EMAIL, SMS, SOCIAL, VOICE;"
                                                      " got 'FAX'"}]
    ids = await owner.fetch("select external_id from steward.conversations where org_id = $1 order by 1", t.org_id)
    assert [r["external_id"] for r in ids] == ["csv,1", "csv-2"]


async def test_csv_header_lacking_a_column_is_refused(client, owner):
    t = await tenant(owner)
    r = await post(client, t, b"externalId,deploymentKey,topic\nx,y,z\n", CSV)
    assert r.status_code == 400
    assert "startedAt" in r.json()["error"]


# --- idempotency --------------------------------------------------------------------------------


async def test_same_file_twice_then_100_changed_outcomes(client, owner):
    t = await tenant(owner)
    rows = many(10_000, t.deployment_key)
    body = ndjson(rows)

    first = await post(client, t, body)
    second = await post(client, t, body)

    assert first.status_code == second.status_code == 200
    assert first.json() | {"errors": []} == {"accepted": 10_000, "inserted": 10_000, "updated": 0, "unchanged": 0,
                                             "rejected": 0, "errors": []}
    assert second.json()["inserted"] == 0 and second.json()["updated"] == 0
    assert second.json()["unchanged"] == 10_000
    assert await count(owner, t.org_id) == 10_000

    changed = many(10_000, t.deployment_key, outcome=lambda i: "ESCALATED" if i % 100 == 7 else "AI_RESOLVED")
    csv_body = "externalId,deploymentKey,topic,channel,startedAt,aiEngaged,outcome,resolvedAt,reopenedAt\n" + "".join(
        f"{r['externalId']},{r['deploymentKey']},{r['topic']},{r['channel']},{r['startedAt']},"
        f"{str(r['aiEngaged']).lower()},{r['outcome']},{r.get('resolvedAt', '')},\n" for r in changed)
    third = await post(client, t, csv_body.encode(), CSV)

    assert third.json() == {"accepted": 10_000, "inserted": 0, "updated": 100, "unchanged": 9_900, "rejected": 0,
                            "errors": []}
    assert await count(owner, t.org_id) == 10_000
    escalated = await owner.fetchval(
        "select count(*) from steward.conversations where org_id = $1 and outcome = 'ESCALATED'", t.org_id)
    assert escalated == 100
    assert await Factory(owner).rollup_mismatches() == []


async def test_duplicate_external_id_in_one_request_last_wins_and_is_reported(client, owner):
    t = await tenant(owner)
    body = ndjson([row("d-1", t.deployment_key, outcome="OPEN", resolvedAt=None),
                   row("d-2", t.deployment_key),
                   row("d-1", t.deployment_key, outcome="ESCALATED")])

    r = await post(client, t, body)
    atomic = await post(client, await tenant(owner), body.replace(t.deployment_key.encode(), b"x"), query="?atomic=true")

    assert r.json() == {"accepted": 2, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 1,
                        "errors": [{"line": 1, "code": "DUPLICATE_EXTERNAL_ID",
                                    "reason": "duplicate externalId: superseded by line 3"}]}
    assert await owner.fetchval("select outcome from steward.conversations where org_id = $1 and external_id = 'd-1'",
                                t.org_id) == "ESCALATED"
    assert atomic.status_code == 422


async def test_atomic_duplicates_write_nothing(client, owner):
    t = await tenant(owner)
    body = ndjson([row("d-1", t.deployment_key), row("d-1", t.deployment_key, outcome="ESCALATED")])

    r = await post(client, t, body, query="?atomic=true")

    assert r.status_code == 422
    assert brief(r.json()["errors"]) == [{"line": 1, "reason": "duplicate externalId: superseded by line 2"}]
    assert await count(owner, t.org_id) == 0
    assert await owner.fetchval("select count(*) from steward.topics where org_id = $1", t.org_id) == 0


async def test_concurrent_requests_for_the_same_conversations_never_duplicate(client, owner):
    t = await tenant(owner)
    open_rows = ndjson(many(2000, t.deployment_key, outcome=lambda i: "OPEN"))
    resolved_rows = ndjson(many(2000, t.deployment_key))

    first, second = await asyncio.gather(post(client, t, open_rows), post(client, t, resolved_rows))

    assert first.status_code == second.status_code == 200
    assert first.json()["inserted"] + second.json()["inserted"] == 2000
    assert await count(owner, t.org_id) == 2000
    assert await Factory(owner).rollup_mismatches() == []


# --- partial failure ----------------------------------------------------------------------------


async def test_three_bad_rows_are_reported_and_the_rest_ingested(client, owner):
    t = await tenant(owner)
    rows = [json.dumps(r) for r in many(50, t.deployment_key)]
    rows[9] = json.dumps(row("bad-1", t.deployment_key, startedAt="2026-03-02T10:00:00"))  # line 10: naive
    rows[19] = json.dumps(row("bad-2", t.deployment_key, resolvedAt="2026-03-02T09:00:00Z"))  # line 20
    rows[39] = '{"externalId": "bad-3", "deploymentKey": '  # line 40: truncated JSON
    body = ("\n".join(rows) + "\n").encode()

    partial = await post(client, t, body)

    assert partial.status_code == 200
    result = partial.json()
    assert (result["accepted"], result["inserted"], result["rejected"]) == (47, 47, 3)
    assert [e["line"] for e in result["errors"]] == [10, 20, 40]
    assert "naive" in result["errors"][0]["reason"]
    assert result["errors"][1]["reason"] == "resolvedAt is before startedAt"
    assert result["errors"][2]["reason"].startswith("invalid JSON")
    assert await count(owner, t.org_id) == 47


async def test_atomic_request_with_bad_rows_writes_nothing(client, owner):
    t = await tenant(owner)
    rows = many(50, t.deployment_key, prefix="atomic")
    rows[4]["channel"] = "PIGEON"
    rows[30]["topic"] = "Not A Key"
    rows[49]["deploymentKey"] = "someone-elses"

    r = await post(client, t, ndjson(rows), query="?atomic=true")

    assert r.status_code == 422
    assert r.json()["accepted"] == 0 and r.json()["rejected"] == 3
    assert [e["line"] for e in r.json()["errors"]] == [5, 31, 50]
    assert "nothing was written" in r.json()["message"]
    assert await count(owner, t.org_id) == 0
    assert await owner.fetchval("select count(*) from steward.topics where org_id = $1", t.org_id) == 0


# --- crash safety -------------------------------------------------------------------------------


async def test_body_stream_failing_midway_merges_nothing(client, owner):
    t = await tenant(owner)
    lines = ndjson(many(3000, t.deployment_key)).splitlines(keepends=True)

    async def body():
        for i in range(0, 2000, 100):
            yield b"".join(lines[i:i + 100])
            await asyncio.sleep(0)
        raise ConnectionResetError("client went away")

    try:
        r = await client.post("/ingest/conversations", content=body(), headers={**t.auth, **NDJSON})
        assert r.status_code >= 400
    except ConnectionResetError:
        pass
    assert await count(owner, t.org_id) == 0


async def test_client_disconnect_midway_merges_nothing(app, owner):
    t = await tenant(owner)
    chunks = [ndjson(many(500, t.deployment_key, prefix=f"part{i}")) for i in range(3)]
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.disconnect"})
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/ingest/conversations", "raw_path": b"/ingest/conversations", "query_string": b"",
             "root_path": "", "server": ("steward", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"authorization", t.auth["authorization"].encode()),
                         (b"content-type", b"application/x-ndjson")]}

    await app(scope, receive, send)

    assert sent[0]["status"] == 400
    assert await count(owner, t.org_id) == 0


async def test_database_connection_dropped_midway_merges_nothing(client, owner, module_db_url):
    t = await tenant(owner)
    # The body is spooled before the ingest takes a connection, so the connection is cut
    # after COPY: the merge waits on a lock held here, and its backend is terminated.
    blocker = await db.connect(module_db_url)
    lock = blocker.transaction()
    await lock.start()
    await blocker.execute("lock table steward.conversations in share mode")
    request = asyncio.create_task(client.post("/ingest/conversations", content=ndjson(many(2000, t.deployment_key)),
                                              headers={**t.auth, **NDJSON}))
    try:
        for _ in range(200):
            killed = await owner.fetchval(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = current_database()"
                " and wait_event_type = 'Lock' and query like '%steward_ingest_rows%'")
            if killed:
                break
            await asyncio.sleep(0.05)
        assert killed == 1
    finally:
        await lock.rollback()
        await blocker.close()
    r = await request

    assert r.status_code == 503  # the connection went away: retryable, not a bug
    assert "stack" not in r.text and "Traceback" not in r.text
    assert await count(owner, t.org_id) == 0


async def test_core_ingest_inside_org_transaction_rolls_back_on_stream_error(module_db_url, owner):
    t = await tenant(owner)
    body = ndjson(many(100, t.deployment_key))

    async def chunks():
        yield body[: len(body) // 2]
        raise RuntimeError("disk unplugged")

    pool = await db.create_pool(SETTINGS, module_db_url)
    try:
        with pytest.raises(RuntimeError, match="disk unplugged"):
            async with db.org_transaction(pool, t.org_id, 60_000) as conn:
                await ingest.ingest(conn, t.org_id, chunks(), "ndjson")
    finally:
        await pool.close()
    assert await count(owner, t.org_id) == 0


# --- tenancy ------------------------------------------------------------------------------------


async def test_token_of_org_a_cannot_write_to_org_b(client, owner):
    a, b = await tenant(owner), await tenant(owner)
    await post(client, b, ndjson([row("shared-1", b.deployment_key, outcome="ESCALATED", resolvedAt=None)]))
    before = await owner.fetch("select * from steward.conversations where org_id = $1 order by id", b.org_id)

    r = await post(client, a, ndjson([
        row("x-1", b.deployment_key),
        {**row("x-2", a.deployment_key), "deploymentKey": None, "deploymentId": b.deployment_id},
        {**row("x-3", a.deployment_key), "deploymentKey": None, "deploymentId": str(b.deployment_id)},
        row("shared-1", a.deployment_key),  # same external id as B's: A's own conversation
    ]))

    assert r.status_code == 200
    assert [e["line"] for e in r.json()["errors"]] == [1, 2, 3]
    assert all(e["reason"].startswith("unknown deployment") for e in r.json()["errors"])
    assert r.json()["inserted"] == 1
    after = await owner.fetch("select * from steward.conversations where org_id = $1 order by id", b.org_id)
    assert after == before
    mine = await owner.fetchrow("select * from steward.conversations where external_id = 'shared-1' and org_id = $1",
                                a.org_id)
    assert mine["deployment_id"] == a.deployment_id


# --- metrics see the new data -------------------------------------------------------------------


async def test_arr_changes_right_after_ingest(client, owner):
    t = await tenant(owner)
    factory = Factory(owner)
    topic = await factory.topic(t.org_id, key="returns")
    await factory.workflow(t.org_id, t.deployment_id, topic, channels=("CHAT",))

    def batch(last_outcome: str) -> bytes:
        return ndjson([
            row("m-1", t.deployment_key, topic="returns", startedAt=at("2026-03-02", 10).isoformat(),
                resolvedAt=at("2026-03-02", 10.1).isoformat()),
            row("m-2", t.deployment_key, topic="returns", startedAt=at("2026-03-03", 10).isoformat(),
                resolvedAt=at("2026-03-03", 10.1).isoformat(), reopenedAt=at("2026-03-03", 12).isoformat()),
            row("m-3", t.deployment_key, topic="returns", startedAt=at("2026-03-04", 10).isoformat(),
                resolvedAt=at("2026-03-04", 10.1).isoformat()),
            row("m-4", t.deployment_key, topic="returns", startedAt=at("2026-03-05", 10).isoformat(),
                outcome=last_outcome, resolvedAt=at("2026-03-05", 10.5).isoformat()),
            # EMAIL is not covered by the workflow: a conversation, not addressable
            row("m-5", t.deployment_key, topic="returns", channel="EMAIL", startedAt=at("2026-03-05", 11).isoformat(),
                resolvedAt=at("2026-03-05", 11.5).isoformat()),
        ])

    async def window():
        return await owner.fetchrow("select * from metrics.deployment_window(array[$1::bigint], $2, $3)",
                                    t.deployment_id, date(2026, 3, 1), date(2026, 3, 8))

    assert (await window())["conversations"] == 0
    ingested = await post(client, t, batch("ESCALATED"))
    first = await window()
    changed = await post(client, t, batch("AI_RESOLVED"))
    second = await window()

    assert ingested.json()["inserted"] == 5 and changed.json()["updated"] == 1

    assert (first["conversations"], first["addressable"], first["ai_resolved"], first["escalated"]) == (5, 4, 2, 1)
    assert first["addressable_resolution_rate"] == 2 / 4
    assert second["addressable_resolution_rate"] == 3 / 4
    assert second["escalated"] == 0


# --- auth, content type and limits --------------------------------------------------------------


async def test_missing_bad_and_revoked_tokens_get_401(client, owner):
    t = await tenant(owner)
    token_id = await owner.fetchval("select id from steward.api_tokens where org_id = $1", t.org_id)
    await revoke_token(owner, token_id)
    body = ndjson([row("a-1", t.deployment_key)])

    missing = await client.post("/ingest/conversations", content=body, headers=NDJSON)
    bad = await client.post("/ingest/conversations", content=body, headers={"authorization": "Bearer stw_nope", **NDJSON})
    revoked = await post(client, t, body)

    assert [missing.status_code, bad.status_code, revoked.status_code] == [401, 401, 401]
    assert all("error" in r.json() for r in (missing, bad, revoked))
    assert await count(owner, t.org_id) == 0


async def test_token_without_write_activity_gets_403(client, owner):
    t = await tenant(owner, scopes=("read", "write:owners"))
    r = await post(client, t, ndjson([row("a-1", t.deployment_key)]))
    assert r.status_code == 403
    assert "write:activity" in r.json()["error"]


async def test_admin_token_may_ingest(client, owner):
    t = await tenant(owner, scopes=("admin",))
    r = await post(client, t, ndjson([row("a-1", t.deployment_key)]))
    assert r.status_code == 200 and r.json()["inserted"] == 1


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "", "text/csv; charset=latin-1"])
async def test_other_content_types_get_415(client, owner, content_type):
    t = await tenant(owner)
    r = await post(client, t, ndjson([row("a-1", t.deployment_key)]), {"content-type": content_type})
    assert r.status_code == 415


async def test_body_over_the_limit_gets_413_and_writes_nothing(module_db_url, owner):
    t = await tenant(owner)
    small = create_app(replace(SETTINGS, max_ingest_bytes=5_000), module_db_url)
    rows = ndjson(many(200, t.deployment_key))
    assert len(rows) > 5_000

    async def streamed():  # chunked: no Content-Length to refuse up front
        for i in range(0, len(rows), 1000):
            yield rows[i:i + 1000]

    async with small.router.lifespan_context(small):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(small), base_url="http://steward") as http:
            declared = await http.post("/ingest/conversations", content=rows, headers={**t.auth, **NDJSON})
            counted = await http.post("/ingest/conversations", content=streamed(), headers={**t.auth, **NDJSON})

    assert declared.status_code == counted.status_code == 413
    assert "5000 bytes" in counted.json()["error"]
    assert await count(owner, t.org_id) == 0


async def test_concurrent_ingests_per_token_are_bounded(module_db_url, owner):
    t = await tenant(owner)
    one = create_app(replace(SETTINGS, ingest_concurrency=1), module_db_url)
    release = asyncio.Event()

    async def slow():
        yield ndjson([row("s-1", t.deployment_key)])
        await release.wait()

    async with one.router.lifespan_context(one):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(one), base_url="http://steward") as http:
            first = asyncio.create_task(http.post("/ingest/conversations", content=slow(), headers={**t.auth, **NDJSON}))
            await asyncio.sleep(0.3)
            second = await http.post("/ingest/conversations", content=b"", headers={**t.auth, **NDJSON})
            release.set()
            first = await first

    assert second.status_code == 429
    assert second.headers["retry-after"] == second.headers["ratelimit-reset"] == "5"
    assert second.headers["ratelimit-limit"] == "1" and second.headers["ratelimit-remaining"] == "0"
    assert first.status_code == 200 and first.json()["inserted"] == 1


async def test_ingest_transactions_take_a_capped_share_of_the_pool(module_db_url, owner):
    """pool_max 3: one ingest transaction at a time, so GraphQL and /readyz keep two connections."""
    a, b = await tenant(owner), await tenant(owner)
    _, reader = await create_token(owner, a.slug, ["read"], "reader")
    small = create_app(replace(SETTINGS, pool_max=3, request_timeout_s=30), module_db_url)
    blocker = await db.connect(module_db_url)
    lock = blocker.transaction()
    await lock.start()
    await blocker.execute("lock table steward.conversations in share mode")  # each merge waits here
    try:
        async with small.router.lifespan_context(small):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(small), base_url="http://steward") as http:
                ingests = [asyncio.create_task(post(http, t, ndjson(many(50, t.deployment_key)))) for t in (a, b)]
                await asyncio.sleep(1.0)
                held = await owner.fetchval(
                    "select count(*) from pg_stat_activity where datname = current_database()"
                    " and state <> 'idle' and pid not in (pg_backend_pid(), $1)", blocker.get_server_pid())
                reads = [await http.post("/graphql", json={"query": "{ deployments { totalCount } }"},
                                         headers={"authorization": f"Bearer {reader}"}) for _ in range(10)]
                ready = await http.get("/readyz")
                await lock.rollback()
                done = await asyncio.gather(*ingests)
    finally:
        await blocker.close()

    assert held == 1  # the second ingest waits for the slot, not on a connection
    assert [r.status_code for r in reads] == [200] * 10
    assert ready.status_code == 200
    assert [r.status_code for r in done] == [200, 200] and [r.json()["inserted"] for r in done] == [50, 50]


# --- row validation (no database) ---------------------------------------------------------------


def _parse(lines: list[str], fmt: str = "ndjson") -> ingest.Parser:
    validator = ingest.RowValidator([(7, "bot"), (8, "other")], ["returns"])
    parser = ingest.parser_for(fmt, validator, 100)
    text = "".join(line + "\n" for line in lines).encode()
    # feed in awkward pieces: boundaries inside lines and inside multi-byte characters
    for i in range(0, len(text), 7):
        parser.feed(text[i:i + 7])
    parser.finish()
    return parser


@pytest.mark.parametrize("fields, reason", [
    ({"startedAt": "2026-03-02 10:00"}, "startedAt has no UTC offset"),
    ({"startedAt": "yesterday"}, "startedAt is not an ISO 8601 timestamp"),
    ({"startedAt": 1700000000}, "startedAt must be an ISO 8601 timestamp string"),
    ({"startedAt": None}, "missing startedAt"),
    ({"resolvedAt": "2026-03-02T09:59:59Z"}, "resolvedAt is before startedAt"),
    ({"reopenedAt": "2026-03-02T10:03:00Z"}, "reopenedAt is before resolvedAt"),
    ({"resolvedAt": None, "outcome": "OPEN", "reopenedAt": "2026-03-02T09:00:00Z"}, "reopenedAt is before startedAt"),
    ({"outcome": "SOLVED"}, "outcome must be one of"),
    ({"channel": "chat"}, "channel must be one of"),
    ({"aiEngaged": "maybe"}, "aiEngaged must be true or false"),
    ({"aiEngaged": None}, "missing aiEngaged"),
    ({"topic": "Returns"}, "topic must be a key"),
    ({"topic": None}, "missing topic"),
    ({"externalId": "x" * 201}, "externalId is longer than 200"),
    ({"externalId": "a\u0000b"}, "externalId contains control"),
    ({"externalId": None}, "missing externalId"),
    ({"deploymentKey": None}, "missing deploymentKey or deploymentId"),
    ({"deploymentKey": "ghost"}, "unknown deployment 'ghost'"),
    ({"deploymentKey": None, "deploymentId": 99}, "unknown deployment id '99'"),
    ({"deploymentKey": None, "deploymentId": True}, "unknown deployment id"),
    ({"deploymentId": 8}, "deploymentKey and deploymentId name different deployments"),
    ({"startedAt": "0001-01-01T00:00:00+14:00"}, "startedAt is out of range"),
])
def test_row_rejections_name_the_reason(fields, reason):
    good = row("v-1", "bot")
    bad = {**good, **fields}
    bad = {k: v for k, v in bad.items() if v is not None}

    parser = _parse([json.dumps(good), json.dumps(bad), json.dumps(good | {"externalId": "v-2"})])

    assert parser.accepted == 2
    assert len(parser.errors) == 1
    line, message = parser.errors[0].line, parser.errors[0].reason
    assert line == 2 and message.startswith(reason), message


def test_accepted_variants():
    parser = _parse([
        json.dumps(row("v-1", "bot", startedAt="2026-03-02T10:00:00.123456+05:30", resolvedAt="2026-03-02T05:00Z")),
        json.dumps(row("v-2", None, deploymentId="7", aiEngaged="false", externalId=12345)) + "\r",
        "   ",
        json.dumps({**row("v-3", "bot"), "extra": [1, 2]}),
    ])
    assert parser.errors == [] and parser.accepted == 3
    assert parser.validator.new_topics == {"order-status"}


def test_not_objects_and_garbage_are_rejected_without_stopping():
    parser = _parse(["[1, 2]", "null", '"text"', "{", json.dumps(row("v-1", "bot")), '{"externalId": []}',
                     "\xff\xfe"])
    assert parser.accepted == 1
    assert [(e.line, e.code) for e in parser.errors] == [
        (1, "NOT_AN_OBJECT"), (2, "NOT_AN_OBJECT"), (3, "NOT_AN_OBJECT"), (4, "INVALID_JSON"), (6, "INVALID_FIELDS"),
        (7, "INVALID_JSON")]


def test_invalid_utf8_line_is_rejected_alone():
    validator = ingest.RowValidator([(7, "bot")], [])
    parser = ingest.parser_for("ndjson", validator, 100)
    body = ndjson([row("u-1", "bot")]) + b'{"externalId": "\xff"}\n' + ndjson([row("u-2", "bot")])
    rows = parser.feed(body) + parser.finish()
    assert [r[1] for r in rows] == ["u-1", "u-2"]
    assert parser.errors == [ingest.Problem(2, "NOT_UTF8", "line is not valid UTF-8")]


def test_csv_line_numbers_count_physical_lines_of_quoted_fields():
    header = "externalId,deploymentKey,topic,channel,startedAt,aiEngaged,outcome,resolvedAt,reopenedAt"
    lines = [
        header,
        "c-1,bot,returns,CHAT,2026-03-02T10:00:00Z,true,AI_RESOLVED,,",
        '"c-\n2",bot,returns,CHAT,2026-03-02T10:00:00Z,true,AI_RESOLVED,,',  # lines 3-4
        "c-3,bot,returns,CHAT,2026-03-02T10:00:00Z,nope,AI_RESOLVED,,",  # line 5
        "c-4,bot,returns,CHAT,2026-03-02T10:00:00Z,true",  # line 6: short
    ]
    parser = _parse(lines, "csv")
    assert [e.line for e in parser.errors] == [3, 5, 6]
    assert parser.errors[0].reason.startswith("externalId contains control")
    assert parser.accepted == 1


def test_an_over_long_line_is_rejected_without_buffering_it():
    validator = ingest.RowValidator([(7, "bot")], [])
    parser = ingest.parser_for("ndjson", validator, 100)
    good = ndjson([row("g-1", "bot")])
    long_line = b'{"externalId": "' + b"x" * (2 * ingest.MAX_LINE_BYTES) + b'"}\n'
    body = good + good + long_line + good.replace(b"g-1", b"g-2")
    rows = []
    for i in range(0, len(body), 65536):
        rows += parser.feed(body[i:i + 65536])
        assert len(parser._pending) <= ingest.MAX_LINE_BYTES + 65536
    rows += parser.finish()
    assert [r[0] for r in rows] == [1, 2, 4]
    assert parser.errors == [ingest.Problem(3, "LINE_TOO_LONG", f"line longer than {ingest.MAX_LINE_BYTES} bytes")]


def test_errors_are_capped_but_all_counted():
    validator = ingest.RowValidator([(7, "bot")], [])
    parser = ingest.parser_for("ndjson", validator, 5)
    parser.feed(b"x\n" * 50)
    parser.finish()
    assert parser.rejected == 50 and len(parser.errors) == 5


# --- the CLI ------------------------------------------------------------------------------------


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "service.ingest.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_cli_import_end_to_end(module_db_url, owner, tmp_path):
    t = await tenant(owner)
    path = tmp_path / "conversations.csv"
    rows = many(300, t.deployment_key, prefix="cli")
    path.write_text("externalId,deploymentKey,topic,channel,startedAt,aiEngaged,outcome,resolvedAt\n" + "".join(
        f"{r['externalId']},{r['deploymentKey']},{r['topic']},{r['channel']},{r['startedAt']},"
        f"{str(r['aiEngaged']).lower()},{r['outcome']},{r.get('resolvedAt', '')}\n" for r in rows)
        + f"bad,{t.deployment_key},returns,CHAT,not-a-time,true,OPEN,\n")

    first = await asyncio.to_thread(run_cli, module_db_url, str(path), "--org", t.slug)
    again = await asyncio.to_thread(run_cli, module_db_url, str(path), "--org", t.slug, "--atomic")

    assert first.returncode == 1, first.stderr  # some rows rejected
    summary = json.loads(first.stdout)
    assert (summary["accepted"], summary["inserted"], summary["rejected"]) == (300, 300, 1)
    assert brief(summary["errors"]) == [{"line": 302, "reason": "startedAt is not an ISO 8601 timestamp: 'not-a-time'"}]
    assert "rows/s" in first.stderr
    assert again.returncode == 1 and json.loads(again.stdout)["accepted"] == 0
    assert await count(owner, t.org_id) == 300


async def test_cli_needs_org_when_there_are_several(module_db_url, owner, tmp_path):
    await tenant(owner)
    await tenant(owner)
    path = tmp_path / "c.ndjson"
    path.write_bytes(ndjson([row("x", "y")]))

    result = await asyncio.to_thread(run_cli, module_db_url, str(path))

    assert result.returncode == 2
    assert "--org" in result.stderr


async def test_cli_uses_the_only_org(fresh_db_url, tmp_path):
    conn = await db.connect(fresh_db_url)
    try:
        org = await Factory(conn).org("solo")
        await Factory(conn).deployment(org, key="bot")
    finally:
        await conn.close()
    path = tmp_path / "c.ndjson"
    path.write_bytes(ndjson([row("x-1", "bot"), row("x-2", "bot")]))

    result = await asyncio.to_thread(run_cli, fresh_db_url, str(path))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 2


def test_a_rejected_row_lists_every_field_at_fault_with_codes():
    bad = row("v-1", "ghost") | {"channel": "FAX", "startedAt": "1900-01-01T00:00:00Z", "aiEngaged": None,
                                 "resolvedAt": "not-a-time"}
    parser = _parse([json.dumps({k: v for k, v in bad.items() if v is not None})])

    assert parser.accepted == 0 and parser.rejected == 1
    problem = parser.errors[0]
    assert (problem.line, problem.code) == (1, "INVALID_FIELDS")
    assert [(f.field, f.code) for f in problem.fields] == [
        ("deploymentKey", "UNKNOWN"), ("channel", "INVALID"), ("startedAt", "OUT_OF_RANGE"),
        ("aiEngaged", "MISSING"), ("resolvedAt", "INVALID")]
    assert problem.as_json()["fields"][0] == {"field": "deploymentKey", "code": "UNKNOWN",
                                              "reason": "unknown deployment 'ghost'"}
    assert problem.reason.split("; ")[0] == "unknown deployment 'ghost'"


def test_looking_for_every_fault_creates_no_topic():
    parser = _parse([json.dumps(row("v-1", "bot") | {"topic": "brand-new", "channel": "FAX"})])
    assert parser.rejected == 1 and [f.field for f in parser.errors[0].fields] == ["channel"]
    assert "brand-new" not in parser.validator.topics and parser.validator.new_topics == set()


# --- health events ------------------------------------------------------------------------------


async def test_ingest_records_the_health_of_the_deployments_it_wrote_in_its_transaction(client, owner):
    t = await tenant(owner)
    events = "select cause, request_id, status_before from steward.health_events where deployment_id = $1"

    rejected = await post(client, t, ndjson([row("h-1", t.deployment_key), {"externalId": "bad"}]),
                          query="?atomic=true")
    first = await post(client, t, ndjson([row("h-1", t.deployment_key)]))
    again = await post(client, t, ndjson([row("h-1", t.deployment_key)]))  # unchanged: nothing written

    assert (rejected.status_code, first.status_code, again.status_code) == (422, 200, 200)
    recorded = await owner.fetch(events, t.deployment_id)
    # its first evaluation: a baseline, caused by this write, named by its request id
    assert [tuple(r) for r in recorded] == [("WRITE", first.headers["x-request-id"], None)]


async def test_mixed_ingest_leaves_rollups_equal_to_a_full_recompute(client, owner):
    """Fresh, updated and unchanged rows over several days and two deployments: the deltas the rollup
    triggers add equal what internals.refresh_conversation_daily recomputes from every conversation."""
    t = await tenant(owner)
    factory = Factory(owner)
    other_key = f"bot-{uuid.uuid4().hex[:6]}"
    other = await factory.deployment(t.org_id, key=other_key, channels=("CHAT", "EMAIL"))
    returns = await factory.topic(t.org_id, key="returns")
    # covered from 2026-02-03 on CHAT only (before it, and on EMAIL, nothing is addressable); the other
    # deployment through two workflows whose periods overlap
    await factory.workflow(t.org_id, t.deployment_id, returns, start=datetime(2026, 2, 3, tzinfo=UTC))
    await factory.workflow(t.org_id, other, returns, channels=("CHAT", "EMAIL"))
    await factory.workflow(t.org_id, other, returns, channels=("CHAT",), start=datetime(2026, 2, 2, tzinfo=UTC))

    def mixed(i: int, version: int) -> dict:
        started = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(hours=5 * i + (30 if version and i % 9 == 4 else 0))
        outcome = ("AI_RESOLVED", "ESCALATED", "ABANDONED", "OPEN")[(i + (version and i % 5 == 1)) % 4]
        resolved = started + timedelta(minutes=9) if outcome in ("AI_RESOLVED", "ESCALATED") else None
        reopened = resolved + timedelta(hours=3 + 30 * (i % 2)) if resolved and i % 3 == version else None
        return row(f"x-{i:04d}", (t.deployment_key, other_key)[(i + (version and i % 7 == 3)) % 2],
                   topic=("returns", "order-status")[(i // 2 + (version and i % 11 == 6)) % 2],
                   channel=("CHAT", "EMAIL")[i % 3 == 0], startedAt=started.isoformat(), aiEngaged=i % 4 != 0,
                   outcome=outcome, resolvedAt=resolved and resolved.isoformat(),
                   reopenedAt=reopened and reopened.isoformat())

    first = await post(client, t, ndjson([mixed(i, 0) for i in range(300)]))
    # the same 300 with about half changed (outcome, day, deployment, topic, reopen), and 100 fresh
    second = await post(client, t, ndjson([mixed(i, 1) for i in range(400)]))

    async def rollups() -> list[list]:
        daily = await owner.fetch("select * from steward.conversation_daily where org_id = $1"
                                  " order by deployment_id, day", t.org_id)
        per_topic = await owner.fetch("select * from steward.conversation_topic_daily where org_id = $1"
                                      " order by deployment_id, day, topic_id", t.org_id)
        return [[tuple(r) for r in daily], [tuple(r) for r in per_topic]]

    maintained = await rollups()
    async with owner.transaction():
        await owner.execute("select internals.refresh_conversation_daily(array(select id from steward.deployments"
                            " where org_id = $1))", t.org_id)
        recomputed = await rollups()

    assert first.json()["inserted"] == 300
    summary = second.json()
    assert (summary["inserted"], summary["updated"] > 100, summary["unchanged"] > 100) == (100, True, True)
    assert summary["updated"] + summary["unchanged"] == 300
    assert len(maintained[0]) > 20 and len(maintained[1]) > 40
    assert maintained == recomputed
    assert await factory.rollup_mismatches() == []
