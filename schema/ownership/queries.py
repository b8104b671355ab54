"""Query fields of ownership: the organization's summary, and the audit log of ownership changes."""
from __future__ import annotations

import strawberry

from schema.info import Info
from schema.metrics import OwnershipSummary
from schema.organizations.types import org_id_for, ownership_summary
from schema.ownership.audit import AuditLogFilter, OwnershipChange, audit_log
from schema.relay import Connection
from schema.windows import WindowInput


@strawberry.type
class OwnershipQueries:
    @strawberry.field(description="Health counts now and ARR owned vs unowned over a window (default 90 days).")
    async def ownership_summary(self, info: Info, org_slug: str | None = None,
                                window: WindowInput | None = None) -> OwnershipSummary:
        return await ownership_summary(info, await org_id_for(info, org_slug), window)

    @strawberry.field(description="Ownership changes made through the API (who, which token, when, before, after, "
                                  "why), newest first.")
    async def audit_log(
        self, info: Info, filter: AuditLogFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[OwnershipChange]:
        return await audit_log(info, filter, first, after, last, before)
