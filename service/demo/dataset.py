"""Deterministic demo data set: six retail organizations whose rows reproduce the reference figures.

Everything is generated relative to today (UTC, `steward.clock()`), from one
fixed seed, so the same day always yields the same rows and "the last 30 days"
always shows the figures of DESIGN.md. The figures come out of the metric
views; this module only chooses how many conversations, updates and reviews
to write and when.

Layout: the data set (plain specs, in "days ago"), the generator (specs ->
rows with symbolic keys), the loader (rows -> one transaction), the figures.
"""
from __future__ import annotations

import asyncio
import math
import random
import time
from bisect import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate

import asyncpg

from service.db.pool import connect

UTC = UTC
SEED = 20261123
HISTORY_DAYS = 182  # ordinary deployments keep 26 weeks of conversations (the BI weekly view)
LEAVE_HOUR = 16.5   # people leave (and their ownership ends) at 16:30 UTC
ASSIGN_HOUR = 9.5   # ownership periods start and hand over at 09:30 UTC
WEEKDAY_VOLUME = (1.10, 1.05, 1.00, 1.00, 0.95, 0.85, 0.80)  # Monday .. Sunday
# Conversations start between 07:00 and 23:00 UTC; the last ones resolve before midnight.
HOURS = tuple(range(7, 23))
HOUR_CUMULATIVE = list(accumulate((2, 4, 6, 7, 7, 8, 7, 6, 6, 6, 7, 7, 6, 5, 3, 2)))


# ----------------------------------------------------------------------------- the data set

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


# --- the three reference deployments -----------------------------------------------------------

HARBOR_LEFT = 150      # Daniel Reyes left harbor-home ~5 months ago
NORTHWIND_NAMED = 63   # northwind named an owner ~2 months ago
NORTHWIND_LAUNCH = 425  # ~14 months ago


def harbor_arr(n: float) -> float:
    """Decent while owned; decays once nobody keeps the configuration current."""
    return 0.40 if n >= HARBOR_LEFT else 0.40 * math.exp(-0.0344 * (HARBOR_LEFT - n))


def northwind_arr(n: float) -> float:
    """A year unattended drifting between 8% and 18%, then the owner's two months of work."""
    if n >= NORTHWIND_NAMED:
        return 0.13 + 0.05 * math.sin(2 * math.pi * n / 53)
    if n >= 28:
        return 0.15 + (0.42 - 0.15) * (NORTHWIND_NAMED - n) / (NORTHWIND_NAMED - 28)
    return 0.44 + (0.54 - 0.44) * (28 - n) / 28


def pin_harbor(series: "Series") -> None:
    """Latest 4 weeks: 10 AI resolutions out of 2632 addressable conversations (0.38%)."""
    series.pin_window(27, addressable=2632, resolved=10)


def pin_northwind(series: "Series") -> None:
    """Unowned year: weekly ARR between 6% and 20% (both reached); latest 4 weeks: 48.9%."""
    weeks = series.whole_weeks(after=NORTHWIND_LAUNCH, before=NORTHWIND_NAMED)
    _nudge(min(weeks, key=lambda s: s.target), 0.06, 0.0649)
    _nudge(max(weeks, key=lambda s: s.target), 0.1955, 0.20)
    assert all(0.06 <= s.resolved / s.addressable <= 0.20 for s in weeks)
    addressable = series.pin_window(27, rate=0.489)
    resolved = sum(s.resolved for s in series.segments if s.days[0].n <= 27)
    assert round(resolved / addressable * 100, 1) == 48.9


def _nudge(week: "Segment", low: float, high: float) -> None:
    """Give a week an ARR in [low, high], moving its addressable count as little as possible."""
    for delta in sorted(range(-40, 41), key=abs):
        addressable = week.addressable + delta
        resolved = math.ceil(low * addressable - 1e-9)
        if addressable > 0 and resolved <= high * addressable + 1e-9:
            week.addressable, week.resolved = addressable, resolved
            return
    raise AssertionError("no addressable count near the planned one fits")


def lumen_burst(today: date, rng: random.Random) -> list[tuple[int, float, str]]:
    """The last 30 days at Lumen: 202 updates, 131 of them in the week of a collection launch."""
    peak = dict(zip(range(20, 13, -1), (17, 19, 20, 21, 20, 18, 16), strict=True))  # days ago -> updates
    quiet = [n for n in range(27, 0, -1) if n not in peak]
    weights = [0.4 if _weekday(today, n) >= 5 else 1.0 for n in quiet]
    shares = apportion(202 - sum(peak.values()), [w * rng.uniform(0.7, 1.3) for w in weights])
    counts = dict(zip(quiet, shares, strict=True))
    # Any other 7-day stretch swaps peak days for quiet ones, so it stays below 131.
    assert max(counts.values()) < min(peak.values()) and sum(peak.values()) == 131
    counts.update(peak)
    events = []
    for n, count in sorted(counts.items(), reverse=True):
        mix = BURST_KINDS if n in peak else ROUTINE_KINDS
        for _ in range(count):
            events.append((n, rng.uniform(8, 20), _pick(rng, mix)))
    return events


def _weekday(today: date, n: int) -> int:
    """Weekday (Monday 0) of the day `n` days before `today`."""
    return (today - timedelta(days=n)).weekday()


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


# --- the organizations -------------------------------------------------------------------------

