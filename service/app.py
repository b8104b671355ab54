"""create_app(settings) -> Starlette; the lifespan owns the database pool."""
from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.routing import Route

from . import db
from .config import Settings


def create_app(settings: Settings, database_url: str) -> Starlette:
    from .graphql_http import graphql_endpoint

    async def ingest_conversations(request):  # TEMP until ingest lands
        from .ingest_http import ingest_conversations as endpoint

        return await endpoint(request)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.pool = await db.create_pool(settings, database_url)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            Route("/ingest/conversations", ingest_conversations, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
