"""metrics.ownership_gaps: spans without an accountable owner, their days, figures, losses and cost.

Day rule: a UTC day belongs to whoever was accountable at its 00:00 UTC (the launch day: at launch).
"""
from datetime import date, timedelta

import pytest

from ..factory import at
from .test_instants import without_range_checks

NOW = at("2026-03-30", 12)   # today 03-30
H = timedelta(hours=1)


async def gaps(factory, dep) -> list:
    return await factory.conn.fetch(
        "select * from metrics.ownership_gaps(array[$1::bigint]) order by started_at desc", dep)


async def covered(factory, org, dep, *costs) -> list[int]:
    """Topics with these escalation costs, each covered on CHAT since 2020."""
    topics = [await factory.topic(org, escalation_cost=c) for c in costs]
    for t in topics:
        await factory.workflow(org, dep, t)
    return topics


async def outcomes(factory, org, dep, topic, day: str, *, resolved=0, escalated=0, reopened=0, hour=12.0):
    """On `day`: `resolved` AI resolutions, `reopened` more reopened within the window, `escalated` handoffs."""
    start = at(day, hour)
    await factory.conversations(org, dep, topic, start, resolved)
    await factory.conversations(org, dep, topic, start + H, reopened, reopened_after=2 * H)
    await factory.conversations(org, dep, topic, start + 2 * H, escalated, outcome="ESCALATED")


