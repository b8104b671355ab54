"""OpenTelemetry: `steward serve` with OTEL_EXPORTER_OTLP_ENDPOINT sends its spans to a real OTLP/HTTP receiver."""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ..live import steward_serve

trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: keeps every span it is sent, with its attributes."""

    def __init__(self):
        self.spans: list[dict] = []
        super().__init__(("127.0.0.1", 0), self.Handler)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            request = trace_service.ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
                        self.server.spans.append({"name": span.name, "trace": span.trace_id.hex(),
                                                  "scope": scope_spans.scope.name, "service": service,
                                                  "attributes": attributes})
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(trace_service.ExportTraceServiceResponse().SerializeToString())

        def log_message(self, *args):
            pass


@pytest.fixture
def collector():
    server = Collector()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_a_request_is_one_trace_of_http_graphql_and_sql_spans_carrying_the_request_id(
        world_url, token, collector, tmp_path):
    endpoint = f"http://127.0.0.1:{collector.server_port}"
    with steward_serve(world_url, tmp_path / "serve.log", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                        OTEL_SERVICE_NAME="steward-test", OTEL_BSP_SCHEDULE_DELAY="100") as base:
        request = urllib.request.Request(
            f"{base}/graphql", data=json.dumps({"query": "query Traced { deployments { totalCount } }"}).encode(),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json",
                     "x-request-id": "trace-me-42"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response) == {"data": {"deployments": {"totalCount": 3}}}
        deadline = time.monotonic() + 10
        while not any(s["attributes"].get("steward.request_id") == "trace-me-42" for s in collector.spans):
            assert time.monotonic() < deadline, collector.spans
            time.sleep(0.1)

    server_span = next(s for s in collector.spans if s["attributes"].get("steward.request_id") == "trace-me-42")
    trace = [s for s in collector.spans if s["trace"] == server_span["trace"]]
    scopes = {s["scope"].split(".")[-1] for s in trace}
    assert {"starlette", "strawberry", "asyncpg"} <= scopes, scopes
    assert any(s["name"] == "GraphQL Query: Traced" for s in trace)
    assert any(s["attributes"].get("db.system") == "postgresql" or s["attributes"].get("db.system.name")
               == "postgresql" for s in trace)
    assert server_span["service"]["service.name"] == "steward-test"
