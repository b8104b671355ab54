"""How the demo data set is written down: organizations, people, deployments and their habits, in "days ago".

Everything is relative to today (UTC, `steward.clock()`), so the same day always yields the
same rows and "the last 30 days" always shows the reference figures. The specs only say
how many conversations, updates and reviews to write and when; the figures come out of
the metric views. dataset.py holds the six organizations, generate.py turns them into rows.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.demo.generate import Series

HISTORY_DAYS = 182  # ordinary deployments keep 26 weeks of conversations (the BI weekly view)
LEAVE_HOUR = 16.5   # people leave (and their ownership ends) at 16:30 UTC
ASSIGN_HOUR = 9.5   # ownership periods start and hand over at 09:30 UTC


@dataclass(frozen=True)
class Topic:
    key: str
    name: str
    share: float            # share of the organization's conversations
    escalation_cost: float  # what one conversation costs when a person handles it


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    title: str
    function: str
    fte: float
    left: int | None = None  # days ago the person left the company (deactivated)
    domain: str | None = None  # email domain when not the organization's (vendors)


@dataclass(frozen=True)
class Workflow:
    topic: str
    channels: tuple[str, ...]
    start: int                # days ago it went live (UTC midnight)
    end: int | None = None    # days ago it was retired; None while live
    name: str | None = None   # unique within the deployment; defaults to the topic name


@dataclass(frozen=True)
class Owner:
    person: str
    start: int                # days ago the period began (09:30 UTC)
    end: int | None = None    # days ago it ended; a handover ends where the next period begins
    reason: str = "named accountable owner"
    ended_reason: str | None = None


@dataclass(frozen=True)
class Cadence:
    """How often whoever owns the deployment at the time changes it and reviews it."""
    updates_per_week: float
    updates_until: int        # days ago of the last update
    review_every: int = 7     # days between reviews; 0 for none
    reviews_until: int = 1    # days ago of the last review
    since: int | None = None  # days ago the cadence starts; default: the first ownership period


@dataclass(frozen=True)
class Deployment:
    key: str
    name: str
    vendor: str
    launched: int                              # days ago
    channels: dict[str, tuple[float, int | None]]  # channel -> (conversations a day, days ago it opened)
    workflows: tuple[Workflow, ...]
    arr: Callable[[float], float]              # target ARR by days ago
    owners: tuple[Owner, ...] = ()
    cadence: Cadence | None = None
    topics: dict[str, float] | None = None     # topic mix when not the organization's
    status: str = "ACTIVE"
    stopped: int | None = None                 # days ago conversations stopped (paused, retired)
    integrations: int = 2
    history: int = HISTORY_DAYS                # days of conversations kept
    noise: float = 0.015                       # weekly ARR jitter around the target
    setup_by: str | None = None                # who configured it at launch, when nobody owned it
    pin: Callable[["Series"], None] | None = None      # makes a reference figure exact
    extra_updates: Callable[[date, random.Random], list] | None = None  # (days ago, hour, kind)
    escalation: str | None = None              # the escalation contact (a person key), when one is named


@dataclass(frozen=True)
class Org:
    slug: str
    name: str
    vertical: str
    prefix: str   # conversation external ids: prefix-000123
    domain: str
    topics: tuple[Topic, ...]
    people: tuple[Person, ...]
    deployments: tuple[Deployment, ...]
    reopen_hours: int = 24


def steady(level: float) -> Callable[[float], float]:
    """The same ARR every week, give or take the weekly jitter."""
    return lambda n: level


def trend(now: float, then: float, since: int) -> Callable[[float], float]:
    """`then` until `since` days ago, moving linearly to `now` today."""
    return lambda n: then if n >= since else now + (then - now) * n / since


def wave(mid: float, amplitude: float, period: float = 56) -> Callable[[float], float]:
    """Unattended AI: ARR drifts up and down with the catalogue and the season, going nowhere."""
    return lambda n: mid + amplitude * math.sin(2 * math.pi * n / period)


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder)."""
    mass = sum(weights)
    if total <= 0 or mass <= 0:
        return [0] * len(weights)
    raw = [total * w / mass for w in weights]
    parts = [int(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def pick(rng: random.Random, weighted: Mapping[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def weekday(today: date, n: int) -> int:
    """Weekday (Monday 0) of the day `n` days before `today`."""
    return (today - timedelta(days=n)).weekday()


def at(today: date, n: float, hour: float = 0.0) -> datetime:
    """The UTC instant `hour` hours into the day `n` days before today."""
    return datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=n) + timedelta(hours=hour)


def workflow_name(org: Org, w: Workflow) -> str:
    return w.name or next(t.name for t in org.topics if t.key == w.topic)


ROUTINE_KINDS = {"WORKFLOW_CHANGE": 35, "KNOWLEDGE_REFRESH": 30, "POLICY_UPDATE": 10, "CONFIG_CHANGE": 25}
BURST_KINDS = {"WORKFLOW_CHANGE": 40, "KNOWLEDGE_REFRESH": 35, "POLICY_UPDATE": 10, "CONFIG_CHANGE": 15}

SUMMARIES = {
    "WORKFLOW_CHANGE": ("Reworked the {wf} flow after reading last week's escalations",
                        "Added an order-number check to {wf}", "Shortened the handoff path in {wf}",
                        "Rewrote the {wf} greeting and clarifying questions",
                        "Fixed a dead end in {wf} when the order is split"),
    "KNOWLEDGE_REFRESH": ("Refreshed the knowledge articles behind {wf}",
                          "Synced {wf} answers with the help-centre update",
                          "Added the new season's product data to {wf}"),
    "POLICY_UPDATE": ("Updated {wf} to the current returns policy",
                      "Aligned {wf} with the new free-shipping threshold"),
    "CONFIG_CHANGE": ("Tuned the handoff confidence threshold", "Moved escalations to the tier-2 queue",
                      "Updated business hours and the holiday calendar", "Raised the idle timeout to 10 minutes"),
    "NEW_USE_CASE": ("Launched a new workflow: {wf}",),
    "CHANNEL_LAUNCH": ("Opened {channel} for {wf}",),
    "RETIRED": ("Retired the {wf} workflow",),
    "SETUP": ("Initial configuration at launch", "Connected the order-management integration"),
}
REVIEW_NOTES = ("Weekly review of resolution, escalations and reopened conversations.",
                "Read twenty escalated transcripts; most were missing order context.",
                "Reviewed the topic opportunities list with the team leads.",
                "Checked reopen reasons and this week's knowledge gaps.")
REVIEW_DECISIONS = (("refresh the returns articles",), ("add order context to the handoff",),
                    ("draft a workflow for the top uncovered topic",), (), ("tighten the handoff threshold",), ())
