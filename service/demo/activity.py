"""A deployment's activity in the demo: ownership periods, workflow periods, updates and reviews."""
from __future__ import annotations

import math
import random
from datetime import date, datetime
from typing import TYPE_CHECKING

from service.demo.spec import (
    ASSIGN_HOUR,
    LEAVE_HOUR,
    REVIEW_DECISIONS,
    REVIEW_NOTES,
    ROUTINE_KINDS,
    SUMMARIES,
    Deployment,
    Org,
    Owner,
    Workflow,
    at,
    pick,
    workflow_name,
)

if TYPE_CHECKING:
    from service.demo.generate import Demo


def activity(demo: Demo, org: Org, dep: Deployment, today: date, rng: random.Random) -> None:
    """Ownership periods, workflow periods, updates and reviews of one deployment."""
    periods = _owner_periods(org, dep, today)
    for person, start, end, o in periods:
        demo.assignments.append((org.slug, dep.key, person, start, end, o.reason, o.ended_reason))
    names = [workflow_name(org, w) for w in dep.workflows]
    assert len(set(names)) == len(names), f"{dep.key}: workflow names must be unique"
    for w in dep.workflows:
        end = at(today, w.end) if w.end is not None else None
        demo.periods.append((org.slug, dep.key, workflow_name(org, w), at(today, w.start), end))
    updates = _workflow_events(org, dep, rng, periods, today)
    if dep.cadence:
        updates += _cadence_updates(org, dep, rng, periods, today)
    if dep.extra_updates:
        for n, hour, kind in dep.extra_updates(today, rng):
            author = _owner_at(periods, at(today, n, hour))
            assert author, f"{dep.key}: extra updates need an owner"
            updates.append(_update(org, dep, rng, n, hour, kind, author))
    if dep.setup_by:
        updates += [(dep.key, dep.setup_by, None, "CONFIG_CHANGE", SUMMARIES["SETUP"][i], (dep.launched - i, 11.0))
                    for i in range(2)]
    for key, author, wf, kind, summary, (n, hour) in updates:
        demo.updates.append((org.slug, key, author, wf, kind, summary, at(today, n, hour)))
    for key, reviewer, (n, hour), notes, decisions in _reviews(org, dep, rng, periods, today):
        demo.reviews.append((org.slug, key, reviewer, at(today, n, hour), notes, decisions))


def _owner_periods(org: Org, dep: Deployment, today: date) -> list[tuple[str, datetime, datetime | None, Owner]]:
    people = {p.key: p for p in org.people}
    periods = []
    for o in dep.owners:
        end = None
        if o.end is not None:
            left = people[o.person].left
            end = at(today, o.end, LEAVE_HOUR if left == o.end else ASSIGN_HOUR)
        periods.append((o.person, at(today, o.start, ASSIGN_HOUR), end, o))
    return periods


def _owner_at(periods, instant: datetime) -> str | None:
    return next((p for p, start, end, _ in periods if start <= instant and (end is None or instant < end)), None)


def _live(dep: Deployment, n: int) -> list[Workflow]:
    return [w for w in dep.workflows if w.start >= n and (w.end is None or n > w.end)]


def _summary(org: Org, rng: random.Random, kind: str, w: Workflow | None, channel: str = "") -> str:
    return rng.choice(SUMMARIES[kind]).format(wf=workflow_name(org, w) if w else "", channel=channel)


def _update(org, dep, rng, n: int, hour: float, kind: str, author: str) -> tuple:
    """One workflow update; kinds about a workflow name one that was live that day."""
    needs_workflow = kind in ("WORKFLOW_CHANGE", "KNOWLEDGE_REFRESH", "POLICY_UPDATE")
    live = _live(dep, n) if needs_workflow else []
    if needs_workflow and not live:
        kind = "CONFIG_CHANGE"
    w = rng.choice(live) if live else None
    return (dep.key, author, workflow_name(org, w) if w else None, kind, _summary(org, rng, kind, w), (n, hour))


def _cadence_updates(org, dep, rng, periods, today) -> list[tuple]:
    """Updates at the cadence's rate (exponential gaps), by whoever owned the deployment then."""
    c = dep.cadence
    since = c.since if c.since is not None else dep.owners[0].start
    rows, x = [], rng.expovariate(c.updates_per_week / 7)
    while since - x > c.updates_until - 1:
        n = math.ceil(since - x)
        hour = rng.uniform(8, 19)
        author = _owner_at(periods, at(today, n, hour))
        if author:
            rows.append(_update(org, dep, rng, n, hour, pick(rng, ROUTINE_KINDS), author))
        x += rng.expovariate(c.updates_per_week / 7)
    author = _owner_at(periods, at(today, c.updates_until, 11))
    if author:  # the cadence's last update lands on its last day, whatever the draw
        rows.append(_update(org, dep, rng, c.updates_until, 11.0, pick(rng, ROUTINE_KINDS), author))
    return rows


def _workflow_events(org, dep, rng, periods, today) -> list[tuple]:
    """New workflows, channel launches and retirements recorded by the owner of the day."""
    rows = []
    opened = {ch: (o if o is not None else dep.launched) for ch, (_, o) in dep.channels.items()}
    for w in dep.workflows:
        author = _owner_at(periods, at(today, w.start, 10))
        if w.start < dep.launched and author:  # workflows live at launch are the initial set-up
            new_channel = next((ch for ch in w.channels if opened[ch] == w.start), None)
            earlier = any(v.topic == w.topic and v.start > w.start for v in dep.workflows)
            kind = "CHANNEL_LAUNCH" if new_channel else "WORKFLOW_CHANGE" if earlier else "NEW_USE_CASE"
            summary = _summary(org, rng, kind, w, new_channel or "")
            rows.append((dep.key, author, workflow_name(org, w), kind, summary, (w.start, 10.0)))
        ended_author = w.end is not None and _owner_at(periods, at(today, w.end, 10))
        if ended_author and w.end != dep.stopped:
            rows.append((dep.key, ended_author, workflow_name(org, w), "WORKFLOW_CHANGE",
                         _summary(org, rng, "RETIRED", w), (w.end, 10.0)))
    return rows


def _reviews(org, dep, rng, periods, today) -> list[tuple]:
    c = dep.cadence
    if not c or not c.review_every:
        return []
    since = c.since if c.since is not None else dep.owners[0].start
    rows = []
    for n in range(c.reviews_until, since + 1, c.review_every):
        reviewer = _owner_at(periods, at(today, n, 15))
        if reviewer:
            rows.append((dep.key, reviewer, (n, 15 + rng.uniform(0, 2)), rng.choice(REVIEW_NOTES),
                         list(rng.choice(REVIEW_DECISIONS))))
    return rows
