"""Prometheus metrics on a registry per app, and one JSON log line per request with its request id."""
from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import logs
from service.http.errors import INTERNAL_ERROR, error_body

log = logging.getLogger("steward.access")

# A caller's X-Request-ID is echoed only if it is short and plain: it lands in logs and headers.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Operation names and error codes come from callers' documents: past this many distinct
# values they are counted as "other", so a hostile client cannot grow the registry forever.
MAX_LABEL_VALUES = 200


@dataclass
class RequestRecord:
    """What one request did, filled in by the handlers, read by the middleware when it ends."""

    request_id: str
    operation: str | None = None  # set by the GraphQL endpoint: the operation name, "anonymous" or "-"
    token_id: int | None = None
    error_codes: list[str] = field(default_factory=list)
    replica: Any = None  # the read replica (service/db/replicas.py) the request's SQL runs on; None: the primary


_current: ContextVar[RequestRecord | None] = ContextVar("steward_request", default=None)


def record() -> RequestRecord:
    """The current request's record (a detached one outside a request, e.g. in schema tests)."""
    return _current.get() or RequestRecord(uuid.uuid4().hex)


class Metrics:
    """The app's collectors, on a registry of their own (never prometheus_client's global one)."""

    def __init__(self, pool: Callable[[], Any], replicas: Callable[[], Any] = lambda: None):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        r.register(ReplicaCollector(replicas))
        self.http_requests = Counter("steward_http_requests", "HTTP requests by route, method and status.",
                                     ["route", "method", "status"], registry=r)
        self.graphql_requests = Counter("steward_graphql_requests", "GraphQL requests by operation name and status.",
                                        ["operation", "status"], registry=r)
        self.graphql_duration = Histogram("steward_graphql_request_duration_seconds",
                                          "GraphQL request latency by operation name.", ["operation"], registry=r)
        self.graphql_errors = Counter("steward_graphql_errors", "GraphQL errors by extensions.code.", ["code"],
                                      registry=r)
        self.subscriptions = Gauge("steward_graphql_subscriptions", "Open GraphQL subscriptions in this process.",
                                   registry=r)
        self.ingest_rows = Counter("steward_ingest_rows", "Conversation rows ingested.", registry=r)
        connections = Gauge("steward_db_pool_connections", "Pooled database connections by state.", ["state"],
                            registry=r)
        connections.labels("in_use").set_function(lambda: _pool_sizes(pool())[0])
        connections.labels("idle").set_function(lambda: _pool_sizes(pool())[1])
        self._seen: dict[str, set[str]] = {"operation": set(), "code": set()}

    def label(self, kind: str, value: str) -> str:
        seen = self._seen[kind]
        if value in seen:
            return value
        if len(seen) >= MAX_LABEL_VALUES:
            return "other"
        seen.add(value)
        return value

    def observe(self, route: str, method: str, status: int, seconds: float, rec: RequestRecord) -> None:
        self.http_requests.labels(route, method, str(status)).inc()
        if rec.operation is not None:
            operation = self.label("operation", rec.operation)
            self.graphql_requests.labels(operation, str(status)).inc()
            self.graphql_duration.labels(operation).observe(seconds)
        for code in rec.error_codes:
            self.graphql_errors.labels(self.label("code", code)).inc()


class ReplicaCollector:
    """Each read replica's state, read from the app's ReplicaSet at scrape time, and where reads ran."""

    def __init__(self, replicas: Callable[[], Any]):
        self.replicas = replicas

    def describe(self) -> list:
        return []  # families depend on the configured replicas: collected at scrape time only

    def collect(self) -> Iterator[Metric]:
        replica_set = self.replicas()
        up = GaugeMetricFamily("steward_replica_up", "1 when the replica answered its last check as a standby.",
                               labels=["replica"])
        usable = GaugeMetricFamily("steward_replica_usable", "1 when the replica serves reads (up, lag within "
                                   "STEWARD_REPLICA_MAX_LAG_MS, or the primary unreachable).", labels=["replica"])
        lag = GaugeMetricFamily("steward_replica_lag_ms", "The replica's replay lag at its last check "
                                "(NaN when unknown: down, or the primary unreachable).", labels=["replica"])
        reads = CounterMetricFamily("steward_replica_reads", "Reads (GraphQL queries) served by the replica.",
                                    labels=["replica"])
        primary_reads = CounterMetricFamily("steward_primary_reads", "Reads served by the primary, by why no "
                                            "replica served them.", labels=["reason"])
        primary_up = GaugeMetricFamily("steward_primary_up", "1 when the primary answered its last check "
                                       "(measured only with replicas configured).")
        if replica_set is not None:
            if replica_set.replicas:
                primary_up.add_metric([], 1 if replica_set.primary_up else 0)
            for replica in replica_set.replicas:
                up.add_metric([replica.name], 1 if replica.state in ("up", "lagging") else 0)
                usable.add_metric([replica.name], 1 if replica.usable else 0)
                lag.add_metric([replica.name], math.nan if replica.lag_ms is None else replica.lag_ms)
                reads.add_metric([replica.name], replica.reads)
            for reason, count in sorted(replica_set.primary_reads.items()):
                primary_reads.add_metric([reason], count)
        yield from (primary_up, up, usable, lag, reads, primary_reads)


def _pool_sizes(pool: Any) -> tuple[int, int]:
    """(in use, idle) connections of an asyncpg pool; zeros before the lifespan opened it."""
    if pool is None:
        return 0, 0
    size, idle = pool.get_size(), pool.get_idle_size()
    return size - idle, idle


def record_ingest(app: Any, rows: int) -> None:
    """Count `rows` ingested conversation rows on `app`'s /metrics."""
    metrics = getattr(app.state, "metrics", None)
    if metrics is not None and rows > 0:
        metrics.ingest_rows.inc(rows)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text exposition of this app's registry; behind a bearer token when one is configured."""
    expected = request.app.state.settings.metrics_token
    if expected is not None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return Response("send `Authorization: Bearer <STEWARD_METRICS_TOKEN>`\n", status_code=401,
                            media_type="text/plain", headers={"www-authenticate": "Bearer"})
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class RequestMiddleware:
    """Request id in and out, one JSON log line and the metrics of every HTTP request; masks crashes."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = Headers(scope=scope).get("x-request-id", "")
        rec = RequestRecord(given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex)
        tokens = _current.set(rec), logs.request_id.set(rec.request_id)
        status, response_started = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                MutableHeaders(scope=message)["x-request-id"] = rec.request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            status = 500
            rec.error_codes.append("INTERNAL_SERVER_ERROR")
            if not response_started:
                await _internal_error(send_with_id, rec.request_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(route, scope["method"], status, seconds, rec)
            log.info("%s %s %s", scope["method"], scope["path"], status, extra={"fields": {
                "request_id": rec.request_id, "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round(seconds * 1000, 2), "operation": rec.operation, "token_id": rec.token_id,
                "replica": getattr(rec.replica, "name", None),
                "errors": rec.error_codes or None,
            }})
            _current.reset(tokens[0])
            logs.request_id.reset(tokens[1])


async def _internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(error_body(INTERNAL_ERROR, "INTERNAL_SERVER_ERROR", requestId=request_id)).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
