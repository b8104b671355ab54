"""Ownership maturity: the five duties, their boundaries, evidence, next steps and the level."""
import json
from datetime import date, timedelta

import pytest

from ..factory import at

NOW = at("2026-03-30", 12)   # Monday; the last 8 complete weeks: 02-02 .. 03-29
WEEKS = [date(2026, 2, 2) + timedelta(weeks=i) for i in range(8)]
DAY = timedelta(days=1)
ALL = frozenset(range(8))


async def mature(factory, *, owner_function="CX", fte=0.8, owned=True, review_weeks=ALL, update_weeks=ALL,
                 launch_age: timedelta | None = 30 * DAY, contact=True, reviewer_function=None):
    """A deployment meeting every duty unless told otherwise: a CX owner (0.8 FTE) since 2025-06-01 who
    reviews on the Wednesday and changes it on the Thursday of each of the last 8 weeks listed, a new use
    case `launch_age` ago, a CX lead as escalation contact, no alert. With `reviewer_function`, someone of that
    function reviews instead of the owner."""
    org = await factory.org()
    dep = await factory.deployment(org)
    owner = await factory.person(org, function=owner_function, fte=fte, name="Maya Okafor")
    lead = await factory.person(org, name="Rina Das")
    reviewer = owner if reviewer_function is None else await factory.person(org, function=reviewer_function)
    if owned:
        await factory.assign(org, dep, owner, at("2025-06-01", 0))
    for i in review_weeks:
        await factory.review(org, dep, reviewer, at(WEEKS[i] + 2 * DAY))
    for i in update_weeks:
        await factory.update(org, dep, owner, at(WEEKS[i] + 3 * DAY))
    if launch_age is not None:
        await factory.update(org, dep, owner, NOW - launch_age, kind="NEW_USE_CASE")
    if contact:
        await factory.conn.execute("update steward.deployments set escalation_person_id = $2 where id = $1",
                                   dep, lead)
    await factory.set_now(NOW)
    return org, dep, owner


async def maturity(factory, dep) -> tuple[int, dict]:
    rows = await factory.conn.fetch("select * from metrics.maturity($1)", [dep])
    assert [r["duty_number"] for r in rows] == [1, 2, 3, 4, 5]
    assert len({r["level"] for r in rows}) == 1 and {r["as_of"] for r in rows} == {NOW}
    return rows[0]["level"], {r["duty"]: r for r in rows}


async def test_a_deployment_meeting_every_duty_is_at_level_5(factory):
    _, dep, _ = await mature(factory)

    level, duties = await maturity(factory, dep)

    assert level == 5
    assert list(duties) == ["NAMED_CX_OWNER", "WEEKLY_REVIEW", "KEPT_CURRENT", "COVERAGE_GROWING", "ESCALATION_PATH"]
    assert [(d["met"], d["next_step"]) for d in duties.values()] == [(True, None)] * 5
    evidence = {k: json.loads(d["evidence"]) for k, d in duties.items()}
    assert {k: evidence["NAMED_CX_OWNER"][k] for k in ("owner", "function", "fte_on_ai", "min_owner_fte")} == \
        {"owner": "Maya Okafor", "function": "CX", "fte_on_ai": 0.8, "min_owner_fte": 0.5}
    assert {k: evidence["WEEKLY_REVIEW"][k] for k in ("weeks_reviewed", "weeks", "counted_reviews", "from", "to")} == \
        {"weeks_reviewed": 8, "weeks": 8, "counted_reviews": 8, "from": "2026-02-02", "to": "2026-03-30"}
    assert (evidence["KEPT_CURRENT"]["weeks_with_updates"], evidence["KEPT_CURRENT"]["updates"]) == (8, 9)
    assert evidence["COVERAGE_GROWING"]["launches_60_days"] == 1
    assert evidence["COVERAGE_GROWING"]["last_launch"]["kind"] == "NEW_USE_CASE"
    assert evidence["ESCALATION_PATH"]["escalation_contact"] == "Rina Das"


