"""/metrics, request logs, request ids, masked internal errors."""
from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.config import Settings
from service.http.observability import record_ingest
from service.logs import JsonFormatter

from .conftest import codes

PROBE = "query ObservedProbe { deployments { totalCount } }"


async def scrape(api) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def sample(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_the_requests_made(apps, token):
    api = await apps()  # a registry of its own: counts start at zero
    for _ in range(7):
        assert (await api.post(PROBE, token=token)).status_code == 200
    await api.post('query Missing { deployment(key: "nope") { name } }', token=token)
    await api.post("query Refused { a0: __typename " + "".join(f"a{i}: __typename " for i in range(1, 17)) + "}",
                   token=token, headers={"accept": "application/graphql-response+json"})
    record_ingest(api.app, 12)

    samples = await scrape(api)
    assert sample(samples, "steward_graphql_requests_total", operation="ObservedProbe", status="200") == 7
    assert sample(samples, "steward_graphql_request_duration_seconds_count", operation="ObservedProbe") == 7
    assert sample(samples, "steward_graphql_request_duration_seconds_bucket", operation="ObservedProbe",
                  le="+Inf") == 7
    assert sample(samples, "steward_graphql_requests_total", operation="Refused", status="400") == 1
    assert sample(samples, "steward_graphql_errors_total", code="NOT_FOUND") == 1
    assert sample(samples, "steward_graphql_errors_total", code="TOO_MANY_ALIASES") == 1
    assert sample(samples, "steward_http_requests_total", route="/graphql", method="POST", status="200") == 8
    assert sample(samples, "steward_ingest_rows_total") == 12
    in_use = sample(samples, "steward_db_pool_connections", state="in_use")
    idle = sample(samples, "steward_db_pool_connections", state="idle")
    assert in_use == 0 and idle >= 1


async def test_each_app_has_its_own_registry(apps, token):
    first, second = await apps(), await apps()
    await first.post(PROBE, token=token)
    assert sample(await scrape(second), "steward_graphql_requests_total", operation="ObservedProbe",
                  status="200") == 0


async def test_one_json_log_line_per_request_without_the_token(api, token, caplog):
    caplog.set_level(logging.INFO, logger="steward.access")
    response = await api.post(PROBE, token=token, headers={"x-request-id": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    [access] = [r for r in caplog.records if r.name == "steward.access"]
    line = json.loads(JsonFormatter().format(access))
    assert line["request_id"] == "trace-42"
    assert line["operation"] == "ObservedProbe"
    assert line["status"] == 200 and line["method"] == "POST" and line["path"] == "/graphql"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert isinstance(line["token_id"], int)
    assert token not in caplog.text and token[4:] not in json.dumps(line)


@pytest.mark.parametrize("given, echoed", [
    ("abc-123", True), ("a" * 128, True), ("a" * 129, False), ("two words", False), ("<script>", False), ("", False),
])
async def test_request_id_is_echoed_or_generated(api, given, echoed):
    for path in ("/healthz", "/graphql"):
        response = await api.client.get(path, headers={"x-request-id": given})
        if echoed:
            assert response.headers["x-request-id"] == given
        else:
            assert len(response.headers["x-request-id"]) == 32 and response.headers["x-request-id"] != given


async def test_resolver_crash_is_masked_and_logged_with_its_stack(api, token, caplog, monkeypatch):
    from schema.context import Db

    async def broken(self, sql, *args):
        raise RuntimeError("secret detail from the database layer")

    monkeypatch.setattr(Db, "fetch", broken)
    caplog.set_level(logging.INFO)
    response = await api.post("{ organizations { slug } }", token=token, headers={"x-request-id": "crash-1"})
    body = response.json()
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert body["errors"][0]["extensions"]["requestId"] == "crash-1"
    assert body["errors"][0]["message"] == "Internal server error."
    assert "secret" not in response.text and "Traceback" not in response.text
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR and r.name.startswith("steward")]
    line = json.loads(JsonFormatter().format(logged))
    assert line["request_id"] == "crash-1"
    assert "RuntimeError: secret detail" in line["stack"]


async def test_crash_outside_graphql_execution_is_a_masked_json_500(api, token, caplog, monkeypatch):
    from service.http import limits

    def broken(*args, **kwargs):
        raise RuntimeError("bug in a limit")

    monkeypatch.setattr(limits, "check_document", broken)
    response = await api.post(PROBE, token=token, headers={"x-request-id": "crash-2"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "crash-2"
    assert response.json() == {"errors": [{"message": "Internal server error.", "extensions": {
        "code": "INTERNAL_SERVER_ERROR", "requestId": "crash-2"}}]}
    assert any("bug in a limit" in (r.exc_text or "") or (r.exc_info and "bug in a limit" in str(r.exc_info[1]))
               for r in caplog.records)


async def test_metrics_can_ask_for_a_bearer_token(apps):
    api = await apps(Settings(metrics_token="s3cret-scrape"))
    assert (await api.client.get("/metrics")).status_code == 401
    wrong = await api.client.get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    right = await api.client.get("/metrics", headers={"authorization": "Bearer s3cret-scrape"})
    assert right.status_code == 200 and "steward_http_requests_total" in right.text
