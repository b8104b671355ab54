"""The generator: the data set's specs -> rows with symbolic keys (org slug, person/deployment/topic keys).

One fixed seed per deployment, so the same `today` always yields the same rows. Conversations
are planned per ISO week (exact counts of addressable and AI-resolved ones), then written one
by one; activity.py writes ownership, workflow periods, updates and reviews.
"""
from __future__ import annotations

import random
from bisect import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

from service.demo.activity import activity
from service.demo.dataset import ORGS
from service.demo.reference import NORTHWIND_NAMED
from service.demo.spec import Deployment, Org, apportion, weekday

SEED = 20261123
# What cadence buys (metrics.cadence_effect finds it): a deployment kept current by a cadence gains
# CADENCE_LIFT ARR points per workflow update made CADENCE_LAG_WEEKS ISO weeks earlier, around its own
# mean (its level stays flat, so deployment fixed effects absorb it). Not for the reference
# deployments whose figures are pinned, nor for one with extra updates (Lumen's launch-week burst
# would lift its ARR by tens of points two weeks later).
CADENCE_LAG_WEEKS = 2
CADENCE_LIFT = 0.6
WEEKDAY_VOLUME = (1.10, 1.05, 1.00, 1.00, 0.95, 0.85, 0.80)  # Monday .. Sunday
# Conversations start between 07:00 and 23:00 UTC; the last ones resolve before midnight.
HOURS = tuple(range(7, 23))
HOUR_CUMULATIVE = list(accumulate((2, 4, 6, 7, 7, 8, 7, 6, 6, 6, 7, 7, 6, 5, 3, 2)))


@dataclass
class Day:
    n: int                   # days ago
    covered: list            # [(topic, channel, rate)] a workflow answered that day
    uncovered: list          # [(topic, channel, rate)] nobody had set the AI up for
    weight: float            # expected addressable volume, jittered
    unaddressable: int


@dataclass
class Segment:
    """Consecutive days (within one ISO week) with one ARR target and exact counts."""
    days: list[Day]
    target: float
    addressable: int
    resolved: int = 0


@dataclass
class Series:
    """A deployment's conversation plan: ISO-week segments, cut where a reference window starts."""
    segments: list[Segment]
    today: date

    def whole_weeks(self, after: int, before: int) -> list[Segment]:
        """Complete ISO weeks from the day `after` days ago up to (not including) the day `before` days ago."""
        return [s for s in self.segments
                if len(s.days) == 7 and weekday(self.today, s.days[0].n) == 0
                and s.days[0].n <= after and s.days[-1].n > before]

    def pin_window(self, since: int, *, addressable: int | None = None, resolved: int | None = None,
                   rate: float | None = None) -> int:
        """Make the segments from `since` days ago to yesterday add up exactly; returns addressable."""
        inside = [s for s in self.segments if s.days[0].n <= since]
        if addressable is not None:
            for s, a in zip(inside, apportion(addressable, [s.addressable for s in inside]), strict=True):
                s.addressable = a
        total = sum(s.addressable for s in inside)
        if resolved is None:
            if rate is None:
                raise TypeError("pin_window needs `resolved` or `rate`")
            resolved = round(rate * total)
        for s, r in zip(inside, apportion(resolved, [s.target * s.addressable for s in inside]), strict=True):
            assert r <= s.addressable
            s.resolved = r
        return total


def _covered(dep: Deployment, n: int, topic: str, channel: str) -> bool:
    return any(w.topic == topic and channel in w.channels and w.start >= n and (w.end is None or n > w.end)
               for w in dep.workflows)


def _day(org: Org, dep: Deployment, today: date, n: int, rng: random.Random) -> Day:
    """Expected volume of day `n` split by coverage, with day-to-day jitter."""
    mix = dep.topics or {t.key: t.share for t in org.topics}
    factor = WEEKDAY_VOLUME[weekday(today, n)] * rng.uniform(0.88, 1.12)
    covered: list[tuple[str, str, float]] = []
    uncovered: list[tuple[str, str, float]] = []
    for channel, (per_day, opened) in dep.channels.items():
        if (opened if opened is not None else dep.launched) < n:
            continue
        for topic, share in mix.items():
            pair = (topic, channel, per_day * share)
            (covered if _covered(dep, n, topic, channel) else uncovered).append(pair)
    weight = factor * sum(rate for *_, rate in covered)
    return Day(n, covered, uncovered, weight, round(factor * sum(rate for *_, rate in uncovered)))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _cadence_lift(dep: Deployment, updates: list[datetime]) -> Callable[[date], float]:
    """The ARR lift (0-1) of the ISO week starting on a Monday, from the updates CADENCE_LAG_WEEKS before."""
    if dep.cadence is None or dep.pin is not None or dep.extra_updates is not None or not updates:
        return lambda monday: 0.0
    per_week = Counter(_monday(u.date()) for u in updates)
    first, last = min(per_week), max(per_week)
    weeks = [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]
    mean = sum(per_week[w] for w in weeks) / len(weeks)
    lag = timedelta(weeks=CADENCE_LAG_WEEKS)
    return lambda monday: CADENCE_LIFT / 100 * (per_week.get(monday - lag, 0) - mean)


