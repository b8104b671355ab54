"""create_app(settings, database_url, schema) -> Starlette; the lifespan owns the database pool."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys

import strawberry
from prometheus_client import Info
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

import schema as graphql_schema
from schema.compiled import Compiler
from service import tracing
from service.config import ConfigError, Settings
from service.db import partitions, replicas
from service.db import pool as db
from service.events import evaluator
from service.events.hub import EventHub
from service.events.webhook_worker import Worker
from service.http import consistency, limits, rate_limit
from service.http.documents import PersistedDocuments
from service.http.graphql import graphql_endpoint
from service.http.health import healthz, readyz
from service.http.ingest import ingest_conversations
from service.http.observability import Metrics, RequestMiddleware, metrics_endpoint
from service.http.token_usage import TokenUsage
from service.http.websocket import GraphQLWebSocket, Live, TokenCounts, graphql_websocket

log = logging.getLogger("steward.app")

# `steward serve --workers N` puts the database URL it resolved here (DATABASE_URL, or the embedded
# PostgreSQL it started) for its worker processes, which inherit the environment.
WORKER_DATABASE_URL = "STEWARD_WORKER_DATABASE_URL"


def create_app(settings: Settings, database_url: str, schema: strawberry.Schema | None = None) -> Starlette:
    """The app serving `schema` (by default the one of schema/, with tracing's extension when tracing is on)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.pool = pool = await db.create_pool(settings, database_url)
        timeouts = (settings.db_connect_timeout_s, settings.statement_timeout_ms)
        recorder = asyncio.create_task(app.state.token_usage.flush_forever(pool, *timeouts))
        hub = EventHub(database_url, pool, queue_size=settings.subscription_queue,
                       statement_timeout_ms=settings.statement_timeout_ms,
                       connect_timeout_s=settings.db_connect_timeout_s)
        app.state.live = Live(pool, hub, settings)
        hub.start()
        app.state.webhooks = webhooks = Worker(settings, database_url, hub) if settings.webhooks.worker else None
        if webhooks is not None:
            webhooks.start()
        try:
            async with evaluator.running(settings, database_url) as app.state.evaluator, \
                    replicas.monitoring(app.state.replicas), \
                    partitions.running(settings, database_url):
                yield
        finally:
            await hub.stop()
            if webhooks is not None:
                await webhooks.stop()
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
            await _last_flush(app.state.token_usage, pool, timeouts)
            try:
                await asyncio.wait_for(app.state.pool.close(), settings.request_timeout_s)
            except TimeoutError:  # a connection is stuck (database gone): do not hang the shutdown
                app.state.pool.terminate()
            tracing.shutdown(app)

    metrics = Metrics(pool=lambda: getattr(app.state, "pool", None), replicas=lambda: app.state.replicas)
    middleware = [Middleware(RequestMiddleware, metrics=metrics)]
    if settings.cors_origins:
        # Bearer tokens, not cookies: no credentials, so a listed origin can never ride a user's session.
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                                     allow_methods=["GET", "POST"], max_age=600,
                                     allow_headers=["authorization", "content-type", "accept", "x-request-id",
                                                    consistency.HEADER],
                                     expose_headers=["x-request-id", consistency.HEADER]))

    app = Starlette(
        routes=[
            # Every method reaches the endpoint, which answers 405 with a GraphQL error body.
            Route("/graphql", graphql_endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql_websocket),  # subscriptions (service/http/websocket.py)
            Route("/ingest/conversations", ingest_conversations, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            # Package data of `service`, found through its import location (a checkout or a wheel).
            Mount("/static", StaticFiles(packages=[("service", "static")]), name="static"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    if schema is None:
        schema = (tracing.instrument(app, graphql_schema.build_schema) if tracing.enabled()
                  else graphql_schema.schema)
    app.state.schema = schema
    app.state.graphql_pass = limits.Pass(schema)  # parses and validates once, with the schema's caches
    # compiled reads; not under tracing yet: its spans are those of Strawberry's execution
    app.state.compiler = Compiler(schema._schema) if settings.compile and not tracing.enabled() else None
    app.state.documents = PersistedDocuments(trusted_only=settings.trusted_documents == "only")
    app.state.metrics = metrics
    app.state.graphql_ws = GraphQLWebSocket(schema, settings)
    app.state.subscription_counts = TokenCounts()
    metrics.subscriptions.set_function(lambda: _subscribers(app))
    app.state.token_usage = TokenUsage()
    # reads on the hot standbys of STEWARD_REPLICA_URLS (none: everything on the primary's pool)
    app.state.replicas = replicas.ReplicaSet(settings, lambda: app.state.pool, database_url)
    app.state.database_url = database_url  # /readyz opens its own connection when the pool is saturated
    app.state.rate_limiter = rate_limit.limiter_for(settings.rate_limit)
    # at most this many ingest transactions hold pooled connections at once: GraphQL keeps the rest
    app.state.ingest_transactions = asyncio.Semaphore(settings.ingest_slots)
    return app


async def _last_flush(usage: TokenUsage, pool, timeouts: tuple[float, int]) -> None:
    """Record the last minute's token use at shutdown, unless the database is gone."""
    try:
        await asyncio.wait_for(usage.flush(pool, *timeouts), timeouts[0] + timeouts[1] / 1000)
    except Exception as exc:  # shutting down: never let bookkeeping block or fail it
        log.warning("token use of the last minute not recorded: %s", type(exc).__name__)


def _subscribers(app: Starlette) -> int:
    live = getattr(app.state, "live", None)
    return live.hub.subscriber_count if live is not None else 0


def app_from_env() -> Starlette:
    """uvicorn's factory for one worker process of `steward serve --workers N` (or of your own process manager:
    `uvicorn --factory service.app:app_from_env`): settings and the database URL come from the environment."""
    from service.logs import configure_logging

    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        url = os.environ.get(WORKER_DATABASE_URL) or settings.database_url
        if not url:
            raise ConfigError("DATABASE_URL is not set: a worker process needs the database's URL")
    except ConfigError as exc:
        from uvicorn.config import STARTUP_FAILURE

        # uvicorn's supervisor stops on this exit code instead of starting the worker again and again
        print(f"steward: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    app = create_app(settings, url)
    # /metrics is per process: say which one answered (a scrape through the shared port reaches any worker)
    Info("steward_worker", "The worker process that answered this scrape.",
         registry=app.state.metrics.registry).info({"pid": str(os.getpid())})
    return app