@pytest.mark.parametrize(("kwargs", "next_step"), [
    ({"owned": False}, "Name one accountable owner in CX with at least 0.50 FTE on the AI: nobody owns it now."),
    ({"owner_function": "ENGINEERING"},
     "Hand ownership from Maya Okafor (engineering) to a CX lead with at least 0.50 FTE on the AI, who can change it"
     " and answers for its results."),
    ({"fte": 0.3}, "Give Maya Okafor at least 0.50 FTE on the AI (now 0.30), or hand ownership to a CX lead who has"
                   " the time."),
])
async def test_without_a_named_cx_owner_at_the_fte_floor_the_level_is_0(factory, kwargs, next_step):
    _, dep, _ = await mature(factory, **kwargs)

    level, duties = await maturity(factory, dep)

    assert level == 0   # whatever else is met: the levels count consecutive duties from the first
    assert (duties["NAMED_CX_OWNER"]["met"], duties["NAMED_CX_OWNER"]["next_step"]) == (False, next_step)
    assert duties["ESCALATION_PATH"]["met"]


async def test_a_departed_owner_is_no_named_owner(factory):
    _, dep, owner = await mature(factory)
    await factory.deactivate(owner)

    level, duties = await maturity(factory, dep)

    assert level == 0
    assert duties["NAMED_CX_OWNER"]["next_step"] == (
        "Maya Okafor has left: name a CX owner with at least 0.50 FTE on the AI to take it over this week.")


@pytest.mark.parametrize(("weeks", "met"), [(ALL - {3}, True), (ALL - {3, 7}, False)])
async def test_weekly_review_needs_reviews_in_80_percent_of_the_last_8_weeks(factory, weeks, met):
    # 7 of 8 = 87.5% >= 80%; 6 of 8 = 75%
    _, dep, _ = await mature(factory, review_weeks=weeks)

    level, duties = await maturity(factory, dep)

    assert (duties["WEEKLY_REVIEW"]["met"], level) == (met, 5 if met else 1)
    assert json.loads(duties["WEEKLY_REVIEW"]["evidence"])["weeks_reviewed"] == len(weeks)
    if not met:
        assert duties["WEEKLY_REVIEW"]["next_step"] == (
            "Maya Okafor reviewed in 6 of the last 8 weeks (7 needed): book a weekly 30-minute review of the brief"
            " and record each one.")


async def test_weekly_reviews_by_a_vendor_do_not_make_the_duty(factory):
    _, dep, _ = await mature(factory, review_weeks=ALL, reviewer_function="VENDOR")

    level, duties = await maturity(factory, dep)

    assert not duties["WEEKLY_REVIEW"]["met"] and level == 1
    evidence = json.loads(duties["WEEKLY_REVIEW"]["evidence"])
    assert (evidence["weeks_reviewed"], evidence["counted_reviews"], evidence["uncounted_reviews"]) == (0, 0, 8)
    assert duties["WEEKLY_REVIEW"]["next_step"] == (
        "Only the owner's reviews count, and 0 of the last 8 weeks had one (7 needed) while 8 reviews by others did"
        " not count: have Maya Okafor review the weekly brief every week and record it.")


@pytest.mark.parametrize(("weeks", "met"), [(ALL - {0, 5}, True), (ALL - {0, 5, 6}, False)])
async def test_kept_current_needs_updates_in_6_of_the_last_8_weeks(factory, weeks, met):
    _, dep, _ = await mature(factory, update_weeks=weeks, launch_age=5 * DAY)  # the launch falls in week 7

    level, duties = await maturity(factory, dep)

    n = len(weeks | {7})
    assert json.loads(duties["KEPT_CURRENT"]["evidence"])["weeks_with_updates"] == n
    assert (duties["KEPT_CURRENT"]["met"], level) == (met, 5 if met else 2)
    if not met:
        assert duties["KEPT_CURRENT"]["next_step"] == (
            "Changes landed in only 5 of the last 8 weeks (6 needed): set a weekly slot to act on what the review"
            " finds, starting with the brief's topics to fix.")