def _series(org: Org, dep: Deployment, today: date, rng: random.Random,
            lift: Callable[[date], float] = lambda monday: 0.0) -> Series:
    """Plan every conversation day of the deployment into ISO-week segments with exact counts."""
    first = min(dep.history, dep.launched)
    last = (dep.stopped or 0) + 1
    cuts = {27, NORTHWIND_NAMED} if dep.pin else set()
    segments: list[Segment] = []
    for n in range(first, last - 1, -1):
        day = _day(org, dep, today, n, rng)
        if not segments or n in cuts or weekday(today, n) == 0:
            segments.append(Segment([], 0.0, 0))
        segments[-1].days.append(day)
    for s in segments:
        middle = (s.days[0].n + s.days[-1].n) / 2
        jitter = rng.uniform(-dep.noise, dep.noise)
        s.target = min(max(dep.arr(middle) + jitter + lift(_monday(today - timedelta(days=s.days[0].n))), 0.0), 1.0)
        s.addressable = round(sum(d.weight for d in s.days))
        s.resolved = round(s.target * s.addressable)
    series = Series(segments, today)
    if dep.pin:
        dep.pin(series)
    return series


def _cumulative(pairs: list) -> tuple[list, list]:
    """(pairs, cumulative rates) for weighted draws with bisect."""
    return pairs, list(accumulate(rate for *_, rate in pairs))


class Writer:
    """Turns planned counts into conversation rows for one deployment."""

    def __init__(self, org: Org, dep: Deployment, today: date, rng: random.Random):
        self.org, self.dep, self.rng = org, dep, rng
        self.midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
        self.reopen = timedelta(hours=org.reopen_hours)
        self.rows: list[tuple] = []

    def segment(self, s: Segment) -> None:
        resolved = set(self.rng.sample(range(s.addressable), s.resolved))
        i = 0
        for day, count in zip(s.days, apportion(s.addressable, [d.weight for d in s.days]), strict=True):
            midnight = self.midnight - timedelta(days=day.n)
            covered, uncovered = _cumulative(day.covered), _cumulative(day.uncovered)
            for _ in range(count):
                self.conversation(midnight, day.n, covered, addressable=True, resolved=i in resolved)
                i += 1
            for _ in range(day.unaddressable if day.uncovered else 0):
                self.conversation(midnight, day.n, uncovered, addressable=False, resolved=False)

    def conversation(self, midnight: datetime, n: int, pairs: tuple[list, list], *, addressable: bool,
                     resolved: bool) -> None:
        rng = self.rng
        population, cumulative = pairs
        topic, channel, _ = population[bisect(cumulative, rng.random() * cumulative[-1])]
        hour = HOURS[bisect(HOUR_CUMULATIVE, rng.random() * HOUR_CUMULATIVE[-1])]
        started = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
        outcome, engaged, resolved_at, reopened_at = self.outcome(started, n, addressable, resolved)
        self.rows.append((self.dep.key, topic, channel, started, engaged, outcome, resolved_at, reopened_at))

    def outcome(self, started: datetime, n: int, addressable: bool, resolved: bool):
        """(outcome, ai_engaged, resolved_at, reopened_at); `resolved` ones count as AI resolved."""
        rng = self.rng
        if resolved:
            return "AI_RESOLVED", True, *self.resolution(started, reopen_late=rng.random() < 0.05)
        roll = rng.random()
        if addressable and roll < 0.08 or not addressable and roll < 0.04:
            # resolved by the AI, but the customer came back inside the reopen window
            return "AI_RESOLVED", True, *self.resolution(started, reopen_soon=True)
        if n <= 2 and roll > 0.92:
            return "OPEN", rng.random() < 0.9, None, None
        if roll < 0.74:
            return "ESCALATED", addressable or rng.random() < 0.65, None, None
        return "ABANDONED", rng.random() < (0.9 if addressable else 0.6), None, None

    def resolution(self, started: datetime, *, reopen_soon: bool = False, reopen_late: bool = False):
        """resolved_at a few minutes in; reopened inside or well after the window, never in the future."""
        resolved_at = started + timedelta(minutes=self.rng.uniform(2, 45))
        if reopen_soon:
            room = min(self.reopen * 0.8, self.midnight - resolved_at)
            return resolved_at, resolved_at + room * self.rng.uniform(0.05, 0.95)
        if reopen_late:
            reopened = resolved_at + self.reopen + timedelta(hours=self.rng.uniform(2, 72))
            return resolved_at, reopened if reopened < self.midnight else None
        return resolved_at, None


@dataclass
class Demo:
    """Rows with symbolic references (org slug, person/deployment/topic keys, workflow names)."""
    today: date
    assignments: list = field(default_factory=list)   # (slug, dep, person, start, end, reason, ended_reason)
    periods: list = field(default_factory=list)       # (slug, dep, workflow name, start, end)
    updates: list = field(default_factory=list)       # (slug, dep, person, workflow name, kind, summary, at)
    reviews: list = field(default_factory=list)       # (slug, dep, person, at, notes, decisions)
    conversations: list = field(default_factory=list)  # (slug, external_id, dep, topic, channel, started, ...)


def build(today: date) -> Demo:
    """Every row of the demo, as plain tuples; identical for the same `today`."""
    demo = Demo(today)
    for org in ORGS:
        org_rows = []
        for dep in org.deployments:
            rng = random.Random(f"{SEED}/{org.slug}/{dep.key}")
            activity(demo, org, dep, today, rng)
            lift = _cadence_lift(dep, [u[6] for u in demo.updates if u[0] == org.slug and u[1] == dep.key])
            writer = Writer(org, dep, today, rng)
            for segment in _series(org, dep, today, rng, lift).segments:
                writer.segment(segment)
            org_rows.extend(writer.rows)
        # External ids count up in time order within the organization, like a real ticketing system.
        org_rows.sort(key=lambda r: (r[3], r[0]))
        demo.conversations.extend((org.slug, f"{org.prefix}-{i:06d}", *r) for i, r in enumerate(org_rows, 1))
    return demo
