"""The Subscription root: live events of the token's organization, over WebSocket (service/http/websocket.py)."""
from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from schema.context import Context, Db
from schema.errors import not_found
from schema.health.events import HealthEvent
from schema.loaders import Loaders
from service.db import pool as db
from service.events.hub import HEALTH_CHANGED, SQL

Info = strawberry.Info[Context, None]


@strawberry.type(description="Live events of your organization: over WebSocket at /graphql (graphql-transport-ws), "
                             "with the token in connection_init.")
class Subscription:
    @strawberry.subscription(description="Each change of a deployment's health in your organization, as it is "
                                         "committed. Any other slug ends the subscription with NOT_FOUND.")
    async def health_changed(self, info: Info, org_slug: str | None = None) -> AsyncGenerator[HealthEvent, None]:
        async for row in events_of(info, org_slug, HEALTH_CHANGED, SQL["health_event_by_id"]):
            yield HealthEvent.from_row(row)


async def events_of(info: Info, org_slug: str | None, kind: str, by_id: str):
    """Each announced event of `kind`, read by id under the token's organization (row-level security).

    The event is yielded inside its read transaction, with the context's loaders bound to it, so
    the fields selected under it resolve on that connection; the next event ends it.
    """
    context = info.context
    principal = context.principal
    if org_slug is not None and org_slug != principal.org_slug:
        raise not_found("Organization", "orgSlug")
    live = context.extra["live"]
    settings = context.settings
    async with live.hub.subscribe(principal.org_id, frozenset({kind}), settings.request_timeout_s) as subscriber:
        while True:
            notice = await subscriber.next()
            async with db.org_transaction(live.pool, principal.org_id, settings.statement_timeout_ms) as conn:
                row = await conn.fetchrow(by_id, notice.id)
                if row is None:  # not this organization's (never routed here), or not visible: nothing to say
                    continue
                context.db = Db(conn)
                context.loaders = Loaders(context.db)
                try:
                    yield row
                finally:
                    await context.db.close()