LUMEN = Org(
    "lumen-beauty", "Lumen Beauty", "beauty retail", "lum", "lumenbeauty.example",
    topics=(
        Topic("order-status", "Order status", 0.22, 4.00), Topic("returns", "Returns and exchanges", 0.14, 6.50),
        Topic("shade-match", "Shade and product match", 0.16, 5.50), Topic("loyalty", "Loyalty points", 0.10, 3.50),
        Topic("shipping-delay", "Shipping delays", 0.10, 4.50),
        Topic("subscriptions", "Subscription boxes", 0.08, 5.00),
        Topic("damaged-item", "Damaged or leaking item", 0.06, 8.00),
        Topic("ingredients", "Ingredients and allergies", 0.08, 9.50),
        Topic("wholesale", "Salon and wholesale accounts", 0.06, 12.00),
    ),
    people=(
        Person("maya", "Maya Okafor", "CX AI Lead", "CX", 1.0),
        Person("jordan", "Jordan Lee", "Senior Platform Engineer", "ENGINEERING", 0.5),
        Person("sam", "Sam Whitfield", "CX Operations Manager", "CX", 0.6),
        Person("rina", "Rina Das", "VP Customer Experience", "CX", 0.1),
        Person("theo", "Theo Marsh", "Customer Success Manager, Brightdesk", "VENDOR", 0.3,
               domain="brightdesk.example"),
    ),
    deployments=(
        Deployment(
            "concierge", "Lumen Concierge", "Brightdesk", 420,
            {"CHAT": (40, None), "EMAIL": (17, None), "SOCIAL": (10, 200)},
            (Workflow("order-status", ("CHAT", "EMAIL"), 420), Workflow("returns", ("CHAT", "EMAIL"), 420),
             Workflow("shade-match", ("CHAT",), 420, 250, "Shade match (v1)"),
             Workflow("shade-match", ("CHAT", "SOCIAL"), 250), Workflow("loyalty", ("CHAT", "EMAIL"), 290),
             Workflow("shipping-delay", ("CHAT", "EMAIL", "SOCIAL"), 200),
             Workflow("order-status", ("SOCIAL",), 200, name="Order status (social)"),
             Workflow("subscriptions", ("CHAT", "EMAIL"), 120), Workflow("damaged-item", ("CHAT",), 90)),
            trend(0.61, 0.59, 120),
            owners=(Owner("jordan", 420, 300, "set up the deployment", "handover to CX"),
                    Owner("maya", 300, reason="handover from engineering: CX owns the AI")),
            cadence=Cadence(9, 31, reviews_until=2), integrations=6, extra_updates=lumen_burst,
        ),
        Deployment(
            "voice-line", "Lumen Voice Line", "Helix CX", 210, {"VOICE": (13, None)},
            (Workflow("order-status", ("VOICE",), 210), Workflow("shipping-delay", ("VOICE",), 150),
             Workflow("returns", ("VOICE",), 100)),
            steady(0.42), owners=(Owner("jordan", 210),), cadence=Cadence(2, 2, reviews_until=3), integrations=3,
        ),
        Deployment(
            "sms-alerts", "Lumen SMS Alerts", "Brightdesk", 300, {"SMS": (8, None)},
            (Workflow("order-status", ("SMS",), 300), Workflow("shipping-delay", ("SMS",), 300)),
            steady(0.50), owners=(Owner("sam", 300),), cadence=Cadence(1.5, 45, reviews_until=42),
            status="PAUSED", stopped=40,
        ),
        Deployment(
            "wholesale-desk", "Salon Wholesale Desk", "Brightdesk", 160, {"EMAIL": (5, None)},
            (Workflow("wholesale", ("EMAIL",), 160), Workflow("order-status", ("EMAIL",), 160)),
            wave(0.17, 0.04), topics={"wholesale": 0.55, "order-status": 0.25, "returns": 0.20},
            setup_by="theo", integrations=1,
        ),
    ),
)

HARBOR = Org(
    "harbor-home", "Harbor Home", "home goods retail", "hbr", "harborhome.example",
    topics=(
        Topic("order-status", "Order status", 0.30, 4.00), Topic("delivery", "Delivery scheduling", 0.18, 6.00),
        Topic("returns", "Returns", 0.22, 6.50), Topic("damaged-items", "Damaged items", 0.12, 9.00),
        Topic("assembly", "Assembly help", 0.10, 7.00), Topic("trade-program", "Trade programme", 0.08, 11.00),
    ),
    people=(
        Person("daniel", "Daniel Reyes", "CX Automation Lead", "CX", 0.8, left=HARBOR_LEFT),
        Person("priya", "Priya Nair", "Returns Experience Manager", "CX", 0.7),
        Person("tom", "Tom Becker", "IT Systems Manager", "IT", 0.5),
        Person("marisol", "Marisol Vega", "Director of Customer Care", "CX", 0.2),
        Person("chris", "Chris Lund", "Support Team Lead", "CX", 0.3),
    ),
    deployments=(
        Deployment(
            "assistant", "Harbor Assistant", "Brightdesk", 700, {"CHAT": (76, None), "EMAIL": (42, None)},
            (Workflow("order-status", ("CHAT", "EMAIL"), 690), Workflow("returns", ("CHAT", "EMAIL"), 690),
             Workflow("delivery", ("CHAT", "EMAIL"), 600), Workflow("damaged-items", ("CHAT", "EMAIL"), 400)),
            harbor_arr,
            owners=(Owner("daniel", 560, HARBOR_LEFT, ended_reason="owner left the company; nobody named"),),
            cadence=Cadence(4, HARBOR_LEFT + 1, reviews_until=HARBOR_LEFT + 2), integrations=5, pin=pin_harbor,
        ),
        Deployment(
            "returns-desk", "Returns Desk", "Sable Assist", 260, {"CHAT": (5, None), "EMAIL": (5, None)},
            (Workflow("returns", ("CHAT", "EMAIL"), 260), Workflow("damaged-items", ("CHAT", "EMAIL"), 200),
             Workflow("order-status", ("EMAIL",), 120)),
            trend(0.55, 0.50, 180),
            topics={"returns": 0.50, "damaged-items": 0.25, "order-status": 0.15, "assembly": 0.10},
            owners=(Owner("priya", 260),), cadence=Cadence(3, 1, reviews_until=2), integrations=3,
        ),
        Deployment(
            "store-voice", "Store Phone Assistant", "Helix CX", 330, {"VOICE": (10, None)},
            (Workflow("order-status", ("VOICE",), 330), Workflow("delivery", ("VOICE",), 330, 90)),
            steady(0.35), owners=(Owner("tom", 330),), cadence=Cadence(1.5, 4, reviews_until=4),
        ),
        Deployment(
            "legacy-faq", "Legacy FAQ Bot", "in-house", 900, {"CHAT": (4, None)},
            (Workflow("order-status", ("CHAT",), 900, 100), Workflow("returns", ("CHAT",), 900, 100)),
            steady(0.22),
            owners=(Owner("priya", 500, 100, ended_reason="deployment retired"),),
            cadence=Cadence(0.5, 110, review_every=28, reviews_until=105), status="RETIRED", stopped=100,
            integrations=0,
        ),
    ),
)

