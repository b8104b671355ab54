"""Query fields of activity: the organization's workflow updates, newest first."""
from __future__ import annotations

import strawberry

from schema.activity.types import WorkflowUpdate, WorkflowUpdateFilter, workflow_updates
from schema.info import Info
from schema.relay import Connection


@strawberry.type
class ActivityQueries:
    @strawberry.field(description="Workflow updates of your organization, newest first.")
    async def workflow_updates(
        self, info: Info, filter: WorkflowUpdateFilter | None = None,
        first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
    ) -> Connection[WorkflowUpdate]:
        return await workflow_updates(info, filter, first, after, last, before)
