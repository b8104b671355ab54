"""Organizations (the Organization type and its lists) and the ownership summary."""
from __future__ import annotations

import strawberry

from schema.deployments.mutations import HealthPolicy
from schema.deployments.types import Deployment, DeploymentFilter, DeploymentOrder, deployments
from schema.errors import not_found
from schema.health.events import HealthEvent, HealthEventFilter, health_events
from schema.info import Info
from schema.metrics import ImpactBucket, ImpactBucketKind, OwnershipSummary
from schema.people.types import Person, PersonFilter, people
from schema.relay import Connection, Node, to_global_id
from schema.review.scorecard import Scorecard, health_policy, scorecard
from schema.webhooks.types import Webhook, webhooks
from schema.windows import Window, WindowInput, resolve_window
from service.sql_files import load

SQL = load("schema.organizations", "queries.sql")


@strawberry.type(description="A brand running customer-service AI.")
class Organization(Node):
    slug: str = strawberry.field(description="URL-safe unique name.")
    name: str = strawberry.field(description="Display name.")
    vertical: str = strawberry.field(description="Industry vertical.")
    pk: strawberry.Private[int]

    @strawberry.field(description="Deployments of the organization.")
    async def deployments(
        self, info: Info, filter: DeploymentFilter | None = None, order_by: DeploymentOrder | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Deployment]:
        return await deployments(info, self.pk, filter, order_by, first, after, last, before)

    @strawberry.field(description="People of the organization, by name.")
    async def people(
        self, info: Info, filter: PersonFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[Person]:
        return await people(info, self.pk, filter, first, after, last, before)

    @strawberry.field(description="Health counts now, and ARR owned vs unowned over a window (default 90 days).")
    async def ownership_summary(self, info: Info, window: WindowInput | None = None) -> OwnershipSummary:
        return await ownership_summary(info, self.pk, window)

    @strawberry.field(description="Webhook endpoints, oldest first (at most 20), with their deliveries. Needs the "
                                  "admin scope (URLs may carry credentials).")
    async def webhooks(self, info: Info) -> list[Webhook]:
        return await webhooks(info, self.pk)

    @strawberry.field(description="Every change of a deployment's health status or reasons (append-only log), "
                                  "newest first.")
    async def health_events(
        self, info: Info, filter: HealthEventFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[HealthEvent]:
        return await health_events(info, self.pk, filter, first, after, last, before)

    @strawberry.field(description="The health policy behind STALE, AT_RISK, the weekly brief and maturity.")
    async def health_policy(self, info: strawberry.Info) -> HealthPolicy | None:
        return await health_policy(info, self.pk)

    @strawberry.field(description="A leader's view: ownership, owners outside CX or below the FTE floor, maturity "
                                  "levels, ARR owned vs unowned, the gap ledger's losses, the weekly trend "
                                  "(default window: the last 90 days).")
    async def scorecard(self, info: strawberry.Info, window: WindowInput | None = None) -> Scorecard | None:
        return await scorecard(info, window)

    @classmethod
    def from_row(cls, row) -> "Organization":
        return cls(id=to_global_id("Organization", row["id"]), slug=row["slug"], name=row["name"],
                   vertical=row["vertical"], pk=row["id"])


async def org_id_for(info: Info, slug: str | None, field: str = "orgSlug") -> int:
    """The caller's organization; another slug is 'not found', exactly like an unknown one.

    `field` is the argument that carried the slug, as the error names it.
    """
    principal = info.context.principal
    if slug is not None and slug != principal.org_slug:
        raise not_found("organization", field)
    return principal.org_id


OWNERSHIP_BUCKETS = (ImpactBucketKind.OWNED, ImpactBucketKind.UNOWNED)


async def ownership_summary(info: Info, org_id: int, window: WindowInput | None) -> OwnershipSummary:
    start, end = await resolve_window(info, window, default_days=90)
    db = info.context.db
    overview = await db.fetchrow(SQL["ownership_overview"], org_id)
    impact = [ImpactBucket.from_row(r) for r in await db.fetch(SQL["ownership_impact"], start, end)]
    by_ownership = [b for b in impact if b.bucket in OWNERSHIP_BUCKETS]
    owned = {b.bucket: b for b in by_ownership}
    counts = {k: (overview[k] if overview else 0) for k in ("deployments", "unowned", "stale", "at_risk", "healthy")}
    return OwnershipSummary(
        window=Window(from_=start, to=end),
        **counts,
        owned_share=overview["owned_share"] if overview else None,
        arr_owned=(owned[ImpactBucketKind.OWNED].addressable_resolution_rate
                   if ImpactBucketKind.OWNED in owned else None),
        arr_unowned=(owned[ImpactBucketKind.UNOWNED].addressable_resolution_rate
                     if ImpactBucketKind.UNOWNED in owned else None),
        by_ownership=by_ownership,
        # enum order is cadence order: NONE, LOW, MEDIUM, HIGH
        by_update_cadence=sorted((b for b in impact if b.bucket not in OWNERSHIP_BUCKETS),
                                 key=lambda b: list(ImpactBucketKind).index(b.bucket)),
    )
