"""The Subscription root: live events of the token's organization, over WebSocket (service/graphql_ws.py)."""
from __future__ import annotations

from datetime import datetime
from typing import AsyncGenerator

import strawberry

from service import db
from service.context import Context, Db
from service.event_hub import HEALTH_CHANGED, SQL
from service.loaders import Loaders

from .deployments import Deployment, HealthStatus
from .errors import not_found

Info = strawberry.Info[Context, None]


@strawberry.type(description="A change of a deployment's health (provisional until the event log's own type).")
class HealthChange:
    event_id: strawberry.ID = strawberry.field(description="The event's id in the health event log.")
    occurred_at: datetime = strawberry.field(description="When the health changed.")
    status_before: HealthStatus | None = strawberry.field(description="Status before; null for the first.")
    status_after: HealthStatus = strawberry.field(description="Status after the change.")
    reasons_before: list[str] | None = strawberry.field(description="Reason codes before (sorted).")
    reasons_after: list[str] = strawberry.field(description="Reason codes after (sorted).")
    cause: str = strawberry.field(description="WRITE (a write changed it) or TIME (a threshold passed).")
    deployment_pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row) -> "HealthChange":
        return cls(event_id=strawberry.ID(str(row["id"])), occurred_at=row["occurred_at"],
                   status_before=row["status_before"] and HealthStatus(row["status_before"]),
                   status_after=HealthStatus(row["status_after"]), reasons_before=row["reasons_before"],
                   reasons_after=list(row["reasons_after"]), cause=row["cause"], deployment_pk=row["deployment_id"])

    @strawberry.field(description="The deployment whose health changed.")
    async def deployment(self, info: Info) -> Deployment:
        return Deployment.from_row(await info.context.loaders.deployment.load(self.deployment_pk))


@strawberry.type(description="Live events of your organization: over WebSocket at /graphql (graphql-transport-ws), "
                             "with the token in connection_init.")
class Subscription:
    @strawberry.subscription(description="Each change of a deployment's health in your organization, as it is "
                                         "committed. Any other slug ends the subscription with NOT_FOUND.")
    async def health_changed(self, info: Info, org_slug: str | None = None) -> AsyncGenerator[HealthChange, None]:
        async for row in events_of(info, org_slug, HEALTH_CHANGED, SQL["health_event_by_id"]):
            yield HealthChange.from_row(row)


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