NORTHWIND = Org(
    "northwind-outfitters", "Northwind Outfitters", "outdoor apparel retail", "nwo", "northwind.example",
    topics=(
        Topic("order-status", "Order status", 0.28, 4.50), Topic("returns", "Returns and exchanges", 0.22, 6.00),
        Topic("sizing-fit", "Sizing and fit", 0.14, 5.00), Topic("warranty", "Warranty and repairs", 0.10, 9.00),
        Topic("product-care", "Product care", 0.08, 4.00), Topic("gift-cards", "Gift cards", 0.06, 3.50),
        Topic("store-events", "Store events", 0.05, 3.00), Topic("pro-deals", "Pro deals", 0.07, 7.50),
    ),
    people=(
        Person("elena", "Elena Novak", "Head of Customer Care", "CX", 0.8),
        Person("kai", "Kai Ito", "Implementation Manager, Brightdesk", "VENDOR", 0.5, domain="brightdesk.example"),
        Person("noah", "Noah Brooks", "E-commerce CX Specialist", "CX", 0.6),
        Person("sven", "Sven Dahl", "IT Analyst", "IT", 0.2),
        Person("amara", "Amara Osei", "Support Supervisor", "CX", 0.3),
    ),
    deployments=(
        Deployment(
            "helpdesk", "Northwind Helpdesk", "Brightdesk", NORTHWIND_LAUNCH,
            {"CHAT": (42, None), "EMAIL": (30, 50)},
            (Workflow("order-status", ("CHAT",), NORTHWIND_LAUNCH), Workflow("returns", ("CHAT",), NORTHWIND_LAUNCH),
             Workflow("gift-cards", ("CHAT",), NORTHWIND_LAUNCH, 58),
             Workflow("order-status", ("EMAIL",), 50, name="Order status (email)"),
             Workflow("returns", ("EMAIL",), 50, name="Returns and exchanges (email)"),
             Workflow("sizing-fit", ("CHAT", "EMAIL"), 44), Workflow("warranty", ("CHAT", "EMAIL"), 35),
             Workflow("product-care", ("CHAT", "EMAIL"), 21)),
            northwind_arr,
            owners=(Owner("elena", NORTHWIND_NAMED, reason="named accountable owner after the yearly CX review"),),
            cadence=Cadence(6, 1, reviews_until=1), history=NORTHWIND_LAUNCH, noise=0.01, integrations=4,
            pin=pin_northwind,
        ),
        Deployment(
            "order-tracker", "Order Tracker", "Brightdesk", 240, {"SMS": (6, None), "CHAT": (5, None)},
            (Workflow("order-status", ("SMS", "CHAT"), 240), Workflow("returns", ("CHAT",), 200)),
            steady(0.47), owners=(Owner("kai", 240, reason="vendor manages it"),),
            cadence=Cadence(2, 2, reviews_until=5),
        ),
        Deployment(
            "gear-advisor", "Gear Advisor", "Sable Assist", 280, {"CHAT": (8, None)},
            (Workflow("sizing-fit", ("CHAT",), 280), Workflow("product-care", ("CHAT",), 280),
             Workflow("pro-deals", ("CHAT",), 150)),
            steady(0.38), topics={"sizing-fit": 0.45, "product-care": 0.25, "pro-deals": 0.15, "returns": 0.15},
            owners=(Owner("noah", 280),), cadence=Cadence(2, 20, reviews_until=18),
        ),
        Deployment(
            "b2b-orders", "B2B Orders Inbox", "in-house", 190, {"EMAIL": (5, None)},
            (Workflow("order-status", ("EMAIL",), 190), Workflow("pro-deals", ("EMAIL",), 190)),
            wave(0.15, 0.04), topics={"order-status": 0.40, "pro-deals": 0.35, "returns": 0.25},
            setup_by="sven", integrations=1,
        ),
    ),
)

