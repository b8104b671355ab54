"""The weekly brief: headline with intervals and significance, topic performance, topics to fix and to add,
stale workflows, alerts and whether the brief was reviewed."""
import math
from datetime import date, timedelta

import pytest

from ..factory import at

NOW = at("2026-03-30", 12)          # a Monday: the last complete week is 03-23 .. 03-29
WEEK = date(2026, 3, 23)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
Z = 1.959963984540054


def wilson(x: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval, written out independently of the SQL."""
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def poisson(x: int, t: int) -> tuple[float, float]:
    """95% score interval of a Poisson rate: x events over t weeks."""
    half = Z * math.sqrt(x + Z * Z / 4)
    return max(0.0, (x + Z * Z / 2 - half) / t), (x + Z * Z / 2 + half) / t


async def outcomes(factory, org, dep, topic, day, *, resolved=0, reopened=0, escalated=0, abandoned=0):
    """Conversations of one topic on one day: AI resolved (kept), AI resolved but reopened after an hour,
    escalated, abandoned."""
    await factory.conversations(org, dep, topic, at(day, 8), resolved)
    await factory.conversations(org, dep, topic, at(day, 10), reopened, reopened_after=HOUR)
    await factory.conversations(org, dep, topic, at(day, 12), escalated, outcome="ESCALATED")
    await factory.conversations(org, dep, topic, at(day, 14), abandoned, outcome="ABANDONED")


async def headline_world(factory):
    """One covered topic A and one uncovered topic U.
    week 03-23:     A: 4 resolved, 2 reopened, 10 escalated, 4 abandoned (20 addressable); U: 5 escalated
    previous 03-16: A: 5 resolved, 5 escalated (10 addressable)
    baseline 02-23 .. 03-22 = previous + 02-24: A: 24 resolved, 6 escalated (30 addressable)"""
    org = await factory.org()
    dep = await factory.deployment(org)
    a, u = await factory.topic(org), await factory.topic(org)
    await factory.workflow(org, dep, a)
    await outcomes(factory, org, dep, a, "2026-03-25", resolved=4, reopened=2, escalated=10, abandoned=4)
    await outcomes(factory, org, dep, u, "2026-03-25", escalated=5)
    await outcomes(factory, org, dep, a, "2026-03-17", resolved=5, escalated=5)
    await outcomes(factory, org, dep, a, "2026-02-24", resolved=24, escalated=6)
    await outcomes(factory, org, dep, a, "2026-02-20", resolved=50)  # before the baseline: ignored
    await factory.set_now(NOW)
    return org, dep


async def test_headline_gives_each_figure_for_the_week_the_previous_week_and_the_baseline(factory):
    _, dep = await headline_world(factory)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_headline($1, '2026-03-25')", [dep])
    by = {r["figure"]: r for r in rows}

    assert [r["figure"] for r in rows] == ["ARR", "REOPEN_RATE", "COVERAGE", "AUTOMATION_RATE", "ESCALATION_RATE",
                                           "VOLUME"]
    assert {r["week_start"] for r in rows} == {WEEK}   # a Wednesday names its ISO week
    counts = {f: ((r["week_numerator"], r["week_denominator"]), (r["previous_numerator"], r["previous_denominator"]),
                  (r["baseline_numerator"], r["baseline_denominator"])) for f, r in by.items()}
    # week: 25 conversations, 20 addressable, 4 AI resolved, 6 AI outcomes (2 reopened), 10 escalated;
    # previous: 10, 10, 5, 5, 0, 5; baseline: 40, 40, 29, 29, 0, 11
    assert counts == {
        "ARR": ((4, 20), (5, 10), (29, 40)),
        "REOPEN_RATE": ((2, 6), (0, 5), (0, 29)),
        "COVERAGE": ((20, 25), (10, 10), (40, 40)),
        "AUTOMATION_RATE": ((4, 25), (5, 10), (29, 40)),
        "ESCALATION_RATE": ((10, 20), (5, 10), (11, 40)),
        "VOLUME": ((25, 1), (10, 1), (40, 4)),
    }
    for figure, r in by.items():
        interval = wilson if r["is_rate"] else poisson
        for part in ("week", "previous", "baseline"):
            x, n = r[f"{part}_numerator"], r[f"{part}_denominator"]
            assert r[f"{part}_value"] == pytest.approx(x / n, abs=1e-12), (figure, part)
            ci = (r[f"{part}_ci_low"], r[f"{part}_ci_high"])
            assert ci == pytest.approx(interval(x, n), abs=1e-9), (figure, part)
        assert r["change_vs_baseline"] == pytest.approx(r["week_value"] - r["baseline_value"])
        assert r["change_vs_previous"] == pytest.approx(r["week_value"] - r["previous_value"])


async def test_significant_means_the_intervals_do_not_overlap(factory):
    _, dep = await headline_world(factory)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_headline($1, $2)", [dep], WEEK)

    def apart(r, other):
        return r["week_ci_low"] > r[f"{other}_ci_high"] or r["week_ci_high"] < r[f"{other}_ci_low"]

    for r in rows:
        assert r["significant"] is apart(r, "baseline"), r["figure"]
        assert r["significant_vs_previous"] is apart(r, "previous"), r["figure"]
    significant = {r["figure"]: (r["significant"], r["significant_vs_previous"]) for r in rows}
    # ARR 4/20 = [0.081, 0.416] vs 29/40 = [0.572, 0.840]: apart; vs 5/10 = [0.237, 0.763]: overlapping.
    # Escalation 10/20 = [0.299, 0.701] vs 11/40 = [0.160, 0.429]: overlapping.
    # Volume 25 a week = [16.9, 36.9] vs 10 a week = [7.3, 13.6]: apart.
    assert significant == {"ARR": (True, False), "REOPEN_RATE": (False, False), "COVERAGE": (True, False),
                           "AUTOMATION_RATE": (True, False), "ESCALATION_RATE": (False, False),
                           "VOLUME": (True, False)}


async def test_a_week_without_conversations_has_no_rates_and_no_verdict(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    await factory.set_now(NOW)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_headline($1, $2)", [dep], WEEK)

    assert len(rows) == 6
    arr = rows[0]
    assert (arr["week_value"], arr["week_ci_low"], arr["significant"]) == (None, None, None)
    volume = rows[-1]
    # 0 conversations: the score interval of a count of 0 is [0, z²] a week
    assert (volume["week_value"], volume["week_ci_low"], volume["significant"]) == (0.0, 0.0, False)
    assert volume["week_ci_high"] == pytest.approx(Z * Z)


# --- topics ---------------------------------------------------------------------------------------

async def topic_world(factory):
    """Covered topics A, B, C and uncovered U (escalation cost 8) and V (cost 2); the week of 03-23:
        A: 9 resolved, 1 escalated                 ARR 0.9
        B: 3 resolved, 2 reopened, 5 escalated     ARR 0.3, reopen 2/5
        C: 12 resolved, 8 escalated                ARR 0.6
        deployment: 24 of 40 addressable = 0.6; reopen 2 of 26 AI outcomes
        U: 4 escalated, 2 abandoned (6);  V: 20 escalated
    and in the 4 weeks before: B 8 of 10 resolved (0.8), C 10 of 10 (1.0)."""
    org = await factory.org()
    dep = await factory.deployment(org)
    owner = await factory.person(org)
    await factory.assign(org, dep, owner, at("2026-01-01", 0))
    t = {k: await factory.topic(org, key=f"{k.lower()}-{org}", escalation_cost=cost)
         for k, cost in (("A", 5), ("B", 4), ("C", 5), ("U", 8), ("V", 2))}
    wf = {k: await factory.workflow(org, dep, t[k]) for k in "ABC"}
    await outcomes(factory, org, dep, t["A"], "2026-03-24", resolved=9, escalated=1)
    await outcomes(factory, org, dep, t["B"], "2026-03-24", resolved=3, reopened=2, escalated=5)
    await outcomes(factory, org, dep, t["C"], "2026-03-24", resolved=12, escalated=8)
    await outcomes(factory, org, dep, t["U"], "2026-03-24", escalated=4, abandoned=2)
    await outcomes(factory, org, dep, t["V"], "2026-03-24", escalated=20)
    await outcomes(factory, org, dep, t["B"], "2026-03-03", resolved=8, escalated=2)
    await outcomes(factory, org, dep, t["C"], "2026-03-03", resolved=10)
    await factory.set_now(NOW)
    return org, dep, owner, t, wf


async def test_topic_performance_ranks_opportunities_to_automate_and_to_improve(factory):
    _, dep, _, t, _ = await topic_world(factory)

    rows = await factory.conn.fetch("select * from metrics.topic_performance($1, $2, $3)", [dep], WEEK,
                                    WEEK + timedelta(days=7))
    by = {k: next(r for r in rows if r["topic_id"] == t[k]) for k in t}

    assert {k: (r["conversations"], r["addressable"], r["ai_resolved"], r["covered"], r["opportunity"])
            for k, r in by.items()} == {
        "A": (10, 10, 9, True, "NONE"), "B": (10, 10, 3, True, "IMPROVE"),
        "C": (20, 20, 12, True, "NONE"),    # exactly the deployment's 0.6: not below it
        "U": (6, 0, 0, False, "AUTOMATE"), "V": (20, 0, 0, False, "AUTOMATE")}
    assert {r["deployment_arr"] for r in rows} == {0.6}
    assert by["B"]["reopen_rate"] == 2 / 5 and by["B"]["deployment_reopen_rate"] == 2 / 26
    assert by["B"]["arr_gap_points"] == pytest.approx(30)
    # IMPROVE: (0.6 x 10 - 3) resolutions short x 4; AUTOMATE: uncovered x cost; NONE: 0
    assert {k: r["opportunity_score"] for k, r in by.items()} == {"A": 0, "B": 12, "C": 0, "U": 48, "V": 40}
    assert by["V"]["volume_share"] == 20 / 66 and by["U"]["escalation_rate"] is None


async def test_topic_weeks_measure_each_iso_week_whole(factory):
    _, dep, _, t, _ = await topic_world(factory)

    rows = await factory.conn.fetch("select * from metrics.topic_weeks($1, '2026-03-04', '2026-03-25')", [dep])

    # weeks 03-02, 03-09, 03-16, 03-23 overlap the window; only 03-02 and 03-23 have conversations,
    # 03-03 counted though it lies before 03-04 (whole weeks)
    assert sorted({r["week_start"] for r in rows}) == [date(2026, 3, 2), WEEK]
    b = {r["week_start"]: r["addressable_resolution_rate"] for r in rows if r["topic_id"] == t["B"]}
    assert b == {date(2026, 3, 2): 0.8, WEEK: 0.3}


async def test_topics_to_fix_weigh_the_shortfall_by_volume(factory):
    _, dep, _, t, _ = await topic_world(factory)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_topics_to_fix($1, $2)", [dep], WEEK)

    # B alone: 0.6 x 10 - 3 = 3 resolutions short, 2 - 2/26 x 5 = 1.6154 excess reopens. A is above the
    # deployment; C is exactly at its ARR and below its reopen rate (0 of 12): neither is listed
    assert [(r["rank"], r["topic_id"], r["reason"]) for r in rows] == [(1, t["B"], "BOTH")]
    b = rows[0]
    assert (b["resolutions_short"], float(b["excess_reopens"])) == (3, pytest.approx(2 - 2 / 26 * 5, abs=1e-4))
    assert b["score"] == b["resolutions_short"] + b["excess_reopens"]
    assert (b["addressable"], b["ai_resolved"], b["ai_outcomes"], b["reopened"]) == (10, 3, 5, 2)


async def test_topics_to_fix_are_ranked_by_harm_not_by_rate(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    good, small, large = [await factory.topic(org) for _ in range(3)]
    for topic in (good, small, large):
        await factory.workflow(org, dep, topic)
    await outcomes(factory, org, dep, good, "2026-03-24", resolved=60)
    await outcomes(factory, org, dep, small, "2026-03-24", escalated=2)              # 0% of 2
    await outcomes(factory, org, dep, large, "2026-03-24", resolved=20, escalated=18)  # 52.6% of 38
    await factory.set_now(NOW)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_topics_to_fix($1, $2)", [dep], WEEK)

    # deployment ARR 80 / 100 = 0.8: small is short 1.6, large 0.8 x 38 - 20 = 10.4
    assert [(r["topic_id"], float(r["resolutions_short"]), r["reason"]) for r in rows] == [
        (large, 10.4, "ARR"), (small, 1.6, "ARR")]


async def test_topics_to_add_are_the_weeks_opportunities(factory):
    _, dep, _, t, _ = await topic_world(factory)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_topics_to_add($1, $2)", [dep], WEEK)

    # U: 6 x 8 = 48 beats V: 20 x 2 = 40 despite its volume
    assert [(r["rank"], r["topic_id"], r["uncovered"], r["score"]) for r in rows] == [
        (1, t["U"], 6, 48), (2, t["V"], 20, 40)]
    assert rows[0]["uncovered_share"] == 6 / 66 and rows[0]["week_start"] == WEEK


@pytest.mark.parametrize(("c_changed", "stale"), [
    (at("2026-03-16", 0), ["B"]),                      # exactly 14 days before the week's end: still current
    (at("2026-03-16", 0) - timedelta(seconds=1), ["B", "C"]),
])
async def test_stale_workflows_are_unchanged_past_the_limit_on_a_declining_topic(factory, c_changed, stale):
    org, dep, owner, t, wf = await topic_world(factory)
    await factory.update(org, dep, owner, c_changed, workflow_id=wf["C"])
    await factory.update(org, dep, owner, NOW - DAY)      # a deployment-wide change names no workflow

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_stale_workflows($1, $2)", [dep], WEEK)

    # B: 0.8 -> 0.3 (-50 points), C: 1.0 -> 0.6 (-40), both >= 5; A has no baseline. B is listed first
    # (the larger fall); live since 2020 and never named by an update
    assert [r["workflow_id"] for r in rows] == [wf[k] for k in stale]
    b = rows[0]
    assert (b["topic_id"], b["last_update_at"], b["live_since"], b["stale_update_days"]) == \
        (t["B"], None, at("2020-01-01", 0), 14)
    assert (b["week_arr"], b["baseline_arr"]) == (0.3, 0.8)
    assert b["arr_change_points"] == pytest.approx(-50)
    assert (b["week_addressable"], b["baseline_addressable"]) == (10, 10)


async def test_a_topic_that_fell_less_than_the_policys_points_has_no_stale_workflow(factory):
    org, dep, _, _, _ = await topic_world(factory)
    await factory.policy(org, arr_drop_points=50.01)

    rows = await factory.conn.fetch("select * from metrics.weekly_brief_stale_workflows($1, $2)", [dep], WEEK)

    assert rows == []


# --- alerts ---------------------------------------------------------------------------------------

async def test_alerts_are_events_that_brought_a_new_reason(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    await factory.set_now(NOW)
    ev = factory.health_event
    await ev(org, dep, NOW - 20 * DAY, None, "HEALTHY", None, [], cause="TIME")  # a baseline: never an alert
    seeded = await ev(org, dep, NOW - 19 * DAY, None, "UNOWNED", None, ["NO_OWNER"], cause="TIME")
    e1 = await ev(org, dep, NOW - 10 * DAY, "HEALTHY", "AT_RISK", [], ["REVIEW_OVERDUE"],
                  acknowledged_at=NOW - 7 * DAY)                   # exactly 3 days later: in time
    e2 = await ev(org, dep, NOW - 6 * DAY, "AT_RISK", "STALE", ["REVIEW_OVERDUE"],
                  ["NO_RECENT_REVIEW", "REVIEW_OVERDUE"])          # never acknowledged, 6 days old: late
    await ev(org, dep, NOW - 2 * DAY, "STALE", "AT_RISK", ["NO_RECENT_REVIEW", "REVIEW_OVERDUE"],
             ["REVIEW_OVERDUE"])                                   # better: nothing new, no alert
    e3 = await ev(org, dep, NOW - DAY, "AT_RISK", "AT_RISK", ["REVIEW_OVERDUE"], ["OWNER_LOW_FTE", "REVIEW_OVERDUE"])

    rows = await factory.conn.fetch("select * from metrics.health_alerts($1)", [dep])

    assert seeded not in [r["event_id"] for r in rows]
    assert [(r["event_id"], r["new_reasons"], r["late"], r["still_applies"], r["open"]) for r in rows] == [
        (e1, ["REVIEW_OVERDUE"], False, True, False),     # REVIEW_OVERDUE is still in the latest event
        (e2, ["NO_RECENT_REVIEW"], True, False, False),   # late, but no longer applies
        (e3, ["OWNER_LOW_FTE"], False, True, True),       # a day old: open, not late yet
    ]


# --- the brief's header: was it reviewed? ------------------------------------------------------------

@pytest.mark.parametrize(("review", "reviewed_at"), [
    (None, None),
    (("owner", at("2026-03-29"), None), None),                   # during the week itself: not its brief
    (("owner", NOW - HOUR, None), NOW - HOUR),                    # the week after: the brief was read
    (("owner", at("2026-03-27"), WEEK), at("2026-03-27")),        # names the week
    (("vendor", NOW - HOUR, WEEK), None),                         # names it, but does not count (OWNER)
    (("owner", at("2026-04-06", 1), None), None),                 # two weeks on (and after now)
])
async def test_a_brief_is_reviewed_by_a_counted_review_naming_it_or_made_the_week_after(factory, review,
                                                                                         reviewed_at):
    org = await factory.org()
    dep = await factory.deployment(org)
    people = {"owner": await factory.person(org), "vendor": await factory.person(org, function="VENDOR")}
    await factory.assign(org, dep, people["owner"], at("2026-01-01", 0))
    await factory.review(org, dep, people["owner"], at("2026-03-20"))
    if review:
        who, when, week = review
        await factory.review(org, dep, people[who], when, brief_week=week)
    await factory.set_now(NOW)

    b = await factory.conn.fetchrow("select * from metrics.weekly_brief($1, $2)", [dep], WEEK)
    current = await factory.conn.fetchrow("select * from metrics.weekly_brief($1, $2)", [dep], NOW.date())

    assert (b["week_start"], b["week_end"], b["previous_week_start"], b["baseline_from"], b["complete"]) == \
        (WEEK, date(2026, 3, 30), date(2026, 3, 16), date(2026, 2, 23), True)
    assert (b["brief_reviewed_at"], b["review_due"]) == (reviewed_at, reviewed_at is None)
    last = max(w for w in (at("2026-03-20"), reviewed_at, review and review[0] == "owner" and review[1] <= NOW
                           and review[1]) if w)
    assert (b["last_counted_review_at"], b["next_review_due_at"]) == (last, last + 7 * DAY)
    # this week's brief is not over: nothing is due yet
    assert (current["week_start"], current["complete"], current["review_due"]) == (NOW.date(), False, False)


async def test_last_complete_week_is_the_monday_before_this_weeks(factory, conn):
    for now, week in ((NOW, WEEK), (at("2026-03-29", 23.99), date(2026, 3, 16)), (at("2026-03-30", 0), WEEK)):
        await factory.set_now(now)
        assert await conn.fetchval("select metrics.last_complete_week()") == week
