"""Window metrics, weekly series, owners, opportunities, impact and the daily rollup, on hand-built rows.

Calendar used throughout: 2026-03-02 is a Monday; DST in Europe starts 2026-03-29 01:00 UTC.
"""
import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest

from service.db.pool import connect

from ..factory import Factory, at, wait_until_blocked

H = timedelta(hours=1)
S = timedelta(seconds=1)
LATER = at("2026-03-20")  # "now" for windows that lie entirely in the past


async def covered_deployment(factory, org=None, *, channels=("CHAT",), **kwargs):
    """An org, a deployment and a topic with a CHAT workflow active since 2020."""
    org = org or await factory.org(**kwargs)
    dep = await factory.deployment(org, channels=channels)
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    return org, dep, topic


# --- reopen window --------------------------------------------------------------------------------

async def test_reopen_inside_the_24h_window_counts_but_at_or_after_its_end_does_not(factory):
    org, dep, topic = await covered_deployment(factory)
    day = at("2026-03-03")
    await factory.conversation(org, dep, topic, day, reopened_after=24 * H - S)   # inside: reopened
    await factory.conversation(org, dep, topic, day, reopened_after=24 * H)       # exactly at the end: resolved
    await factory.conversation(org, dep, topic, day, reopened_after=24 * H + S)   # after: resolved
    await factory.conversation(org, dep, topic, day)                              # never reopened: resolved
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # 4 AI outcomes, 1 reopened (half-open [resolved, resolved + 24h)), 3 resolved of 4 addressable
    assert m["reopen_window_hours"] == 24
    assert (m["ai_outcomes"], m["reopened"], m["ai_resolved"]) == (4, 1, 3)
    assert m["reopen_rate"] == 1 / 4
    assert m["addressable_resolution_rate"] == 3 / 4


async def test_a_72_hour_reopen_window_per_organization(factory):
    wide, dep_wide, topic_wide = await covered_deployment(factory, reopen_hours=72)
    default, dep_default, topic_default = await covered_deployment(factory)
    for org, dep, topic in ((wide, dep_wide, topic_wide), (default, dep_default, topic_default)):
        for after in (24 * H, 48 * H, 72 * H - S, 72 * H):
            await factory.conversation(org, dep, topic, at("2026-03-03"), reopened_after=after)
    await factory.set_now(LATER)

    m_wide = await factory.window(dep_wide, "2026-03-02", "2026-03-09")
    m_default = await factory.window(dep_default, "2026-03-02", "2026-03-09")

    # 72h: 24h, 48h and 72h-1s are reopens, 72h is not -> 3 reopened, 1 resolved
    assert (m_wide["reopen_window_hours"], m_wide["reopened"], m_wide["ai_resolved"]) == (72, 3, 1)
    # 24h: every reopen came at or after 24h -> none reopened, 4 resolved
    assert (m_default["reopen_window_hours"], m_default["reopened"], m_default["ai_resolved"]) == (24, 0, 4)


async def test_changing_the_reopen_window_reclassifies_existing_conversations(factory):
    org, dep, topic = await covered_deployment(factory)
    await factory.conversation(org, dep, topic, at("2026-03-03"), reopened_after=12 * H)
    await factory.conversation(org, dep, topic, at("2026-03-04"), reopened_after=48 * H)
    await factory.conversation(org, dep, topic, at("2026-03-05"), reopened_after=60 * H)
    await factory.set_now(LATER)
    before = await factory.window(dep, "2026-03-02", "2026-03-09")

    await factory.policy(org, reopen_hours=72)
    widened = await factory.window(dep, "2026-03-02", "2026-03-09")
    await factory.policy(org, reopen_hours=24)
    restored = await factory.window(dep, "2026-03-02", "2026-03-09")

    # 24h: only the 12h reopen counts -> reopened 1, resolved 2
    assert (before["reopened"], before["ai_resolved"]) == (1, 2)
    # 72h: all three reopens fall inside -> reopened 3, resolved 0; the trigger refreshed the rollup
    assert (widened["reopen_window_hours"], widened["reopened"], widened["ai_resolved"]) == (72, 3, 0)
    assert (restored["reopened"], restored["ai_resolved"]) == (1, 2)
    assert await factory.rollup_mismatches() == []