ALDER = Org(
    "alder-and-pine", "Alder & Pine", "furniture retail", "ald", "alderandpine.example",
    topics=(
        Topic("order-status", "Order status", 0.24, 5.00), Topic("delivery", "Delivery windows", 0.22, 8.00),
        Topic("assembly", "Assembly", 0.12, 7.50), Topic("returns", "Returns", 0.14, 9.00),
        Topic("fabric-care", "Fabric care", 0.08, 3.00), Topic("financing", "Financing", 0.10, 6.00),
        Topic("trade", "Trade accounts", 0.10, 12.00),
    ),
    people=(
        Person("grace", "Grace Kim", "Senior CX Manager, Stores", "CX", 0.5),
        Person("leo", "Leo Martins", "Digital CX Manager", "CX", 0.9),
        Person("ava", "Ava Patel", "Applications Engineer", "ENGINEERING", 0.6),
        Person("lena", "Lena Fox", "Solutions Consultant, Convai Retail", "VENDOR", 0.5, domain="convai.example"),
        Person("hannah", "Hannah Moore", "VP Customer Experience", "CX", 0.1),
    ),
    deployments=(
        Deployment(
            "chat", "Alder Chat", "Convai Retail", 400, {"CHAT": (20, None)},
            (Workflow("order-status", ("CHAT",), 400), Workflow("delivery", ("CHAT",), 400),
             Workflow("returns", ("CHAT",), 400), Workflow("assembly", ("CHAT",), 220),
             Workflow("financing", ("CHAT",), 150, 60)),
            trend(0.55, 0.50, 120),
            owners=(Owner("grace", 400, 100, ended_reason="handover: Grace now leads the stores programme"),
                    Owner("leo", 100, reason="handover from Grace Kim")),
            cadence=Cadence(4, 2, reviews_until=1), integrations=4,
        ),
        Deployment(
            "delivery-sms", "Delivery Updates", "Convai Retail", 260, {"SMS": (9, None)},
            (Workflow("delivery", ("SMS",), 260), Workflow("order-status", ("SMS",), 260)),
            steady(0.58), topics={"delivery": 0.55, "order-status": 0.30, "assembly": 0.15},
            owners=(Owner("leo", 260),), cadence=Cadence(2, 3, reviews_until=10),
        ),
        Deployment(
            "email-assist", "Email Assist", "Convai Retail", 300, {"EMAIL": (10, None)},
            (Workflow("order-status", ("EMAIL",), 300), Workflow("returns", ("EMAIL",), 300),
             Workflow("fabric-care", ("EMAIL",), 300)),
            steady(0.41), owners=(Owner("ava", 300),), cadence=Cadence(2, 2, reviews_until=3),
        ),
        Deployment(
            "voice-ivr", "Voice IVR", "Helix CX", 365, {"VOICE": (7, None)},
            (Workflow("order-status", ("VOICE",), 365), Workflow("delivery", ("VOICE",), 365)),
            trend(0.24, 0.30, 30),
            owners=(Owner("grace", 365, 30, ended_reason="owner moved to the stores programme; nobody named"),),
            cadence=Cadence(1, 31, review_every=14, reviews_until=32),
        ),
        Deployment(
            "trade-desk", "Trade Desk", "Convai Retail", 140, {"EMAIL": (4, None), "CHAT": (2, None)},
            (Workflow("trade", ("EMAIL",), 140),),
            wave(0.12, 0.03), topics={"trade": 0.60, "order-status": 0.25, "delivery": 0.15},
            setup_by="lena", integrations=1,
        ),
    ),
)

COPPERLEAF = Org(
    "copperleaf-grocers", "Copperleaf Grocers", "grocery retail", "cop", "copperleaf.example",
    topics=(
        Topic("delivery-slots", "Delivery slots", 0.22, 4.00), Topic("substitutions", "Substitutions", 0.18, 3.50),
        Topic("order-status", "Order status", 0.20, 3.00), Topic("refunds", "Refunds", 0.14, 5.50),
        Topic("pharmacy", "Pharmacy refills", 0.08, 11.00), Topic("recipes", "Recipes", 0.08, 1.50),
        Topic("loyalty", "Loyalty card", 0.10, 2.50),
    ),
    people=(
        Person("olivia", "Olivia Grant", "CX Automation Manager", "CX", 1.0),
        Person("marco", "Marco Silva", "Fulfilment CX Lead", "CX", 0.5),
        Person("raj", "Raj Mehta", "IT Business Partner", "IT", 0.8),
        Person("ines", "Ines Duarte", "Catering Service Manager", "CX", 0.5),
        Person("peter", "Peter Lang", "Head of Stores Support", "OTHER", 0.1),
    ),
    deployments=(
        Deployment(
            "shopper-help", "Shopper Help", "Sable Assist", 380, {"CHAT": (15, None), "SMS": (6, 200)},
            (Workflow("delivery-slots", ("CHAT", "SMS"), 200), Workflow("delivery-slots", ("CHAT",), 380, 200,
                                                                         "Delivery slots (chat only)"),
             Workflow("order-status", ("CHAT",), 380), Workflow("refunds", ("CHAT",), 250),
             Workflow("loyalty", ("CHAT", "SMS"), 120)),
            trend(0.58, 0.55, 90), owners=(Owner("olivia", 380),), cadence=Cadence(5, 1, reviews_until=1),
            integrations=5,
        ),
        Deployment(
            "substitutions", "Substitutions Assistant", "Sable Assist", 200, {"SMS": (9, None)},
            (Workflow("substitutions", ("SMS",), 200),),
            trend(0.64, 0.61, 90), topics={"substitutions": 0.75, "order-status": 0.15, "refunds": 0.10},
            owners=(Owner("marco", 200),), cadence=Cadence(2, 2, reviews_until=4),
        ),
        Deployment(
            "recipe-bot", "Recipe Bot", "in-house", 150, {"CHAT": (4, None), "SOCIAL": (3, None)},
            (Workflow("recipes", ("CHAT", "SOCIAL"), 150),),
            wave(0.20, 0.05), topics={"recipes": 0.70, "loyalty": 0.20, "order-status": 0.10}, integrations=0,
        ),
        Deployment(
            "pharmacy-line", "Pharmacy Line", "Helix CX", 240, {"VOICE": (6, None)},
            (Workflow("pharmacy", ("VOICE",), 240), Workflow("order-status", ("VOICE",), 240)),
            steady(0.33), topics={"pharmacy": 0.65, "order-status": 0.20, "refunds": 0.15},
            owners=(Owner("raj", 240),), cadence=Cadence(1.5, 3, reviews_until=2), integrations=3,
        ),
        Deployment(
            "catering", "Catering Orders", "Sable Assist", 220, {"EMAIL": (4, None)},
            (Workflow("order-status", ("EMAIL",), 220), Workflow("refunds", ("EMAIL",), 220)),
            steady(0.44), owners=(Owner("ines", 220),), cadence=Cadence(1, 30, reviews_until=16),
        ),
    ),
)

