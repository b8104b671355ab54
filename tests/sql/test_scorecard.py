"""A leader's view: the organization's scorecard over a window, and its weekly trend."""
import math
from datetime import date, timedelta

import pytest

from ..factory import at

NOW = at("2026-03-30", 12)
FROM, TO = date(2026, 3, 2), date(2026, 3, 30)     # 4 whole ISO weeks: 03-02, 03-09, 03-16, 03-23
Z = 1.959963984540054


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


async def organization(factory):
    """d1: a CX owner at 0.8 FTE; d2, d3: the same engineer at 0.3 FTE; d4: its owner's period ended 03-16 00:00
    (unowned since); d5: retired, owned throughout. d1-d4 launched 2026-01-01 and owned from then.
    Addressable conversations (topic cost 5): d1 10 a week, 6 resolved; d4 03-03: 8 of 10, 03-17: 2 of 10,
    03-24: 1 of 10. d1: one update a week and a review in the week of 03-09; d2: a vendor's review 03-17."""
    org = await factory.org()
    cx, engineer, leaver, keeper = (await factory.person(org, function="CX", fte=0.8),
                                    await factory.person(org, function="ENGINEERING", fte=0.3),
                                    await factory.person(org), await factory.person(org))
    vendor = await factory.person(org, function="VENDOR")
    topic = await factory.topic(org, escalation_cost=5)
    launch = at("2026-01-01", 0)
    d = {k: await factory.deployment(org, launched_at=launch) for k in ("d1", "d2", "d3", "d4")}
    d["d5"] = await factory.deployment(org, status="RETIRED")
    for key, person in (("d1", cx), ("d2", engineer), ("d3", engineer), ("d4", leaver)):
        assignment = await factory.assign(org, d[key], person, launch)
    await factory.end_assignment(assignment, at("2026-03-16", 0))   # d4's
    await factory.assign(org, d["d5"], keeper, at("2020-01-01", 0))
    for key in ("d1", "d4"):
        await factory.workflow(org, d[key], topic)
    for week in range(4):
        monday = FROM + timedelta(weeks=week)
        await factory.conversations(org, d["d1"], topic, at(monday + timedelta(days=1)), 6)
        await factory.conversations(org, d["d1"], topic, at(monday + timedelta(days=1), 18), 4, outcome="ESCALATED")
        await factory.update(org, d["d1"], cx, at(monday + timedelta(days=2)))
    for day, resolved in (("2026-03-03", 8), ("2026-03-17", 2), ("2026-03-24", 1)):
        await factory.conversations(org, d["d4"], topic, at(day), resolved)
        await factory.conversations(org, d["d4"], topic, at(day, 18), 10 - resolved, outcome="ESCALATED")
    await factory.review(org, d["d1"], cx, at("2026-03-11"))
    await factory.review(org, d["d2"], vendor, at("2026-03-17"))
    await factory.set_now(NOW)
    await factory.as_org(org)
    return org, d


async def test_the_scorecard_counts_owners_maturity_arr_and_the_gap_ledger(factory):
    org, d = await organization(factory)

    s = await factory.conn.fetchrow("select * from metrics.scorecard($1, $2)", FROM, TO)
    levels = dict(await factory.conn.fetch(
        "select deployment_id, level from metrics.maturity($1) where duty_number = 1", list(d.values())))

    assert (s["org_id"], s["window_from"], s["window_to"]) == (org, FROM, TO)
    # not retired: d1-d4; d4 is unowned
    assert (s["deployments"], s["owned"], s["unowned"]) == (4, 3, 1)
    # one engineer below the floor owns two deployments
    assert (s["owners_outside_cx"], s["owners_below_fte"]) == (1, 1)
    assert (s["deployments_owner_outside_cx"], s["deployments_owner_below_fte"]) == (2, 2)
    # d1 has its CX owner but reviewed in 1 of the last 8 weeks: level 1; d2-d4 fail the first duty
    assert [levels[d[k]] for k in ("d1", "d2", "d3", "d4")] == [1, 0, 0, 0]
    assert [s[f"maturity_level_{n}"] for n in range(6)] == [3, 1, 0, 0, 0, 0]
    # deployment-weeks, retired d5 included as in ownership_impact: owned d1 4, d2 4, d3 4, d4 2, d5 4 = 18;
    # unowned d4 2. Owned: d1 24 of 40 + d4 8 of 10 = 32 of 50; unowned: d4 3 of 20
    owned = (s["owned_deployment_weeks"], s["owned_addressable"], s["owned_ai_resolved"], s["owned_arr"])
    unowned = (s["unowned_deployment_weeks"], s["unowned_addressable"], s["unowned_ai_resolved"], s["unowned_arr"])
    assert (owned, unowned) == ((18, 50, 32, 0.64), (2, 20, 3, 0.15))
    assert (s["owned_arr_ci_low"], s["owned_arr_ci_high"]) == pytest.approx(wilson(32, 50))
    assert (s["unowned_arr_ci_low"], s["unowned_arr_ci_high"]) == pytest.approx(wilson(3, 20))
    # d4's open gap from 03-16: baseline (02-16 .. 03-15) 8 of 10; during: 3 of 20; lost 0.8 x 20 - 3 = 13,
    # at the topic's 5 each
    assert (s["gaps"], s["open_gaps"], s["resolutions_lost"], s["estimated_cost"]) == (1, 1, pytest.approx(13), 65)


async def test_a_gap_that_ended_before_the_window_is_not_in_it(factory):
    await organization(factory)

    s = await factory.conn.fetchrow("select * from metrics.scorecard('2026-03-02', '2026-03-16')")

    # the window ends where d4's gap begins; its weeks: all owned
    assert (s["gaps"], s["resolutions_lost"], s["estimated_cost"]) == (0, 0, 0)
    assert (s["unowned_deployment_weeks"], s["unowned_arr"], s["unowned_arr_ci_low"]) == (0, None, None)


async def test_the_weekly_trend(factory):
    org, _ = await organization(factory)

    rows = await factory.conn.fetch("select * from metrics.scorecard_weeks($1, $2)", FROM, TO)

    assert {r["org_id"] for r in rows} == {org}
    assert [(r["week_start"], r["deployments"], r["owned"], r["unowned"]) for r in rows] == [
        (date(2026, 3, 2), 5, 5, 0), (date(2026, 3, 9), 5, 5, 0),
        (date(2026, 3, 16), 5, 4, 1), (date(2026, 3, 23), 5, 4, 1)]
    assert [(r["owned_ai_resolved"], r["owned_addressable"], r["unowned_ai_resolved"], r["unowned_addressable"])
            for r in rows] == [(14, 20, 0, 0), (6, 10, 0, 0), (6, 10, 2, 10), (6, 10, 1, 10)]
    assert [r["owned_arr"] for r in rows] == [0.7, 0.6, 0.6, 0.6]
    assert (rows[2]["unowned_arr_ci_low"], rows[2]["unowned_arr_ci_high"]) == pytest.approx(wilson(2, 10))
    # one update a week on d1; d1's review of 03-11 counts, the vendor's of 03-17 does not
    assert [(r["workflow_updates"], r["reviewed"]) for r in rows] == [(1, 0), (1, 1), (1, 0), (1, 0)]


async def test_no_organization_no_scorecard(factory):
    await organization(factory)
    await factory.as_org(None)

    assert await factory.conn.fetch("select * from metrics.scorecard($1, $2)", FROM, TO) == []
    assert await factory.conn.fetch("select * from metrics.scorecard_weeks($1, $2)", FROM, TO) == []
