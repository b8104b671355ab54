"""Ownership gaps: spans without an accountable owner, the results before and during them, and their cost."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from schema.info import Info
from schema.people.types import Person
from schema.windows import Window


@strawberry.type(description="Results over one window of days around an ownership gap (UTC days; see README).")
class GapFigures:
    window: Window = strawberry.field(description="The half-open UTC window [from, to) measured.")
    conversations: int = strawberry.field(description="Conversations started in the window.")
    addressable: int = strawberry.field(
        description="Conversations whose topic had an active workflow covering their channel when they started.")
    ai_resolved: int = strawberry.field(
        description="Addressable conversations the AI resolved that were not reopened within the reopen window.")
    ai_outcomes: int = strawberry.field(description="Conversations with outcome AI_RESOLVED, reopened or not.")
    reopened: int = strawberry.field(description="AI resolutions reopened within the reopen window.")
    addressable_resolution_rate: float | None = strawberry.field(
        description="ARR: aiResolved / addressable (0-1); null if nothing was addressable.")
    reopen_rate: float | None = strawberry.field(description="reopened / aiOutcomes; null if no AI resolutions.")
    topic_coverage: float | None = strawberry.field(description="addressable / conversations; null if none.")

    @classmethod
    def from_row(cls, row, part: str) -> "GapFigures":
        """The `part` (baseline, during, latest) columns of a metrics.ownership_gaps row."""
        return cls(window=Window(from_=row[f"{part}_from"], to=row[f"{part}_to"]),
                   conversations=row[f"{part}_conversations"], addressable=row[f"{part}_addressable"],
                   ai_resolved=row[f"{part}_ai_resolved"], ai_outcomes=row[f"{part}_ai_outcomes"],
                   reopened=row[f"{part}_reopened"], addressable_resolution_rate=row[f"{part}_arr"],
                   reopen_rate=row[f"{part}_reopen_rate"], topic_coverage=row[f"{part}_topic_coverage"])


@strawberry.type(description="A span without an accountable owner: from launch, or from the end of an owner's "
                             "period until the next owner (metrics.ownership_gaps).")
class OwnershipGap:
    started_at: datetime = strawberry.field(description="Launch, or the end of the previous owner's period.")
    ended_at: datetime | None = strawberry.field(description="When the next owner's period began; null while open.")
    duration_days: float = strawberry.field(description="Days (fractional) from the start to the end, or to now.")
    baseline: GapFigures = strawberry.field(description="The 28 UTC days before the gap's first day.")
    during: GapFigures = strawberry.field(description="The gap's UTC days so far, today included.")
    latest: GapFigures = strawberry.field(description="The gap's last 28 UTC days so far (fewer if it is shorter).")
    arr_change_points: float | None = strawberry.field(
        description="ARR during the gap minus baseline ARR, in percentage points; null when either is null.")
    resolutions_lost: float | None = strawberry.field(
        description="max(0, (baseline ARR - ARR during) x addressable during): AI resolutions the baseline rate "
                    "would have given; null without a baseline ARR.")
    escalation_cost_per_resolution: float | None = strawberry.field(
        description="Escalation cost of the topics of the gap's addressable conversations, weighted by volume.")
    estimated_cost: float | None = strawberry.field(
        description="resolutionsLost x escalationCostPerResolution: each lost resolution priced as one escalation.")
    previous_person_id: strawberry.Private[int | None]

    @strawberry.field(description="Whose period ended where the gap starts; null for a gap from launch.")
    async def previous_owner(self, info: Info) -> Person | None:
        if self.previous_person_id is None:
            return None
        return await info.context.loaders.person.load(self.previous_person_id)

    @strawberry.field(description="True while the gap lasts.")
    def is_open(self) -> bool:
        return self.ended_at is None

    @classmethod
    def from_row(cls, row: Any) -> "OwnershipGap":
        def number(value) -> float | None:
            return None if value is None else float(value)

        return cls(started_at=row["started_at"], ended_at=row["ended_at"],
                   duration_days=float(row["duration_days"]),
                   baseline=GapFigures.from_row(row, "baseline"), during=GapFigures.from_row(row, "during"),
                   latest=GapFigures.from_row(row, "latest"), arr_change_points=row["arr_change_points"],
                   resolutions_lost=row["resolutions_lost"],
                   escalation_cost_per_resolution=number(row["escalation_cost_per_resolution"]),
                   estimated_cost=number(row["estimated_cost"]), previous_person_id=row["previous_person_id"])