TIDEWATER = Org(
    "tidewater-sports", "Tidewater Sports", "sporting goods retail", "tdw", "tidewater.example",
    topics=(
        Topic("order-status", "Order status", 0.25, 4.00), Topic("returns", "Returns", 0.20, 6.00),
        Topic("sizing", "Sizing", 0.15, 5.00), Topic("club-membership", "Club membership", 0.12, 6.50),
        Topic("repairs", "Repairs and servicing", 0.10, 8.00), Topic("events", "Events and races", 0.08, 3.00),
        Topic("team-orders", "Team orders", 0.10, 10.00),
    ),
    people=(
        Person("zoe", "Zoe Carter", "CX Systems Lead", "CX", 0.8),
        Person("ben", "Ben Ortiz", "CX Specialist", "CX", 0.5),
        Person("mia", "Mia Fischer", "CX Product Owner", "CX", 0.7),
        Person("luis", "Luis Romero", "Customer Care Agent", "CX", 0.2),
    ),
    deployments=(
        Deployment(
            "support", "Tidewater Support", "Convai Retail", 360,
            {"CHAT": (17, None), "EMAIL": (8, None), "SOCIAL": (4, 150)},
            (Workflow("order-status", ("CHAT", "EMAIL"), 360),
             Workflow("order-status", ("SOCIAL",), 150, name="Order status (social)"),
             Workflow("returns", ("CHAT", "EMAIL"), 360), Workflow("sizing", ("CHAT",), 200),
             Workflow("repairs", ("CHAT", "EMAIL"), 90)),
            trend(0.56, 0.52, 150), owners=(Owner("zoe", 360),), cadence=Cadence(4, 1, reviews_until=2),
            integrations=4,
        ),
        Deployment(
            "fitting-assistant", "Fitting Assistant", "Convai Retail", 230, {"CHAT": (7, None)},
            (Workflow("sizing", ("CHAT",), 230), Workflow("returns", ("CHAT",), 230)),
            trend(0.51, 0.48, 90), topics={"sizing": 0.60, "returns": 0.25, "order-status": 0.15},
            owners=(Owner("ben", 230, 120, ended_reason="handover to the CX product owner"),
                    Owner("mia", 120, reason="handover from Ben Ortiz")),
            cadence=Cadence(2.5, 3, reviews_until=3),
        ),
        Deployment(
            "club-memberships", "Club Memberships", "in-house", 270, {"EMAIL": (8, None)},
            (Workflow("club-membership", ("EMAIL",), 270), Workflow("events", ("EMAIL",), 270)),
            trend(0.30, 0.50, 60),
            topics={"club-membership": 0.55, "events": 0.20, "order-status": 0.10, "returns": 0.15},
            owners=(Owner("ben", 270),), cadence=Cadence(1, 5, reviews_until=4), integrations=1,
        ),
    ),
    reopen_hours=48,
)

ORGS: tuple[Org, ...] = (LUMEN, HARBOR, NORTHWIND, ALDER, COPPERLEAF, TIDEWATER)
DEMO_SLUGS = tuple(o.slug for o in ORGS)


# ----------------------------------------------------------------------------- the generator

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


def _pick(rng: random.Random, weighted: Mapping[str, float]) -> str:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


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
                if len(s.days) == 7 and _weekday(self.today, s.days[0].n) == 0
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
    factor = WEEKDAY_VOLUME[_weekday(today, n)] * rng.uniform(0.88, 1.12)
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


def _series(org: Org, dep: Deployment, today: date, rng: random.Random) -> Series:
    """Plan every conversation day of the deployment into ISO-week segments with exact counts."""
    first = min(dep.history, dep.launched)
    last = (dep.stopped or 0) + 1
    cuts = {27, NORTHWIND_NAMED} if dep.pin else set()
    segments: list[Segment] = []
    for n in range(first, last - 1, -1):
        day = _day(org, dep, today, n, rng)
        if not segments or n in cuts or _weekday(today, n) == 0:
            segments.append(Segment([], 0.0, 0))
        segments[-1].days.append(day)
    for s in segments:
        middle = (s.days[0].n + s.days[-1].n) / 2
        s.target = min(max(dep.arr(middle) + rng.uniform(-dep.noise, dep.noise), 0.0), 1.0)
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


# --- activity: ownership, workflow periods, updates, reviews -----------------------------------

def _at(today: date, n: float, hour: float = 0.0) -> datetime:
    """The UTC instant `hour` hours into the day `n` days before today."""
    return datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=n) + timedelta(hours=hour)


def _owner_periods(org: Org, dep: Deployment, today: date) -> list[tuple[str, datetime, datetime | None, Owner]]:
    people = {p.key: p for p in org.people}
    periods = []
    for o in dep.owners:
        end = None
        if o.end is not None:
            left = people[o.person].left
            end = _at(today, o.end, LEAVE_HOUR if left == o.end else ASSIGN_HOUR)
        periods.append((o.person, _at(today, o.start, ASSIGN_HOUR), end, o))
    return periods


def _owner_at(periods, instant: datetime) -> str | None:
    return next((p for p, start, end, _ in periods if start <= instant and (end is None or instant < end)), None)


def _live(dep: Deployment, n: int) -> list[Workflow]:
    return [w for w in dep.workflows if w.start >= n and (w.end is None or n > w.end)]


def _wf_name(org: Org, w: Workflow) -> str:
    return w.name or next(t.name for t in org.topics if t.key == w.topic)


def _summary(org: Org, rng: random.Random, kind: str, w: Workflow | None, channel: str = "") -> str:
    return rng.choice(SUMMARIES[kind]).format(wf=_wf_name(org, w) if w else "", channel=channel)


def _update(org, dep, rng, n: int, hour: float, kind: str, author: str) -> tuple:
    """One workflow update; kinds about a workflow name one that was live that day."""
    needs_workflow = kind in ("WORKFLOW_CHANGE", "KNOWLEDGE_REFRESH", "POLICY_UPDATE")
    live = _live(dep, n) if needs_workflow else []
    if needs_workflow and not live:
        kind = "CONFIG_CHANGE"
    w = rng.choice(live) if live else None
    return (dep.key, author, _wf_name(org, w) if w else None, kind, _summary(org, rng, kind, w), (n, hour))