async def test_reopen_rate_counts_every_ai_resolution_and_arr_only_addressable_ones(factory):
    org, dep, covered = await covered_deployment(factory)
    uncovered = await factory.topic(org)
    day = at("2026-03-03")
    await factory.conversation(org, dep, covered, day)                                        # a1 resolved
    await factory.conversation(org, dep, covered, day, reopened_after=H)                      # a2 reopened
    await factory.conversation(org, dep, covered, day, outcome="ESCALATED", reopened_after=H) # a3 escalated
    await factory.conversation(org, dep, covered, day, outcome="ABANDONED", ai_engaged=False) # a4
    await factory.conversation(org, dep, covered, day, outcome="OPEN")                        # a5
    await factory.conversation(org, dep, uncovered, day, reopened_after=H)                    # u1 reopened
    await factory.conversation(org, dep, uncovered, day)                                      # u2 (not addressable)
    await factory.conversation(org, dep, uncovered, day, outcome="ESCALATED", ai_engaged=False)  # u3
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # conversations 8; addressable a1..a5 = 5; unaddressable u1..u3 = 3; ai_engaged 8 - a4 - u3 = 6
    assert (m["conversations"], m["addressable"], m["unaddressable"], m["ai_engaged"]) == (8, 5, 3, 6)
    # AI outcomes a1, a2, u1, u2 = 4, reopened a2, u1 = 2 (a3's reopen is not an AI outcome)
    assert (m["ai_outcomes"], m["reopened"], m["reopen_rate"]) == (4, 2, 2 / 4)
    # AI resolved: addressable, AI outcome, not reopened = a1 only; escalated counts addressable a3 only
    assert (m["ai_resolved"], m["escalated"]) == (1, 1)
    assert m["addressable_resolution_rate"] == 1 / 5
    assert m["topic_coverage"] == 5 / 8
    assert m["escalation_rate"] == 1 / 5
    # automation = resolved / conversations = 1/8 = ARR x coverage = 1/5 x 5/8
    assert m["automation_rate"] == 1 / 8
    assert m["automation_rate"] == pytest.approx(m["addressable_resolution_rate"] * m["topic_coverage"])


# --- coverage -------------------------------------------------------------------------------------

async def test_coverage_is_decided_at_the_start_instant_against_a_half_open_period(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic, start=at("2026-03-03", 0), end=at("2026-03-05", 0))
    for started in (at("2026-03-03", 0) - S, at("2026-03-03", 0), at("2026-03-04"), at("2026-03-05", 0),
                    at("2026-03-06")):
        await factory.conversation(org, dep, topic, started, outcome="ESCALATED")
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # covered: exactly at the period start and inside it; not one second before, not at its end
    assert (m["conversations"], m["addressable"], m["unaddressable"]) == (5, 2, 3)
    assert m["topic_coverage"] == 2 / 5


async def test_retiring_a_workflow_uncovers_conversations_after_its_end(factory):
    org, dep, topic = await covered_deployment(factory)
    for day in ("2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"):
        await factory.conversation(org, dep, topic, at(day))
    await factory.set_now(LATER)
    before = await factory.window(dep, "2026-03-02", "2026-03-09")

    # retire on 03-05 00:00, then bring a new period back from 03-06 00:00
    await factory.conn.execute(
        "update steward.workflow_periods set active = tstzrange(lower(active), $2) where org_id = $1",
        org, at("2026-03-05", 0),
    )
    retired = await factory.window(dep, "2026-03-02", "2026-03-09")
    workflow = await factory.conn.fetchval("select id from steward.workflows where deployment_id = $1", dep)
    await factory.conn.execute(
        "insert into steward.workflow_periods (org_id, workflow_id, active) values ($1, $2, tstzrange($3, null))",
        org, workflow, at("2026-03-06", 0),
    )
    revived = await factory.window(dep, "2026-03-02", "2026-03-09")

    assert (before["addressable"], before["topic_coverage"], before["ai_resolved"]) == (4, 1.0, 4)
    # 03-05 and 03-06 no longer covered: 2 of 4, and only covered resolutions count toward ARR
    assert (retired["addressable"], retired["topic_coverage"], retired["ai_resolved"]) == (2, 0.5, 2)
    assert retired["automation_rate"] == 2 / 4
    # 03-06 covered again: 3 of 4
    assert (revived["addressable"], revived["topic_coverage"]) == (3, 0.75)
    assert await factory.rollup_mismatches() == []


async def test_a_channel_the_workflow_does_not_cover_is_not_addressable(factory):
    org, dep, topic = await covered_deployment(factory, channels=("CHAT", "EMAIL"))
    for channel in ("CHAT", "CHAT", "EMAIL", "EMAIL"):
        await factory.conversation(org, dep, topic, at("2026-03-03"), channel=channel)
    await factory.set_now(LATER)
    chat_only = await factory.window(dep, "2026-03-02", "2026-03-09")

    await factory.conn.execute("update steward.workflows set channels = '{CHAT,EMAIL}' where deployment_id = $1", dep)
    both = await factory.window(dep, "2026-03-02", "2026-03-09")

    # the EMAIL half of the topic is uncovered until the workflow covers EMAIL too
    assert (chat_only["addressable"], chat_only["topic_coverage"], chat_only["ai_resolved"]) == (2, 0.5, 2)
    assert (both["addressable"], both["topic_coverage"], both["ai_resolved"]) == (4, 1.0, 4)
    assert await factory.rollup_mismatches() == []


# --- windows --------------------------------------------------------------------------------------