async def test_a_stale_workflow_on_a_declining_topic_breaks_kept_current(factory):
    org, dep, _ = await mature(factory)
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)   # live since 2020, never named by an update
    name = await factory.conn.fetchval("select name from steward.topics where id = $1", topic)
    # the last complete week (03-23): 5 of 10; its baseline (02-23 .. 03-22): 10 of 10
    await factory.conversations(org, dep, topic, at("2026-03-24"), 5)
    await factory.conversations(org, dep, topic, at("2026-03-24", 18), 5, outcome="ESCALATED")
    await factory.conversations(org, dep, topic, at("2026-02-24"), 10)

    level, duties = await maturity(factory, dep)

    days = (date(2026, 3, 30) - date(2020, 1, 1)).days   # to the end of that week
    assert (duties["KEPT_CURRENT"]["met"], level) == (False, 2)
    evidence = json.loads(duties["KEPT_CURRENT"]["evidence"])
    assert evidence["stale_workflows_on_declining_topics"] == 1
    assert evidence["stale_workflows"] == [{"workflow": "wf", "topic": name, "days_unchanged": days,
                                            "arr_change_points": -50.0}]
    assert duties["KEPT_CURRENT"]["next_step"] == (
        f'Update the "wf" workflow this week: it has not changed in {days} days while ARR on {name} fell 50.0 points'
        " below its 4-week baseline.")


@pytest.mark.parametrize(("age", "met"), [(60 * DAY - timedelta(seconds=1), True), (60 * DAY, False)])
async def test_coverage_growing_counts_a_launch_within_60_days(factory, age, met):
    _, dep, _ = await mature(factory, launch_age=age)

    _, duties = await maturity(factory, dep)

    assert duties["COVERAGE_GROWING"]["met"] is met


async def opportunity_history(factory, org, dep, *, before_share: int):
    """Covered A and uncovered U; the last 28 days (03-03 .. 03-30): 80 A and 20 U; the 28 before: 100 - x A, x U."""
    a, u = await factory.topic(org), await factory.topic(org, escalation_cost=7.5)
    await factory.workflow(org, dep, a)
    await factory.conversations(org, dep, a, at("2026-03-24"), 80)
    await factory.conversations(org, dep, u, at("2026-03-24", 18), 20, outcome="ESCALATED")
    await factory.conversations(org, dep, a, at("2026-02-24"), 100 - before_share)
    await factory.conversations(org, dep, u, at("2026-02-24", 18), before_share, outcome="ESCALATED")
    return await factory.conn.fetchval("select name from steward.topics where id = $1", u)


@pytest.mark.parametrize(("before_share", "met"), [(21, True), (20, False)])
async def test_without_a_launch_the_top_opportunitys_share_must_fall(factory, before_share, met):
    org, dep, _ = await mature(factory, launch_age=None)
    name = await opportunity_history(factory, org, dep, before_share=before_share)

    level, duties = await maturity(factory, dep)

    top = json.loads(duties["COVERAGE_GROWING"]["evidence"])["top_opportunity"]
    assert (top["topic"], top["uncovered"], top["share"], top["share_before"]) == (name, 20, 0.2, before_share / 100)
    assert (duties["COVERAGE_GROWING"]["met"], level) == (met, 5 if met else 3)
    if not met:
        assert duties["COVERAGE_GROWING"]["next_step"] == (
            f"Build a workflow for {name}: 20 conversations in the last 4 weeks (20.0% of volume) had none, about 150"
            " in escalation cost, and nothing new launched in 60 days.")


async def test_fully_covered_is_growing_enough_and_silence_is_not(factory):
    org, covered, _ = await mature(factory, launch_age=None)
    topic = await factory.topic(org)
    await factory.workflow(org, covered, topic)
    await factory.conversations(org, covered, topic, at("2026-03-24"), 3)
    _, silent, _ = await mature(factory, launch_age=None)

    _, full = await maturity(factory, covered)
    _, none = await maturity(factory, silent)

    assert full["COVERAGE_GROWING"]["met"] and not none["COVERAGE_GROWING"]["met"]
    assert none["COVERAGE_GROWING"]["next_step"] == (
        "No conversations arrived in the last 4 weeks: check that they are being ingested before planning new use"
        " cases.")