def _cadence_updates(org, dep, rng, periods, today) -> list[tuple]:
    """Updates at the cadence's rate (exponential gaps), by whoever owned the deployment then."""
    c = dep.cadence
    since = c.since if c.since is not None else dep.owners[0].start
    rows, x = [], rng.expovariate(c.updates_per_week / 7)
    while since - x > c.updates_until - 1:
        n = math.ceil(since - x)
        hour = rng.uniform(8, 19)
        author = _owner_at(periods, _at(today, n, hour))
        if author:
            rows.append(_update(org, dep, rng, n, hour, _pick(rng, ROUTINE_KINDS), author))
        x += rng.expovariate(c.updates_per_week / 7)
    author = _owner_at(periods, _at(today, c.updates_until, 11))
    if author:  # the cadence's last update lands on its last day, whatever the draw
        rows.append(_update(org, dep, rng, c.updates_until, 11.0, _pick(rng, ROUTINE_KINDS), author))
    return rows


def _workflow_events(org, dep, rng, periods, today) -> list[tuple]:
    """New workflows, channel launches and retirements recorded by the owner of the day."""
    rows = []
    opened = {ch: (o if o is not None else dep.launched) for ch, (_, o) in dep.channels.items()}
    for w in dep.workflows:
        author = _owner_at(periods, _at(today, w.start, 10))
        if w.start < dep.launched and author:  # workflows live at launch are the initial set-up
            new_channel = next((ch for ch in w.channels if opened[ch] == w.start), None)
            earlier = any(v.topic == w.topic and v.start > w.start for v in dep.workflows)
            kind = "CHANNEL_LAUNCH" if new_channel else "WORKFLOW_CHANGE" if earlier else "NEW_USE_CASE"
            summary = _summary(org, rng, kind, w, new_channel or "")
            rows.append((dep.key, author, _wf_name(org, w), kind, summary, (w.start, 10.0)))
        ended_author = w.end is not None and _owner_at(periods, _at(today, w.end, 10))
        if ended_author and w.end != dep.stopped:
            rows.append((dep.key, ended_author, _wf_name(org, w), "WORKFLOW_CHANGE",
                         _summary(org, rng, "RETIRED", w), (w.end, 10.0)))
    return rows


def _reviews(org, dep, rng, periods, today) -> list[tuple]:
    c = dep.cadence
    if not c or not c.review_every:
        return []
    since = c.since if c.since is not None else dep.owners[0].start
    rows = []
    for n in range(c.reviews_until, since + 1, c.review_every):
        reviewer = _owner_at(periods, _at(today, n, 15))
        if reviewer:
            rows.append((dep.key, reviewer, (n, 15 + rng.uniform(0, 2)), rng.choice(REVIEW_NOTES),
                         list(rng.choice(REVIEW_DECISIONS))))
    return rows


# --- the whole data set ------------------------------------------------------------------------

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
            _activity(demo, org, dep, today, rng)
            writer = Writer(org, dep, today, rng)
            for segment in _series(org, dep, today, rng).segments:
                writer.segment(segment)
            org_rows.extend(writer.rows)
        # External ids count up in time order within the organization, like a real ticketing system.
        org_rows.sort(key=lambda r: (r[3], r[0]))
        demo.conversations.extend((org.slug, f"{org.prefix}-{i:06d}", *r) for i, r in enumerate(org_rows, 1))
    return demo


def _activity(demo: Demo, org: Org, dep: Deployment, today: date, rng: random.Random) -> None:
    """Ownership periods, workflow periods, updates and reviews of one deployment."""
    periods = _owner_periods(org, dep, today)
    for person, start, end, o in periods:
        demo.assignments.append((org.slug, dep.key, person, start, end, o.reason, o.ended_reason))
    names = [_wf_name(org, w) for w in dep.workflows]
    assert len(set(names)) == len(names), f"{dep.key}: workflow names must be unique"
    for w in dep.workflows:
        end = _at(today, w.end) if w.end is not None else None
        demo.periods.append((org.slug, dep.key, _wf_name(org, w), _at(today, w.start), end))
    updates = _workflow_events(org, dep, rng, periods, today)
    if dep.cadence:
        updates += _cadence_updates(org, dep, rng, periods, today)
    if dep.extra_updates:
        for n, hour, kind in dep.extra_updates(today, rng):
            author = _owner_at(periods, _at(today, n, hour))
            assert author, f"{dep.key}: extra updates need an owner"
            updates.append(_update(org, dep, rng, n, hour, kind, author))
    if dep.setup_by:
        updates += [(dep.key, dep.setup_by, None, "CONFIG_CHANGE", SUMMARIES["SETUP"][i], (dep.launched - i, 11.0))
                    for i in range(2)]
    for key, author, wf, kind, summary, (n, hour) in updates:
        demo.updates.append((org.slug, key, author, wf, kind, summary, _at(today, n, hour)))
    for key, reviewer, (n, hour), notes, decisions in _reviews(org, dep, rng, periods, today):
        demo.reviews.append((org.slug, key, reviewer, _at(today, n, hour), notes, decisions))


# ----------------------------------------------------------------------------- the loader

async def load_demo(url: str) -> str:
    """Replace the demo organizations with a fresh data set, in one transaction; returns a summary."""
    started = time.perf_counter()
    conn = await connect(url)
    try:
        today = await conn.fetchval("select (steward.clock() at time zone 'UTC')::date")
        async with conn.transaction():
            # The server purges while Python builds the rows.
            demo, _ = await asyncio.gather(asyncio.to_thread(build, today), purge(conn))
            await insert(conn, demo)
    finally:
        await conn.close()
    people = sum(len(o.people) for o in ORGS)
    deployments = sum(len(o.deployments) for o in ORGS)
    return (f"steward: demo loaded for {today.isoformat()}: {len(ORGS)} organizations, {deployments} deployments,"
            f" {people} people, {len(demo.conversations):,} conversations, {len(demo.updates):,} workflow updates,"
            f" {len(demo.reviews):,} reviews in {time.perf_counter() - started:.1f} s")


async def purge(conn: asyncpg.Connection) -> None:
    """Delete the demo organizations (everything cascades); ownership history allows it only here."""
    await conn.execute("select set_config('steward.purge', 'on', true)")
    await conn.execute("delete from steward.organizations where slug = any($1::text[])", list(DEMO_SLUGS))
    await conn.execute("select set_config('steward.purge', 'off', true)")