async def test_a_deployment_without_conversations_has_zero_counts_and_null_rates(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    assert [m[k] for k in ("conversations", "addressable", "unaddressable", "ai_engaged", "ai_outcomes",
                           "ai_resolved", "reopened", "escalated", "workflow_updates", "peak_week_updates",
                           "reviews")] == [0] * 11
    assert [m[k] for k in ("topic_coverage", "addressable_resolution_rate", "reopen_rate", "automation_rate",
                           "escalation_rate", "days_since_last_update", "days_since_last_review")] == [None] * 7
    assert m["weeks_reviewed"] == 0.0
    # never owned, live since 2020: the whole 7-day window is a gap
    assert m["ownership_gap_days"] == Decimal("7.00")


async def test_windows_are_half_open_utc_days(factory):
    org, dep, topic = await covered_deployment(factory)
    author = await factory.person(org)
    for instant in (at("2026-03-02", 0) - S, at("2026-03-02", 0), at("2026-03-09", 0) - S, at("2026-03-09", 0)):
        await factory.conversation(org, dep, topic, instant)
        await factory.update(org, dep, author, instant)
        await factory.review(org, dep, author, instant)
    await factory.set_now(LATER)

    week = await factory.window(dep, "2026-03-02", "2026-03-09")
    following = await factory.window(dep, "2026-03-09", "2026-03-16")
    empty = await factory.conn.fetch(
        "select * from metrics.deployment_window(array[$1::bigint], '2026-03-09', '2026-03-09')", dep
    )

    # [03-02 00:00, 03-09 00:00): from-midnight in, one second before to-midnight in, to-midnight out
    assert (week["conversations"], week["workflow_updates"], week["reviews"]) == (2, 2, 2)
    # the instant at 03-09 00:00 belongs to the next window
    assert (following["conversations"], following["workflow_updates"], following["reviews"]) == (1, 1, 1)
    assert empty == []


# --- workflow updates and reviews -----------------------------------------------------------------

async def test_peak_week_counts_updates_on_the_first_and_last_days_and_nothing_outside(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    author = await factory.person(org)
    batches = [
        (at("2026-02-28", 23), 5),   # outside, just before
        (at("2026-03-01", 0), 3),    # first instant of the window
        (at("2026-03-07"), 2),
        (at("2026-03-08"), 1),
        (at("2026-03-30", 23), 4),   # last day of the window
        (at("2026-03-31", 0), 6),    # outside, the window's end
    ]
    for instant, n in batches:
        for _ in range(n):
            await factory.update(org, dep, author, instant)
    await factory.set_now(at("2026-04-10"))

    m = await factory.window(dep, "2026-03-01", "2026-03-31")

    # in window: 3 + 2 + 1 + 4 = 10. 7-day frames inside: [03-01..03-07] = 3 + 2 = 5,
    # [03-02..03-08] = 2 + 1 = 3, [03-24..03-30] = 4. Leaking frames would give 5 + 3 = 8 or 4 + 6 = 10.
    assert (m["workflow_updates"], m["peak_week_updates"]) == (10, 5)


async def test_peak_week_in_the_last_seven_days_of_the_window(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    author = await factory.person(org)
    for day, n in (("2026-03-01", 2), ("2026-03-23", 1), ("2026-03-24", 1), ("2026-03-27", 2), ("2026-03-30", 3)):
        for _ in range(n):
            await factory.update(org, dep, author, at(day))
    await factory.set_now(at("2026-04-10"))

    m = await factory.window(dep, "2026-03-01", "2026-03-31")
    short = await factory.window(dep, "2026-03-27", "2026-03-31")

    # [03-24..03-30] = 1 + 2 + 3 = 6 beats [03-23..03-29] = 1 + 1 + 2 = 4 and [03-01..03-07] = 2
    assert (m["workflow_updates"], m["peak_week_updates"]) == (9, 6)
    # a window shorter than 7 days holds no full frame: its peak is its total (2 + 3)
    assert (short["workflow_updates"], short["peak_week_updates"]) == (5, 5)


async def test_days_since_last_update_and_review_count_to_the_end_of_a_past_window(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    author = await factory.person(org)
    await factory.assign(org, dep, author, at("2026-01-01", 0))  # only the owner's reviews count (policy OWNER)
    await factory.update(org, dep, author, at("2026-03-05", 12))
    await factory.update(org, dep, author, at("2026-03-12"))      # after the window: ignored
    await factory.review(org, dep, author, at("2026-03-01", 6))   # before the window: still the last one
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # to 03-09 00:00: from 03-05 12:00 = 3.5 days -> 3; from 03-01 06:00 = 7.75 days -> 7
    assert (m["days_since_last_update"], m["days_since_last_review"]) == (3, 7)
    assert (m["workflow_updates"], m["reviews"]) == (1, 0)


async def test_days_since_last_update_and_review_count_to_now_when_the_window_runs_past_it(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    author = await factory.person(org)
    await factory.assign(org, dep, author, at("2026-01-01", 0))  # only the owner's reviews count (policy OWNER)
    await factory.update(org, dep, author, at("2026-03-07", 12))
    await factory.review(org, dep, author, at("2026-03-09", 6))
    await factory.update(org, dep, author, at("2026-03-20"))      # after now: not yet happened
    await factory.set_now(at("2026-03-10", 6))

    m = await factory.window(dep, "2026-03-02", "2026-03-30")

    # to now (03-10 06:00): from 03-07 12:00 = 2.75 days -> 2; from 03-09 06:00 = exactly 1 day -> 1
    assert (m["days_since_last_update"], m["days_since_last_review"]) == (2, 1)


async def test_reviews_and_weeks_reviewed(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    reviewer, colleague = await factory.person(org), await factory.person(org)
    await factory.assign(org, dep, reviewer, at("2026-01-01", 0))
    for instant in (at("2026-03-02", 0), at("2026-03-08", 23), at("2026-03-22"), at("2026-03-31")):
        await factory.review(org, dep, reviewer, instant)
    await factory.review(org, dep, colleague, at("2026-03-10"))  # not the owner: recorded, not counted
    await factory.set_now(at("2026-04-10"))

    four_weeks = await factory.window(dep, "2026-03-02", "2026-03-30")
    thirty_days = await factory.window(dep, "2026-03-02", "2026-04-01")

    # 28 days = 4 weeks from 03-02; the owner reviewed in week 0 (twice) and week 2 -> 2 of 4
    # (week 1 had only the colleague's review of 03-10: counted, it would be 3 of 4)
    assert (four_weeks["reviews"], four_weeks["counted_reviews"], four_weeks["weeks_reviewed"]) == (4, 3, 2 / 4)
    # 30 days = 5 periods (the last one 2 days long); 03-31 falls in period 4 -> 3 of 5
    assert (thirty_days["reviews"], thirty_days["counted_reviews"], thirty_days["weeks_reviewed"]) == (5, 4, 3 / 5)


# --- ownership gap --------------------------------------------------------------------------------

async def test_a_handover_leaves_no_gap(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    first, second = await factory.person(org), await factory.person(org)
    await factory.assign(org, dep, first, at("2026-02-01", 0), at("2026-03-05", 12))
    await factory.assign(org, dep, second, at("2026-03-05", 12))
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    assert m["ownership_gap_days"] == Decimal("0.00")


async def test_a_real_gap_is_counted_in_fractional_days(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    first, second = await factory.person(org), await factory.person(org)
    await factory.assign(org, dep, first, at("2026-02-01", 0), at("2026-03-03", 6))
    await factory.assign(org, dep, second, at("2026-03-04", 18))
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # 03-03 06:00 -> 03-04 18:00 = 36 hours = 1.5 days
    assert m["ownership_gap_days"] == Decimal("1.50")


async def test_time_before_launch_is_not_a_gap(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2026-03-04", 0))
    owner = await factory.person(org)
    await factory.assign(org, dep, owner, at("2026-03-05", 0))
    await factory.set_now(LATER)

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # live from 03-04 00:00; unowned until 03-05 00:00 = 1 day (03-02 and 03-03 do not count)
    assert m["ownership_gap_days"] == Decimal("1.00")


async def test_time_after_now_is_not_a_gap(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    owner = await factory.person(org)
    await factory.assign(org, dep, owner, at("2026-02-01", 0), at("2026-03-04", 0))
    await factory.set_now(at("2026-03-05", 12))

    m = await factory.window(dep, "2026-03-02", "2026-03-09")

    # unowned from 03-04 00:00 until now (03-05 12:00) = 1.5 days, not until 03-09
    assert m["ownership_gap_days"] == Decimal("1.50")


# --- weekly series --------------------------------------------------------------------------------

async def test_weekly_series_is_whole_iso_weeks_intersecting_the_window(factory):
    org, dep, topic = await covered_deployment(factory)
    for instant in (at("2026-03-02", 0), at("2026-03-08", 23), at("2026-03-09", 0), at("2026-03-19")):
        await factory.conversation(org, dep, topic, instant)
    await factory.set_now(LATER)

    rows = await factory.conn.fetch(
        "select * from metrics.deployment_weeks(array[$1::bigint], '2026-03-04', '2026-03-18')", dep
    )

    # Wednesday 03-04 .. Tuesday 03-17 intersects the weeks of Monday 03-02, 03-09 and 03-16,
    # each measured over its whole week: 03-02 00:00 and Sunday 03-08 23:00 fall in the first
    assert [(r["window_from"], r["window_to"], r["conversations"]) for r in rows] == [
        (date(2026, 3, 2), date(2026, 3, 9), 2),
        (date(2026, 3, 9), date(2026, 3, 16), 1),
        (date(2026, 3, 16), date(2026, 3, 23), 1),
    ]


# --- owners and overview --------------------------------------------------------------------------

async def test_current_owner_is_the_period_holding_now(factory):
    org = await factory.org()
    handed_over = await factory.deployment(org)
    future_only = await factory.deployment(org)
    ended = await factory.deployment(org)
    old = await factory.person(org)
    new = await factory.person(org, function="ENGINEERING", fte=0.25, name="Nora New")
    await factory.assign(org, handed_over, old, at("2026-02-01", 0), at("2026-03-10", 0))
    await factory.assign(org, handed_over, new, at("2026-03-10", 0))
    await factory.assign(org, future_only, old, at("2026-04-01", 0))
    await factory.assign(org, ended, old, at("2026-02-01", 0), at("2026-03-20", 12))
    await factory.set_now(at("2026-03-20", 12))

    rows = await factory.conn.fetch("select * from metrics.current_owners where org_id = $1", org)

    # a period ending exactly now no longer holds; one starting in the future does not yet
    assert len(rows) == 1
    r = rows[0]
    assert (r["deployment_id"], r["person_id"], r["person_name"], r["person_function"]) == (
        handed_over, new, "Nora New", "ENGINEERING")
    assert (r["fte_on_ai"], r["person_active"]) == (Decimal("0.25"), True)
    # 03-10 00:00 -> 03-20 12:00 = 10.5 days -> 10 whole days
    assert (r["owner_since"], r["tenure_days"]) == (at("2026-03-10", 0), 10)
    periods = await factory.conn.fetch(
        "select valid_to, is_current from metrics.ownership_periods where deployment_id = $1 order by valid_from",
        handed_over,
    )
    assert [(p["valid_to"], p["is_current"]) for p in periods] == [(at("2026-03-10", 0), False), (None, True)]


async def test_ownership_overview_counts_non_retired_deployments_by_status(factory):
    org = await factory.org()
    other = await factory.org()
    now = at("2026-03-20")
    cx, engineer = await factory.person(org), await factory.person(org, function="ENGINEERING")
    deps = {}
    for name, status in (("healthy", "ACTIVE"), ("at_risk", "ACTIVE"), ("stale", "PAUSED"),
                         ("unowned", "ACTIVE"), ("retired", "RETIRED")):
        deps[name] = await factory.deployment(org, status=status)
    for name, owner, fresh in (("healthy", cx, True), ("at_risk", engineer, True), ("stale", cx, False)):
        await factory.assign(org, deps[name], owner, at("2026-01-01", 0))
        if fresh:
            await factory.update(org, deps[name], owner, now - timedelta(days=1))
            await factory.review(org, deps[name], owner, now - timedelta(days=1))
    await factory.deployment(other)   # another organization: its own row
    await factory.set_now(now)

    row = await factory.conn.fetchrow("select * from metrics.ownership_overview where org_id = $1", org)

    # retired excluded: 4 deployments, one of each status; owned = not UNOWNED = 3 of 4
    assert (row["deployments"], row["healthy"], row["at_risk"], row["stale"], row["unowned"]) == (4, 1, 1, 1, 1)
    assert row["owned_share"] == 3 / 4


# --- topic opportunities --------------------------------------------------------------------------

async def test_topic_opportunities_rank_uncovered_volume_times_escalation_cost(factory):
    org = await factory.org()
    dep = await factory.deployment(org, channels=("CHAT", "EMAIL"))
    a = await factory.topic(org, escalation_cost=5)
    b = await factory.topic(org, escalation_cost=10)
    e = await factory.topic(org, escalation_cost=2.5)
    covered = await factory.topic(org, escalation_cost=100)
    half = await factory.topic(org, escalation_cost=1)
    await factory.workflow(org, dep, covered)
    await factory.workflow(org, dep, half)          # CHAT only
    day = at("2026-03-03")
    await factory.conversations(org, dep, a, day, 4, outcome="ESCALATED")
    await factory.conversation(org, dep, a, at("2026-03-09", 0), outcome="ESCALATED")   # outside the window
    await factory.conversations(org, dep, b, day, 3, outcome="ESCALATED")
    await factory.conversations(org, dep, e, day, 8, outcome="ABANDONED")
    await factory.conversations(org, dep, covered, day, 1, outcome="ESCALATED")
    await factory.conversations(org, dep, half, day, 1)
    await factory.conversations(org, dep, half, day, 2, channel="EMAIL", outcome="ESCALATED")

    rows = await factory.conn.fetch(
        "select * from metrics.topic_opportunities(array[$1::bigint], '2026-03-02', '2026-03-09') order by rank", dep
    )

    # scores: b 3 x 10 = 30; e 8 x 2.5 = 20 and a 4 x 5 = 20 (tie: more uncovered volume first);
    # half: 2 EMAIL x 1 = 2; the fully covered topic is not an opportunity
    assert [(r["topic_id"], r["rank"], r["score"]) for r in rows] == [
        (b, 1, Decimal("30.00")), (e, 2, Decimal("20.00")), (a, 3, Decimal("20.00")), (half, 4, Decimal("2.00"))]
    by_topic = {r["topic_id"]: r for r in rows}
    assert (by_topic[b]["uncovered"], by_topic[b]["uncovered_escalated"]) == (3, 3)
    assert (by_topic[e]["uncovered"], by_topic[e]["uncovered_escalated"]) == (8, 0)
    assert (by_topic[half]["conversations"], by_topic[half]["uncovered"]) == (3, 2)
    assert by_topic[a]["escalation_cost"] == Decimal("5.00")


# --- ownership impact -----------------------------------------------------------------------------

async def test_ownership_impact_owned_vs_unowned_weeks_and_cadence_buckets(factory):
    org = await factory.org()
    noise = await factory.org()
    topic = await factory.topic(org)
    owner = await factory.person(org)
    # X: owned all along; weekly updates 0, 1, 5, 12; 2 addressable a week resolved 0, 1, 1, 2
    x = await factory.deployment(org)
    await factory.workflow(org, x, topic)
    await factory.assign(org, x, owner, at("2026-02-01", 0))
    for monday, updates, resolved in (("2026-03-02", 0, 0), ("2026-03-09", 1, 1), ("2026-03-16", 5, 1),
                                      ("2026-03-23", 12, 2)):
        for _ in range(updates):
            await factory.update(org, x, owner, at(monday, 10))
        for i in range(2):
            await factory.conversation(org, x, topic, at(monday, 12 + i),
                                       outcome="AI_RESOLVED" if i < resolved else "ESCALATED")
    # Y: launched Monday 03-09, never owned; 1 escalated conversation a week (and one before launch)
    y = await factory.deployment(org, launched_at=at("2026-03-09", 0))
    await factory.workflow(org, y, topic)
    for day in ("2026-03-03", "2026-03-10", "2026-03-17", "2026-03-24"):
        await factory.conversation(org, y, topic, at(day), outcome="ESCALATED")
    # Z: owner from Thursday 03-05 12:00: 3.5 unowned days in its first week -> that week is unowned
    z = await factory.deployment(org)
    await factory.assign(org, z, owner, at("2026-03-05", 12))
    # another organization's weeks must not be pooled in
    n_topic = await factory.topic(noise)
    n_dep = await factory.deployment(noise)
    await factory.workflow(noise, n_dep, n_topic)
    await factory.conversations(noise, n_dep, n_topic, at("2026-03-10"), 5)
    # Monday 03-30 midday: the week of 03-30 is not complete and is left out
    await factory.set_now(at("2026-03-30", 12))
    await factory.as_org(org)

    rows = await factory.conn.fetch("select * from metrics.ownership_impact('2026-03-02', '2026-04-06')")

    got = {(r["dimension"], r["bucket"]): (r["deployment_weeks"], r["addressable"], r["ai_resolved"],
                                           r["addressable_resolution_rate"]) for r in rows}
    assert got == {
        # X 4 weeks + Z 3 weeks: 8 addressable, 0 + 1 + 1 + 2 = 4 resolved
        ("OWNERSHIP", "OWNED"): (7, 8, 4, 0.5),
        # Y 3 weeks from launch + Z's first week: 3 addressable, none resolved
        ("OWNERSHIP", "UNOWNED"): (4, 3, 0, 0.0),
        # no updates: X week 1, Y 3 weeks, Z 4 weeks
        ("CADENCE", "NONE"): (8, 5, 0, 0.0),
        ("CADENCE", "LOW"): (1, 2, 1, 0.5),       # 1 update
        ("CADENCE", "MEDIUM"): (1, 2, 1, 0.5),    # 5 updates
        ("CADENCE", "HIGH"): (1, 2, 2, 1.0),      # 12 updates
    }


async def test_ownership_impact_last_90_days_view_is_the_function_for_the_current_org(factory):
    org, dep, topic = await covered_deployment(factory)
    await factory.conversation(org, dep, topic, at("2026-03-10"))
    await factory.set_now(at("2026-03-30", 12))
    await factory.as_org(org)

    view = await factory.conn.fetch("select * from metrics.ownership_impact_last_90_days order by dimension, bucket")
    # 90 days including today: [03-30 - 89 days, 03-31) = [2025-12-31, 2026-03-31)
    direct = await factory.conn.fetch(
        "select * from metrics.ownership_impact('2025-12-31', '2026-03-31') order by dimension, bucket"
    )

    assert [r["org_id"] for r in view] == [org] * len(direct)
    assert [tuple(r)[1:] for r in view] == [tuple(r) for r in direct]
    assert len(direct) == 2  # one OWNERSHIP and one CADENCE bucket


# --- BI views -------------------------------------------------------------------------------------

async def test_deployment_daily_rows_and_rates(factory):
    org, dep, topic = await covered_deployment(factory)
    uncovered = await factory.topic(org)
    await factory.conversation(org, dep, topic, at("2026-03-03", 1))
    await factory.conversation(org, dep, topic, at("2026-03-03", 2), outcome="ESCALATED")
    await factory.conversation(org, dep, uncovered, at("2026-03-03", 23), reopened_after=H)
    await factory.conversation(org, dep, topic, at("2026-03-05"))

    rows = await factory.conn.fetch(
        "select * from metrics.deployment_daily where deployment_id = $1 order by day", dep
    )

    # 03-03: 3 conversations, 2 addressable (1 resolved, 1 escalated), 1 uncovered AI resolution reopened
    d = rows[0]
    assert (d["day"], d["conversations"], d["addressable"], d["unaddressable"]) == (date(2026, 3, 3), 3, 2, 1)
    assert (d["ai_outcomes"], d["ai_resolved"], d["reopened"], d["escalated"]) == (2, 1, 1, 1)
    assert (d["topic_coverage"], d["addressable_resolution_rate"], d["reopen_rate"]) == (2 / 3, 1 / 2, 1 / 2)
    assert (d["automation_rate"], d["escalation_rate"]) == (1 / 3, 1 / 2)
    # no row for the empty day 03-04
    assert [r["day"] for r in rows] == [date(2026, 3, 3), date(2026, 3, 5)]


async def test_last_30_days_is_today_and_the_29_days_before(factory):
    org, dep, topic = await covered_deployment(factory)
    for instant in (at("2026-03-01", 0) - S, at("2026-03-01", 0), at("2026-03-30", 11), at("2026-03-31", 0)):
        await factory.conversation(org, dep, topic, instant)
    await factory.set_now(at("2026-03-30", 12))

    m = await factory.conn.fetchrow("select * from metrics.deployment_last_30_days where deployment_id = $1", dep)

    # [03-01, 03-31): 03-01 00:00 and today count; 02-28 23:59:59 and tomorrow do not
    assert (m["window_from"], m["window_to"], m["conversations"]) == (date(2026, 3, 1), date(2026, 3, 31), 2)


# --- the daily rollup -----------------------------------------------------------------------------

async def test_rollup_follows_inserts_updates_and_deletes_of_conversations(factory):
    org, dep, topic = await covered_deployment(factory)
    _, other_dep, other_topic = await covered_deployment(factory, org)
    c1 = await factory.conversation(org, dep, topic, at("2026-03-03"))
    c2 = await factory.conversation(org, dep, topic, at("2026-03-03", 13))
    c3 = await factory.conversation(org, dep, topic, at("2026-03-04"), outcome="ESCALATED")
    await factory.set_now(LATER)
    assert await factory.rollup_mismatches() == []

    # a reopen reported later turns a resolution into a reopen
    await factory.conn.execute(
        "update steward.conversations set reopened_at = resolved_at + interval '2 hours' where id = $1", c1
    )
    reopened = await factory.window(dep, "2026-03-02", "2026-03-09")
    # a conversation moves to another day and another deployment in one statement with an outcome change
    await factory.conn.execute(
        "update steward.conversations set started_at = $2, deployment_id = $3, topic_id = $4,"
        " outcome = 'ESCALATED', resolved_at = null where id = $1", c2, at("2026-03-06"), other_dep, other_topic,
    )
    moved_mismatches = await factory.rollup_mismatches()
    # several rows, days and deployments in one statement
    await factory.conn.execute(
        "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
        " ai_engaged, outcome) select $1, 'bulk-' || g, case when g % 2 = 0 then $2::bigint else $3::bigint end,"
        " $4, 'CHAT', $5::timestamptz + g * interval '7 hours', true, 'ABANDONED' from generate_series(1, 20) g",
        org, dep, other_dep, topic, at("2026-03-02", 0),
    )
    bulk_mismatches = await factory.rollup_mismatches()
    await factory.conn.execute("delete from steward.conversations where id = $1", c3)
    await factory.conn.execute("delete from steward.conversations where external_id like 'bulk-%'")
    after = await factory.window(dep, "2026-03-02", "2026-03-09")
    days = await factory.conn.fetch("select day from steward.conversation_daily where deployment_id = $1", dep)

    assert (reopened["reopened"], reopened["ai_resolved"]) == (1, 1)
    assert moved_mismatches == []
    assert bulk_mismatches == []
    assert await factory.rollup_mismatches() == []
    # only c1 is left on dep: the emptied day's row is gone
    assert (after["conversations"], after["reopened"]) == (1, 1)
    assert [r["day"] for r in days] == [date(2026, 3, 3)]


async def test_rollup_follows_workflow_changes_and_deletions(factory):
    org, dep, topic = await covered_deployment(factory)
    second_topic = await factory.topic(org)
    workflow = await factory.workflow(org, dep, second_topic, start=at("2026-03-04", 0))
    for day in ("2026-03-03", "2026-03-04", "2026-03-05"):
        await factory.conversation(org, dep, topic, at(day))
        await factory.conversation(org, dep, second_topic, at(day))
    await factory.set_now(LATER)
    # topic: covered 3 of 3; second_topic: covered from 03-04 = 2 of 3
    assert (await factory.window(dep, "2026-03-02", "2026-03-09"))["addressable"] == 5

    await factory.conn.execute("delete from steward.workflows where id = $1", workflow)
    without = await factory.window(dep, "2026-03-02", "2026-03-09")
    mismatches_after_workflow_delete = await factory.rollup_mismatches()
    await factory.conn.execute("delete from steward.workflow_periods where org_id = $1", org)
    no_periods = await factory.window(dep, "2026-03-02", "2026-03-09")
    await factory.conn.execute("delete from steward.topics where id = $1", second_topic)
    no_second_topic = await factory.window(dep, "2026-03-02", "2026-03-09")

    assert without["addressable"] == 3
    assert mismatches_after_workflow_delete == []
    assert no_periods["addressable"] == 0
    assert (no_second_topic["conversations"], no_second_topic["addressable"]) == (3, 0)
    assert await factory.rollup_mismatches() == []


async def test_deleting_a_deployment_with_workflows_and_conversations(factory):
    org, dep, topic = await covered_deployment(factory)
    await factory.conversation(org, dep, topic, at("2026-03-03"))

    await factory.conn.execute("delete from steward.deployments where id = $1", dep)

    rows = await factory.conn.fetchval("select count(*) from steward.conversation_daily where deployment_id = $1", dep)
    assert rows == 0
    assert await factory.rollup_mismatches() == []


async def test_concurrent_writers_of_one_deployment_day_leave_a_correct_rollup(fresh_db_url):
    setup = await connect(fresh_db_url)
    factory = Factory(setup)
    org, dep, topic = await covered_deployment(factory)
    first, second = await connect(fresh_db_url), await connect(fresh_db_url)
    try:
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        await Factory(first).conversation(org, dep, topic, at("2026-03-03", 9))
        # the second writer's rollup refresh queues behind the first (per-deployment advisory lock)
        racing = asyncio.create_task(Factory(second).conversation(org, dep, topic, at("2026-03-03", 15)))
        waited = await wait_until_blocked(setup, second.get_server_pid())
        await tx1.commit()
        await racing
        await tx2.commit()
        rollup = await setup.fetchval(
            "select conversations from steward.conversation_daily where deployment_id = $1 and day = '2026-03-03'", dep)
        mismatches = await factory.rollup_mismatches()
    finally:
        for conn in (first, second, setup):
            await conn.close()

    assert waited
    # 1 + 1: the second refresh saw the first writer's committed conversation
    assert (rollup, mismatches) == (2, [])


# --- session time zone ----------------------------------------------------------------------------

async def snapshot(conn, dep: int) -> list:
    """Every metric surface of one deployment, as plain tuples."""
    queries = [
        ("select * from metrics.deployment_window(array[$1::bigint], '2026-03-23', '2026-04-06')", ()),
        ("select * from metrics.deployment_weeks(array[$1::bigint], '2026-03-23', '2026-04-06')", ()),
        ("select * from metrics.deployment_daily where deployment_id = $1 order by day", ()),
        ("select * from metrics.deployment_last_30_days where deployment_id = $1", ()),
        ("select * from metrics.deployment_weekly where deployment_id = $1 order by week_start", ()),
        ("select * from metrics.deployment_health where deployment_id = $1", ()),
        ("select * from metrics.current_owners where deployment_id = $1", ()),
        ("select * from metrics.topic_opportunities(array[$1::bigint], '2026-03-23', '2026-04-06')", ()),
        ("select * from metrics.ownership_impact('2026-03-02', '2026-04-06') where $1::bigint is not null"
         " order by dimension, bucket", ()),
    ]
    return [[tuple(r) for r in await conn.fetch(q, dep)] for q, _ in queries]


async def test_session_time_zone_changes_no_result(factory):
    conn = factory.conn
    # everything is written by a Paris session across the 2026-03-29 DST change
    await conn.execute("set local timezone = 'Europe/Paris'")
    org, dep, topic = await covered_deployment(factory, channels=("CHAT", "EMAIL"))
    await conn.execute("update steward.health_policies set reopen_window = interval '3 days' where org_id = $1", org)
    owner = await factory.person(org)
    await factory.assign(org, dep, owner, at("2026-02-01", 0))
    now = at("2026-04-05", 12)
    await factory.update(org, dep, owner, now - timedelta(days=14))          # exactly 14 x 24h: not stale
    await factory.review(org, dep, owner, now - timedelta(days=6))
    zero = timedelta(0)
    await factory.conversation(org, dep, topic, at("2026-03-28"), resolved_after=zero, reopened_after=71 * H)
    await factory.conversation(org, dep, topic, at("2026-03-29", 0))
    await factory.conversation(org, dep, topic, at("2026-03-29", 23.5))     # last hour of the DST day (UTC)
    await factory.conversation(org, dep, topic, at("2026-03-30", 0), channel="EMAIL", outcome="ESCALATED")
    await factory.set_now(now)
    await factory.as_org(org)

    results = {}
    for zone in ("Europe/Paris", "UTC", "Pacific/Chatham", "America/St_Johns"):
        await conn.execute(f"set local timezone = '{zone}'")
        results[zone] = await snapshot(conn, dep)
    await conn.execute("set local timezone = 'UTC'")
    m = await factory.window(dep, "2026-03-23", "2026-04-06")
    daily = await conn.fetch("select day, conversations from metrics.deployment_daily where deployment_id = $1"
                             " order by day", dep)
    health = await factory.health(dep)

    assert results["UTC"] == results["Europe/Paris"] == results["Pacific/Chatham"] == results["America/St_Johns"]
    assert await factory.rollup_mismatches() == []
    # 4 conversations, 3 covered (CHAT); the 71h reopen is inside '3 days' = 72h, even across the DST change
    assert (m["conversations"], m["addressable"], m["reopened"], m["ai_resolved"]) == (4, 3, 1, 2)
    assert [(r["day"], r["conversations"]) for r in daily] == [
        (date(2026, 3, 28), 1), (date(2026, 3, 29), 2), (date(2026, 3, 30), 1)]
    assert (health["status"], health["codes"]) == ("HEALTHY", [])