async def test_an_escalation_path_needs_a_contact(factory):
    _, dep, _ = await mature(factory, contact=False)

    level, duties = await maturity(factory, dep)

    assert (duties["ESCALATION_PATH"]["met"], level) == (False, 4)
    assert duties["ESCALATION_PATH"]["next_step"] == (
        "Name an escalation contact, usually the CX leader, so alerts about this deployment reach someone who can"
        " act.")


@pytest.mark.parametrize(("age", "acknowledged_after", "met"), [
    (10 * DAY, 3 * DAY, True),          # within the policy's 3 days, exactly
    (10 * DAY, 3 * DAY + timedelta(seconds=1), False),
    (5 * DAY, None, False),             # unacknowledged past the limit
    (2 * DAY, None, True),              # unacknowledged, still within it
    (57 * DAY, None, True),             # older than the 8 weeks looked at
])
async def test_an_escalation_path_needs_alerts_acknowledged_within_the_policys_limit(factory, age,
                                                                                      acknowledged_after, met):
    org, dep, _ = await mature(factory)
    await factory.health_event(org, dep, NOW - age, "HEALTHY", "AT_RISK", [], ["ARR_DECLINING"],
                               acknowledged_at=acknowledged_after and NOW - age + acknowledged_after)

    level, duties = await maturity(factory, dep)

    evidence = json.loads(duties["ESCALATION_PATH"]["evidence"])
    assert (duties["ESCALATION_PATH"]["met"], level) == (met, 5 if met else 4)
    assert (evidence["alerts_56_days"], evidence["alerts_late"]) == (int(age < 56 * DAY), int(not met))
    if not met:
        assert duties["ESCALATION_PATH"]["next_step"] == (
            "1 of 1 alerts in the last 8 weeks were acknowledged late or not at all: have Maya Okafor acknowledge each"
            " alert within 3 days.")


async def test_levels_count_consecutive_duties_from_the_first(factory):
    # reviews in 5 of 8 weeks (duty 2 not met), everything else met: level 1, though duties 3 to 5 hold
    _, dep, _ = await mature(factory, review_weeks=frozenset(range(5)))

    level, duties = await maturity(factory, dep)

    assert level == 1 and [d["met"] for d in duties.values()] == [True, False, True, True, True]


async def test_the_bi_view_lists_every_deployment(factory):
    _, a, _ = await mature(factory)
    _, b, _ = await mature(factory, owned=False)

    rows = await factory.conn.fetch("select deployment_id, level from metrics.deployment_maturity"
                                    " where deployment_id = any($1) and duty_number = 1 order by 1", [a, b])

    assert [tuple(r) for r in rows] == [(a, 5), (b, 0)]


async def test_without_an_owner_no_review_counts_and_the_advice_says_so(factory):
    _, dep, _ = await mature(factory, owned=False)

    _, duties = await maturity(factory, dep)

    # the same 8 weekly reviews as a mature deployment's, by nobody's owner: none counts
    assert json.loads(duties["WEEKLY_REVIEW"]["evidence"])["uncounted_reviews"] == 8
    assert duties["WEEKLY_REVIEW"]["next_step"] == (
        "Only the owner's reviews count, and 0 of the last 8 weeks had one (7 needed) while 8 reviews by others did"
        " not count: have a newly named owner review the weekly brief every week and record it.")


async def test_without_an_owner_or_reviews_the_advice_waits_for_one(factory):
    _, dep, _ = await mature(factory, owned=False, review_weeks=frozenset())

    _, duties = await maturity(factory, dep)

    assert duties["WEEKLY_REVIEW"]["next_step"] == (
        "Reviews that count came in 0 of the last 8 weeks (7 needed): once an owner is named, have them review the"
        " weekly brief every week and record it.")