async def insert(conn: asyncpg.Connection, demo: Demo) -> None:
    """Write the data set; coverage before conversations, so the rollup is built once."""
    ids = Ids()
    await _insert_orgs(conn, ids)
    await _insert_people(conn, ids, demo.today)
    await _insert_topics(conn, ids)
    await _insert_deployments(conn, ids, demo.today)
    await _insert_workflows(conn, ids)
    await _copy(conn, "ownership_assignments",
                ("org_id", "deployment_id", "person_id", "valid", "assigned_by", "reason", "ended_reason"),
                [(ids.org[s], ids.dep[s, d], ids.person[s, p], asyncpg.Range(start, end), "steward demo", reason, ended)
                 for s, d, p, start, end, reason, ended in demo.assignments])
    await _copy(conn, "workflow_periods", ("org_id", "workflow_id", "active"),
                [(ids.org[s], ids.workflow[s, d, w], asyncpg.Range(start, end))
                 for s, d, w, start, end in demo.periods])
    await _copy(conn, "workflow_updates",
                ("org_id", "deployment_id", "author_id", "workflow_id", "kind", "summary", "occurred_at"),
                [(ids.org[s], ids.dep[s, d], ids.person[s, p], ids.workflow[s, d, w] if w else None, kind, summary, at)
                 for s, d, p, w, kind, summary, at in demo.updates])
    await _copy(conn, "performance_reviews",
                ("org_id", "deployment_id", "reviewer_id", "reviewed_at", "notes", "decisions"),
                [(ids.org[s], ids.dep[s, d], ids.person[s, p], at, notes, decisions)
                 for s, d, p, at, notes, decisions in demo.reviews])
    await _copy(conn, "conversations",
                ("org_id", "external_id", "deployment_id", "topic_id", "channel", "started_at", "ai_engaged",
                 "outcome", "resolved_at", "reopened_at"),
                [(ids.org[s], ext, ids.dep[s, d], ids.topic[s, t], *rest)
                 for s, ext, d, t, *rest in demo.conversations])


@dataclass
class Ids:
    """Database ids of what the loader inserted, by symbolic key."""
    org: dict = field(default_factory=dict)       # slug
    person: dict = field(default_factory=dict)    # (slug, person key)
    topic: dict = field(default_factory=dict)     # (slug, topic key)
    dep: dict = field(default_factory=dict)       # (slug, deployment key)
    workflow: dict = field(default_factory=dict)  # (slug, deployment key, workflow name)


async def _copy(conn: asyncpg.Connection, table: str, columns: tuple[str, ...], records: list) -> None:
    await conn.copy_records_to_table(table, schema_name="steward", columns=columns, records=records)


async def _insert_orgs(conn: asyncpg.Connection, ids: Ids) -> None:
    rows = await conn.fetch(
        "insert into steward.organizations (slug, name, vertical)"
        " select * from unnest($1::text[], $2::text[], $3::text[]) returning id, slug",
        [o.slug for o in ORGS], [o.name for o in ORGS], [o.vertical for o in ORGS],
    )
    ids.org.update({r["slug"]: r["id"] for r in rows})
    # Inserting an organization created its default policy; some organizations use a longer reopen window.
    await conn.execute(
        "update steward.health_policies p set reopen_window = make_interval(hours => x.hours)"
        " from unnest($1::bigint[], $2::int[]) x(org_id, hours) where p.org_id = x.org_id",
        [ids.org[o.slug] for o in ORGS if o.reopen_hours != 24], [o.reopen_hours for o in ORGS if o.reopen_hours != 24],
    )


def _email(org: Org, p: Person) -> str:
    return f"{p.name.lower().replace(' ', '.')}@{p.domain or org.domain}"


async def _insert_people(conn: asyncpg.Connection, ids: Ids, today: date) -> None:
    people = [(o, p) for o in ORGS for p in o.people]
    rows = await conn.fetch(
        "insert into steward.persons (org_id, name, email, title, function, fte_on_ai, active, deactivated_at)"
        " select o, n, e, t, f, fte, left_at is null, left_at"
        " from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::timestamptz[])"
        "   as x(o, n, e, t, f, fte, left_at)"
        " returning id, org_id, email",
        [ids.org[o.slug] for o, _ in people], [p.name for _, p in people], [_email(o, p) for o, p in people],
        [p.title for _, p in people], [p.function for _, p in people], [p.fte for _, p in people],
        [_at(today, p.left, LEAVE_HOUR) if p.left is not None else None for _, p in people],
    )
    by_email = {(r["org_id"], r["email"]): r["id"] for r in rows}
    for o, p in people:
        ids.person[o.slug, p.key] = by_email[ids.org[o.slug], _email(o, p)]


async def _insert_topics(conn: asyncpg.Connection, ids: Ids) -> None:
    topics = [(o, t) for o in ORGS for t in o.topics]
    rows = await conn.fetch(
        "insert into steward.topics (org_id, key, name, escalation_cost)"
        " select * from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[]) returning id, org_id, key",
        [ids.org[o.slug] for o, _ in topics], [t.key for _, t in topics], [t.name for _, t in topics],
        [t.escalation_cost for _, t in topics],
    )
    slug = {v: k for k, v in ids.org.items()}
    ids.topic.update({(slug[r["org_id"]], r["key"]): r["id"] for r in rows})


async def _insert_deployments(conn: asyncpg.Connection, ids: Ids, today: date) -> None:
    deps = [(o, d) for o in ORGS for d in o.deployments]
    rows = await conn.fetch(
        "insert into steward.deployments (org_id, key, name, channels, vendor, status, launched_at, integrations)"
        " select o, k, n, string_to_array(c, ','), v, s, l, i"
        " from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],"
        "             $8::int[]) as x(o, k, n, c, v, s, l, i)"
        " returning id, org_id, key",
        [ids.org[o.slug] for o, _ in deps], [d.key for _, d in deps], [d.name for _, d in deps],
        [",".join(d.channels) for _, d in deps], [d.vendor for _, d in deps], [d.status for _, d in deps],
        [_at(today, d.launched, 6) for _, d in deps], [d.integrations for _, d in deps],
    )
    slug = {v: k for k, v in ids.org.items()}
    ids.dep.update({(slug[r["org_id"]], r["key"]): r["id"] for r in rows})


