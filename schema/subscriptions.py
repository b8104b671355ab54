"""The Subscription root: live events of the token's organization, over WebSocket (service/http/websocket.py)."""
from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from schema.context import Db
from schema.errors import not_found
from schema.health.events import HealthEvent
from schema.health.record import HEALTH_CHANGED
from schema.info import Info


@strawberry.type(description="Live events of your organization: over WebSocket at /graphql (graphql-transport-ws), "
                             "with the token in connection_init.")
class Subscription:
    @strawberry.subscription(description="Each change of a deployment's health in your organization, as it is "
                                         "committed. Any other slug ends the subscription with NOT_FOUND.")
    async def health_changed(self, info: Info, org_slug: str | None = None) -> AsyncGenerator[HealthEvent, None]:
        async for event in health_events(info, org_slug):
            yield event


async def health_events(info: Info, org_slug: str | None) -> AsyncGenerator[HealthEvent, None]:
    """Each announced health event, read by id under the token's organization (row-level security).

    The event is yielded inside its read transaction, with the context's loaders bound to it, so
    the fields selected under it resolve on that connection; the next event ends it.
    """
    context = info.context
    principal = context.principal
    if org_slug is not None and org_slug != principal.org_slug:
        raise not_found("Organization", "orgSlug")
    live = context.live
    if live is None:
        raise RuntimeError("subscriptions run over WebSocket only: the context has no live events")
    async with live.subscribe(principal.org_id, frozenset({HEALTH_CHANGED})) as subscriber:
        while True:
            notice = await subscriber.next()
            async with live.org_transaction(principal.org_id) as conn:
                context.read_afresh(Db(conn))
                try:
                    event = await context.loaders.health_event.load(notice.id)
                    # None: not this organization's (never routed here), or not visible: nothing to say
                    if event is not None:
                        yield event
                finally:
                    await context.db.close()
