"""Optional OpenTelemetry traces over OTLP/HTTP: Starlette, asyncpg and Strawberry spans, with the request id.

On when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (the SDK's own
variables: OTEL_SERVICE_NAME, OTEL_BSP_*, headers… apply) and the `otel` extra is installed.
Off, nothing is imported and no hook runs: tracing costs nothing unless asked for.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import strawberry
from starlette.applications import Starlette

log = logging.getLogger("steward.tracing")


def enabled(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ if env is None else env)
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def instrument(app: Starlette, schema_factory: Any) -> strawberry.Schema:
    """Trace `app` (HTTP server spans), asyncpg (one span per statement) and GraphQL; the traced schema."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.starlette import StarletteInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from strawberry.extensions.tracing import OpenTelemetryExtension
    except ImportError as exc:
        raise RuntimeError("OTEL_EXPORTER_OTLP_ENDPOINT is set but the tracing packages are missing: "
                           "pip install 'steward[otel]'") from exc

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                       "steward")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    StarletteInstrumentor.instrument_app(app, tracer_provider=provider, server_request_hook=_keep_server_span,
                                         client_response_hook=_request_id)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    app.state.tracer_provider = provider
    log.info("tracing to %s", os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
             or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    return schema_factory([lambda: OpenTelemetryExtension(tracer_provider=provider)])


_SERVER_SPAN = "steward.server_span"


def _keep_server_span(span: Any, scope: dict) -> None:
    scope[_SERVER_SPAN] = span


def _request_id(span: Any, scope: dict, message: dict) -> None:
    """Put the request id our middleware answered with (X-Request-ID) on the HTTP server span."""
    server_span = scope.get(_SERVER_SPAN)
    if message.get("type") == "http.response.start" and server_span is not None and server_span.is_recording():
        for name, value in message.get("headers", ()):
            if name.lower() == b"x-request-id":
                server_span.set_attribute("steward.request_id", value.decode("latin-1"))


def shutdown(app: Starlette) -> None:
    """Flush the spans still queued (at most a few seconds)."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()