async def _insert_workflows(conn: asyncpg.Connection, ids: Ids) -> None:
    flows = [(o, d, w) for o in ORGS for d in o.deployments for w in d.workflows]
    rows = await conn.fetch(
        "insert into steward.workflows (org_id, deployment_id, topic_id, name, channels)"
        " select o, d, t, n, string_to_array(c, ',')"
        " from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) as x(o, d, t, n, c)"
        " returning id, deployment_id, name",
        [ids.org[o.slug] for o, _, _ in flows], [ids.dep[o.slug, d.key] for o, d, _ in flows],
        [ids.topic[o.slug, w.topic] for o, _, w in flows], [_wf_name(o, w) for o, _, w in flows],
        [",".join(w.channels) for _, _, w in flows],
    )
    dep_key = {v: k for k, v in ids.dep.items()}
    ids.workflow.update({(*dep_key[r["deployment_id"]], r["name"]): r["id"] for r in rows})


# ----------------------------------------------------------------------------- the figures

FIGURES = """
with d as (
    select dep.id, dep.key, o.slug, (dep.launched_at at time zone 'UTC')::date as launched,
           (select (min(lower(oa.valid)) at time zone 'UTC')::date from steward.ownership_assignments oa
             where oa.org_id = dep.org_id and oa.deployment_id = dep.id) as first_owned
    from steward.deployments dep join steward.organizations o on o.id = dep.org_id
    where (o.slug, dep.key) in (('lumen-beauty', 'concierge'), ('harbor-home', 'assistant'),
                                ('northwind-outfitters', 'helpdesk'))
), today as (select (steward.clock() at time zone 'UTC')::date as t)
select
    (select t from today) as today,
    (select reopen_window_hours from d, today, metrics.deployment_window(array[d.id], t - 27, t + 1)
      where d.slug = 'harbor-home') as reopen_window_hours,
    lumen.workflow_updates as lumen_updates_30d,
    lumen.peak_week_updates as lumen_peak_week,
    harbor.addressable_resolution_rate as harbor_arr_4w,
    harbor.ai_resolved as harbor_ai_resolved_4w,
    harbor.addressable as harbor_addressable_4w,
    unowned.min_arr as northwind_weekly_arr_min,
    unowned.max_arr as northwind_weekly_arr_max,
    unowned.weeks as northwind_unowned_weeks,
    northwind.addressable_resolution_rate as northwind_arr_4w,
    northwind.first_owned_days_ago as northwind_owner_days,
    owners.min_fte as owner_fte_min,
    owners.max_fte as owner_fte_max,
    owners.outside_cx as owners_outside_cx
from today
cross join lateral (
    select m.* from d, metrics.deployment_window(array[d.id], t - 29, t + 1) m where d.slug = 'lumen-beauty'
) lumen
cross join lateral (
    select m.* from d, metrics.deployment_window(array[d.id], t - 27, t + 1) m where d.slug = 'harbor-home'
) harbor
cross join lateral (
    select m.addressable_resolution_rate, t - d.first_owned as first_owned_days_ago
    from d, metrics.deployment_window(array[d.id], t - 27, t + 1) m where d.slug = 'northwind-outfitters'
) northwind
cross join lateral (
    -- every complete ISO week between launch and the day an owner was first named
    select min(m.addressable_resolution_rate) as min_arr, max(m.addressable_resolution_rate) as max_arr,
           count(*) as weeks
    from d, metrics.deployment_weeks(array[d.id], d.launched, d.first_owned) m
    where d.slug = 'northwind-outfitters' and m.window_from >= d.launched and m.window_to <= d.first_owned
) unowned
cross join lateral (
    select min(c.fte_on_ai) as min_fte, max(c.fte_on_ai) as max_fte,
           count(*) filter (where c.person_function <> 'CX') as outside_cx
    from metrics.current_owners c join steward.organizations o on o.id = c.org_id
    where o.slug = any($1::text[])
) owners
"""


async def reference_figures(conn: asyncpg.Connection) -> dict:
    """The reference figures of DESIGN.md, read from the metric views for today."""
    row = await conn.fetchrow(FIGURES, list(DEMO_SLUGS))
    return dict(row)


async def print_reference_figures(url: str) -> None:
    """Print the reference figures as the views report them."""
    conn = await connect(url)
    try:
        f = await reference_figures(conn)
    finally:
        await conn.close()
    print(f"Reference figures for {f['today']} (UTC; AI resolutions reopened within {f['reopen_window_hours']} h"
          " do not count):")
    print(f"  lumen-beauty/concierge          workflow updates, last 30 days: {f['lumen_updates_30d']}"
          f", most in 7 days: {f['lumen_peak_week']}")
    print(f"  harbor-home/assistant           owner left, nobody named; ARR last 4 weeks:"
          f" {f['harbor_arr_4w'] * 100:.2f}% ({f['harbor_ai_resolved_4w']} of {f['harbor_addressable_4w']})")
    print(f"  northwind-outfitters/helpdesk   no owner for {f['northwind_unowned_weeks']} weeks: weekly ARR"
          f" {f['northwind_weekly_arr_min'] * 100:.0f}% to {f['northwind_weekly_arr_max'] * 100:.0f}%")
    print(f"  northwind-outfitters/helpdesk   owner named {f['northwind_owner_days']} days ago; ARR last 4 weeks:"
          f" {f['northwind_arr_4w'] * 100:.1f}%")
    print(f"  owners (demo organizations)     FTE on AI: {f['owner_fte_min']:.1f} to {f['owner_fte_max']:.1f}"
          f" ({f['owners_outside_cx']} outside CX)")