async def test_a_gap_from_launch_counts_the_launch_day_and_the_day_the_owner_starts(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2026-01-10", 8))
    owner = await factory.person(org)
    await factory.assign(org, dep, owner, at("2026-01-20", 9.5))
    (topic,) = await covered(factory, org, dep, 5.0)
    await outcomes(factory, org, dep, topic, "2026-01-10", resolved=2, hour=14)   # launch day: the gap's
    await outcomes(factory, org, dep, topic, "2026-01-20", escalated=1, hour=18)  # owner from 09:30: still the gap's
    await outcomes(factory, org, dep, topic, "2026-01-21", resolved=1)            # the owner's
    await factory.set_now(NOW)

    (g,) = await gaps(factory, dep)

    assert (g["started_at"], g["ended_at"], g["is_open"]) == (at("2026-01-10", 8), at("2026-01-20", 9.5), False)
    assert g["previous_person_id"] is None and g["previous_assignment_id"] is None
    assert float(g["duration_days"]) == 10.06  # 10 days 1.5 hours
    assert (g["during_from"], g["during_to"]) == (date(2026, 1, 10), date(2026, 1, 21))
    assert (g["latest_from"], g["latest_to"]) == (date(2026, 1, 10), date(2026, 1, 21))  # shorter than 28 days
    assert (g["baseline_from"], g["baseline_to"]) == (date(2025, 12, 13), date(2026, 1, 10))
    # during: 3 conversations, all addressable, 2 AI resolved -> ARR 2/3
    assert (g["during_conversations"], g["during_addressable"], g["during_ai_resolved"]) == (3, 3, 2)
    assert g["during_arr"] == pytest.approx(2 / 3)
    # before launch there is nothing to compare with
    assert (g["baseline_conversations"], g["baseline_arr"], g["arr_change_points"]) == (0, None, None)
    assert (g["resolutions_lost"], g["estimated_cost"]) == (None, None)


async def test_a_closed_gap_after_an_owner_left_with_baseline_losses_and_cost(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2025-12-01", 0))
    leaver, successor = await factory.person(org, name="Ada Leaver"), await factory.person(org)
    first = await factory.assign(org, dep, leaver, at("2025-12-01", 0), at("2026-02-01", 16.5))
    await factory.assign(org, dep, successor, at("2026-02-15", 9.5))
    cheap, dear = await covered(factory, org, dep, 4.0, 10.0)
    uncovered = await factory.topic(org)
    # baseline [01-05, 02-02): 20 addressable, 16 AI resolved (ARR 0.8), 1 uncovered
    await outcomes(factory, org, dep, cheap, "2026-01-10", resolved=10)
    await outcomes(factory, org, dep, uncovered, "2026-01-10", escalated=1)
    await outcomes(factory, org, dep, dear, "2026-02-01", resolved=6, escalated=4, hour=20)  # after 16:30: still hers
    # during [02-02, 02-16): 20 addressable, 5 AI resolved (ARR 0.25), 1 reopened of 6 AI outcomes
    await outcomes(factory, org, dep, cheap, "2026-02-02", resolved=3, reopened=1, escalated=6)
    await outcomes(factory, org, dep, dear, "2026-02-15", resolved=2, escalated=8)  # successor from 09:30
    await outcomes(factory, org, dep, cheap, "2026-02-16", resolved=10)            # the successor's
    await factory.set_now(NOW)

    (g,) = await gaps(factory, dep)

    assert (g["started_at"], g["ended_at"]) == (at("2026-02-01", 16.5), at("2026-02-15", 9.5))
    assert (g["previous_assignment_id"], g["previous_person_id"], g["previous_person_name"]) == (
        first, leaver, "Ada Leaver")
    assert (g["baseline_from"], g["baseline_to"], g["during_from"], g["during_to"]) == (
        date(2026, 1, 5), date(2026, 2, 2), date(2026, 2, 2), date(2026, 2, 16))
    assert (g["baseline_conversations"], g["baseline_addressable"], g["baseline_ai_resolved"]) == (21, 20, 16)
    assert g["baseline_arr"] == 0.8 and g["baseline_topic_coverage"] == 20 / 21 and g["baseline_reopen_rate"] == 0
    assert (g["during_conversations"], g["during_addressable"], g["during_ai_resolved"],
            g["during_ai_outcomes"], g["during_reopened"]) == (20, 20, 5, 6, 1)
    assert (g["during_arr"], g["during_reopen_rate"], g["during_topic_coverage"]) == (0.25, 1 / 6, 1.0)
    assert g["arr_change_points"] == pytest.approx(-55)             # (0.25 - 0.8) x 100
    assert g["resolutions_lost"] == pytest.approx(11)               # (0.8 - 0.25) x 20
    # cost per lost resolution: (10 x 4.00 + 10 x 10.00) / 20 addressable = 7.00; 11 x 7.00 = 77.00
    assert (g["escalation_cost_per_resolution"], g["estimated_cost"]) == (7, 77)


async def test_an_open_gap_runs_to_today_and_its_latest_4_weeks(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2025-12-01", 0))
    leaver = await factory.person(org)
    await factory.assign(org, dep, leaver, at("2026-01-01", 0), at("2026-03-01", 16.5))
    (topic,) = await covered(factory, org, dep, 5.0)
    await outcomes(factory, org, dep, topic, "2026-02-10", resolved=9, escalated=1)  # baseline: ARR 0.9
    await outcomes(factory, org, dep, topic, "2026-03-02", resolved=4)               # during, before the latest
    await outcomes(factory, org, dep, topic, "2026-03-20", resolved=1, escalated=9)  # latest: ARR 0.1
    await factory.set_now(NOW)

    g, from_launch = await gaps(factory, dep)  # newest first

    assert (g["ended_at"], g["is_open"], g["previous_person_id"]) == (None, True, leaver)
    assert (from_launch["started_at"], from_launch["ended_at"]) == (at("2025-12-01", 0), at("2026-01-01", 0))
    assert float(g["duration_days"]) == 28.81  # 03-01 16:30 to 03-30 12:00
    assert (g["during_from"], g["during_to"], g["latest_from"]) == (date(2026, 3, 2), date(2026, 3, 31),
                                                                    date(2026, 3, 3))
    assert (g["during_addressable"], g["during_ai_resolved"]) == (14, 5)
    assert (g["latest_addressable"], g["latest_ai_resolved"], g["latest_arr"]) == (10, 1, 0.1)
    assert g["resolutions_lost"] == pytest.approx(0.9 * 14 - 5)  # 7.6
    assert float(g["estimated_cost"]) == 38.0              # 7.6 x 5.00


async def test_gaps_are_listed_newest_first_and_a_handover_leaves_none(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2025-06-01", 6))
    a, b, c = [await factory.person(org) for _ in range(3)]
    await factory.assign(org, dep, a, at("2025-07-01", 9.5), at("2025-09-01", 9.5))
    await factory.assign(org, dep, b, at("2025-09-01", 9.5), at("2025-12-01", 16.5))  # a handover: no gap
    await factory.assign(org, dep, c, at("2026-01-05", 9.5))
    await factory.set_now(NOW)

    rows = await gaps(factory, dep)

    assert [(r["started_at"], r["ended_at"], r["previous_person_id"]) for r in rows] == [
        (at("2025-12-01", 16.5), at("2026-01-05", 9.5), b),
        (at("2025-06-01", 6), at("2025-07-01", 9.5), None),
    ]


async def test_a_gap_with_no_baseline_traffic_has_counts_of_zero_and_no_rates(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2026-02-01", 0))
    leaver = await factory.person(org)
    await factory.assign(org, dep, leaver, at("2026-02-01", 0), at("2026-03-10", 0))  # leaves at midnight
    (topic,) = await covered(factory, org, dep, 5.0)
    await outcomes(factory, org, dep, topic, "2026-03-10", resolved=1, escalated=1, hour=0.5)
    await factory.set_now(NOW)

    (g,) = await gaps(factory, dep)

    assert g["during_from"] == date(2026, 3, 10)  # its 00:00 is the gap's
    assert (g["baseline_conversations"], g["baseline_addressable"], g["baseline_ai_resolved"]) == (0, 0, 0)
    assert (g["baseline_arr"], g["baseline_reopen_rate"], g["baseline_topic_coverage"]) == (None, None, None)
    assert (g["during_addressable"], g["during_arr"]) == (2, 0.5)
    assert (g["arr_change_points"], g["resolutions_lost"], g["estimated_cost"]) == (None, None, None)


async def test_resolutions_lost_are_floored_at_zero_when_the_gap_did_better(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2026-01-01", 0))
    leaver = await factory.person(org)
    await factory.assign(org, dep, leaver, at("2026-01-01", 0), at("2026-02-01", 12))
    (topic,) = await covered(factory, org, dep, 5.0)
    await outcomes(factory, org, dep, topic, "2026-01-20", resolved=2, escalated=8)  # baseline 0.2
    await outcomes(factory, org, dep, topic, "2026-02-10", resolved=5, escalated=5)  # during 0.5
    await factory.set_now(NOW)

    (g,) = await gaps(factory, dep)

    assert g["arr_change_points"] == pytest.approx(30)
    assert (g["resolutions_lost"], g["estimated_cost"]) == (0, 0)  # 0.2 x 10 - 5 = -3, floored


async def test_an_owner_deactivated_with_the_period_left_open_leaves_a_gap_from_then(factory):
    org = await factory.org()
    dep = await factory.deployment(org, launched_at=at("2026-01-01", 0))
    owner = await factory.person(org)
    assignment = await factory.assign(org, dep, owner, at("2026-01-01", 0))
    await factory.conn.execute("update steward.persons set active = false, deactivated_at = $2 where id = $1",
                               owner, at("2026-03-01", 16.5))
    await factory.set_now(NOW)

    (g,) = await gaps(factory, dep)

    assert (g["started_at"], g["ended_at"], g["previous_assignment_id"]) == (at("2026-03-01", 16.5), None, assignment)


async def test_no_gap_before_launch_nor_for_a_deployment_owned_from_launch(factory):
    org = await factory.org()
    owned = await factory.deployment(org, launched_at=at("2026-01-01", 6))
    await factory.assign(org, owned, await factory.person(org), at("2026-01-01", 6))
    future = await factory.deployment(org, launched_at=at("2026-05-01", 0))
    await factory.set_now(NOW)

    assert await gaps(factory, owned) == [] and await gaps(factory, future) == []


async def test_the_bi_view_lists_the_organizations_gaps_only(factory):
    org, other = await factory.org(), await factory.org()
    mine = await factory.deployment(org, launched_at=at("2026-01-01", 0))
    await factory.deployment(other, launched_at=at("2026-01-01", 0))
    await factory.set_now(NOW)
    await factory.as_org(org)

    rows = await factory.conn.fetch("select deployment_id, is_open from metrics.ownership_gaps")

    assert [(r["deployment_id"], r["is_open"]) for r in rows] == [(mine, True)]


async def test_a_launch_at_infinity_leaves_out_its_gap_and_not_the_other_deployments(factory, conn):
    await without_range_checks(conn, "deployments_launched_at_in_range", "ownership_assignments_valid_in_range")
    org = await factory.org()
    bad, never, good = [await factory.deployment(org) for _ in range(3)]
    await conn.execute("update steward.deployments set launched_at = '-infinity' where id = any ($1)", [bad, never])
    owner = await factory.person(org)
    await conn.execute("insert into steward.ownership_assignments (org_id, deployment_id, person_id, valid)"
                       " values ($1, $2, $3, tstzrange('-infinity', '2026-03-01 16:30Z'))", org, bad, owner)
    await factory.set_now(NOW)

    rows = await conn.fetch("select * from metrics.ownership_gaps($1)", [bad, never, good])

    # bad: the gap after its owner (from -infinity) left is measured; never: its gap from a launch at
    # -infinity has no days, left out; good: open since its launch in 2020
    assert [(r["deployment_id"], r["started_at"], r["previous_person_id"]) for r in rows] == [
        (bad, at("2026-03-01", 16.5), owner), (good, at("2020-01-01", 0), None)]
