"""Deployment.maturity: the five duties of an owner, met or not, with the figures and the next step."""
from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from schema.info import Info
from schema.review.loading import rows_by_key


@strawberry.enum(description="The five duties of an accountable owner, in order (metrics.maturity).")
class MaturityDutyKind(Enum):
    _value_: str
    NAMED_CX_OWNER = strawberry.enum_value(
        "NAMED_CX_OWNER", description="1: one named, active owner inside CX at or above the policy's FTE.")
    WEEKLY_REVIEW = strawberry.enum_value(
        "WEEKLY_REVIEW", description="2: counted reviews in at least 80% (7) of the last 8 complete weeks.")
    KEPT_CURRENT = strawberry.enum_value(
        "KEPT_CURRENT", description="3: workflow updates in at least 6 of the last 8 weeks, and no stale workflow "
                                    "on a declining topic.")
    COVERAGE_GROWING = strawberry.enum_value(
        "COVERAGE_GROWING", description="4: a NEW_USE_CASE or CHANNEL_LAUNCH in the last 60 days, or the top "
                                        "opportunity's share falling (or nothing left uncovered).")
    ESCALATION_PATH = strawberry.enum_value(
        "ESCALATION_PATH", description="5: an active escalation contact named, and every alert of the last 56 "
                                       "days acknowledged within the policy's escalationAfterDays.")


@strawberry.type(description="One figure behind a duty's verdict, flattened from metrics.maturity's evidence: "
                             "exactly one of value, flag and text is set (none when the figure is null).")
class EvidenceFigure:
    name: str = strawberry.field(
        description="The figure's name as metrics.maturity's evidence spells it; a nested one is dotted, a list "
                    "item numbered from 1 (`top_opportunity.share`, `stale_workflows.1.workflow`).")
    value: float | None = strawberry.field(description="A number (a count, a share 0-1, days, points).")
    flag: bool | None = strawberry.field(description="A yes/no figure.")
    text: str | None = strawberry.field(description="A name, a kind, or a date/instant in ISO 8601.")


def flatten(evidence: Any, prefix: str = "") -> list[EvidenceFigure]:
    """The evidence object as (name, value) figures, in its key order."""
    if isinstance(evidence, dict):
        return [f for key, item in evidence.items() for f in flatten(item, f"{prefix}{key}.")]
    if isinstance(evidence, list):
        return [f for i, item in enumerate(evidence, start=1) for f in flatten(item, f"{prefix}{i}.")]
    name = prefix.rstrip(".")
    if isinstance(evidence, bool):
        return [EvidenceFigure(name=name, value=None, flag=evidence, text=None)]
    if isinstance(evidence, (int, float)):
        return [EvidenceFigure(name=name, value=float(evidence), flag=None, text=None)]
    return [EvidenceFigure(name=name, value=None, flag=None, text=None if evidence is None else str(evidence))]


@strawberry.type(description="One duty of the owner and the verdict on it.")
class MaturityDuty:
    number: int = strawberry.field(description="1 to 5, in the order the level counts them.")
    duty: MaturityDutyKind = strawberry.field(description="Which duty.")
    met: bool = strawberry.field(description="Whether the rule holds now.")
    evidence: list[EvidenceFigure] = strawberry.field(description="The figures behind the verdict.")
    next_step: str | None = strawberry.field(description="What to do, in one sentence; null when met.")

    @classmethod
    def from_row(cls, row: Any) -> "MaturityDuty":
        evidence = row["evidence"]
        if isinstance(evidence, str):
            evidence = json.loads(evidence)
        return cls(number=row["duty_number"], duty=MaturityDutyKind(row["duty"]), met=row["met"],
                   evidence=flatten(evidence or {}), next_step=row["next_step"])


@strawberry.type(description="How far the deployment's ownership goes, as of now (metrics.maturity).")
class Maturity:
    level: int = strawberry.field(description="0-5: the number of consecutive duties met, counting from the first.")
    as_of: datetime = strawberry.field(description="When it was judged (now).")
    duties: list[MaturityDuty] = strawberry.field(description="The five duties, in order.")

    @strawberry.field(description="The next step of the first duty not met; null at level 5.")
    def next_step(self) -> str | None:
        return next((d.next_step for d in self.duties if not d.met), None)


async def deployment_maturity(info: Info, deployment_pk: int) -> Maturity | None:
    rows = await rows_by_key(info, "maturity").load(deployment_pk)
    if not rows:
        return None
    return Maturity(level=rows[0]["level"], as_of=rows[0]["as_of"], duties=[MaturityDuty.from_row(r) for r in rows])
