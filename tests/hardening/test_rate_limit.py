"""Requests per token (issue 10): a burst over the limit gets 429 with Retry-After and RateLimit-*, and no SQL."""
from __future__ import annotations

import asyncio

import pytest

from service.config import ConfigError, Settings

from ..api.conftest import make_token
from .conftest import codes

QUERY = "{ organizations { slug } }"
NDJSON = {"content-type": "application/x-ndjson"}


async def test_a_burst_over_the_limit_is_refused_without_sql_and_passes_again_after_the_window(apps, world_url):
    api = await apps(Settings(rate_limit="5/2 seconds"))
    token, other = await make_token(world_url, "acme"), await make_token(world_url, "globex")

    allowed = [await api.post(QUERY, token=token) for _ in range(5)]
    before = api.app.state.pool.acquired
    refused = [await api.post(QUERY, token=token) for _ in range(3)]
    acquired_by_refusals = api.app.state.pool.acquired - before
    bystander = await api.post(QUERY, token=other)

    assert [r.status_code for r in allowed] == [200] * 5
    assert [r.headers["ratelimit-remaining"] for r in allowed] == ["4", "3", "2", "1", "0"]
    assert all(r.headers["ratelimit-limit"] == "5" and 1 <= int(r.headers["ratelimit-reset"]) <= 2 for r in allowed)
    assert "retry-after" not in allowed[0].headers
    assert [r.status_code for r in refused] == [429] * 3
    for r in refused:
        assert codes(r.json()) == ["RATE_LIMITED"] and "data" not in r.json()
        assert r.headers["ratelimit-limit"] == "5" and r.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(r.headers["retry-after"]) <= 2 and r.headers["ratelimit-reset"] == r.headers["retry-after"]
    assert acquired_by_refusals == 0  # no connection, so no SQL
    assert bystander.status_code == 200 and bystander.headers["ratelimit-remaining"] == "4"

    await asyncio.sleep(int(refused[-1].headers["retry-after"]) + 0.1)
    again = await api.post(QUERY, token=token)
    assert again.status_code == 200 and again.json() == {"data": {"organizations": [{"slug": "acme"}]}}


async def test_unknown_tokens_are_limited_before_their_lookup(apps):
    api = await apps(Settings(rate_limit="2/minute"))
    answers = [await api.post(QUERY, token="stw_not-a-real-token") for _ in range(3)]
    before = api.app.state.pool.acquired
    assert [r.status_code for r in answers] == [401, 401, 429]
    assert (await api.post(QUERY, token="stw_not-a-real-token")).status_code == 429
    assert api.app.state.pool.acquired == before


async def test_ingest_shares_the_limit_and_answers_429_with_the_headers(apps, world_url):
    api = await apps(Settings(rate_limit="2/minute"))
    token = await make_token(world_url, "acme", "write:activity")
    auth = {"authorization": f"Bearer {token}", **NDJSON}

    answers = [await api.client.post("/ingest/conversations", content=b"", headers=auth) for _ in range(2)]
    before = api.app.state.pool.acquired
    refused = await api.client.post("/ingest/conversations", content=b"", headers=auth)

    assert [r.status_code for r in answers] == [200, 200]
    assert refused.status_code == 429 and "too many requests" in refused.json()["error"]
    assert refused.headers["ratelimit-limit"] == "2" and refused.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert api.app.state.pool.acquired == before


async def test_the_limit_can_be_turned_off(apps, world_url):
    api = await apps(Settings.from_env({"STEWARD_RATE_LIMIT": "off"}))
    token = await make_token(world_url, "acme")
    response = await api.post(QUERY, token=token)
    assert response.status_code == 200 and "ratelimit-limit" not in response.headers


@pytest.mark.parametrize("value", ["lots", "5/minute;1/second", "0/minute", "5/fortnight"])
def test_a_bad_rate_limit_setting_is_refused_at_start(value):
    with pytest.raises(ConfigError, match="STEWARD_RATE_LIMIT"):
        Settings.from_env({"STEWARD_RATE_LIMIT": value})


def test_the_default_limit_is_generous():
    assert Settings.from_env({}).rate_limit == "1200/minute"
