"""metrics.deployment_health: every reason code, its boundary, status precedence and per-org policy."""
import json
from datetime import timedelta

import pytest

from ..factory import at

NOW = at("2026-03-30", 12)   # today 03-30: last 4 weeks [03-03, 03-31), the 4 before [02-03, 03-03)
DAY = timedelta(days=1)
S = timedelta(seconds=1)


async def deployment(factory, org=None, *, function="CX", fte=0.8, owned=True,
                     update_age=DAY, review_age=DAY) -> tuple[int, int, int]:
    """A deployment that is healthy unless an argument says otherwise; returns (org, deployment, person)."""
    org = org or await factory.org()
    dep = await factory.deployment(org)
    person = await factory.person(org, function=function, fte=fte)
    if owned:
        await factory.assign(org, dep, person, at("2026-01-01", 0))
    if update_age is not None:
        await factory.update(org, dep, person, NOW - update_age)
    if review_age is not None:
        await factory.review(org, dep, person, NOW - review_age)
    await factory.set_now(NOW)
    return org, dep, person


async def resolution_history(factory, org, dep, *, previous: tuple[int, int], recent: tuple[int, int]) -> None:
    """Addressable conversations: (resolved, total) in the 4 weeks before, and in the last 4 weeks."""
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    for day, (resolved, total) in (("2026-02-10", previous), ("2026-03-20", recent)):
        await factory.conversations(org, dep, topic, at(day), resolved)
        await factory.conversations(org, dep, topic, at(day, 18), total - resolved, outcome="ESCALATED")


async def test_an_owned_maintained_reviewed_deployment_is_healthy(factory):
    _, dep, _ = await deployment(factory)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == ("HEALTHY", [])
    assert (h["last_update_at"], h["last_review_at"]) == (NOW - DAY, NOW - DAY)


async def test_no_owner_is_unowned(factory):
    _, dep, _ = await deployment(factory, owned=False)

    h = await factory.health(dep)

    # yesterday's review was nobody's as owner: under the default policy (OWNER) it does not count
    assert (h["status"], h["codes"]) == ("UNOWNED", ["NO_OWNER", "NO_RECENT_REVIEW", "REVIEW_OVERDUE"])
    assert json.loads(h["reasons"])[0] == {"code": "NO_OWNER", "message": "No accountable owner is assigned."}


async def test_an_owner_whose_period_ended_leaves_the_deployment_unowned(factory):
    org, dep, person = await deployment(factory, owned=False)
    await factory.assign(org, dep, person, at("2026-01-01", 0), NOW - DAY)

    h = await factory.health(dep)

    # the review at NOW - DAY came at the instant the period ended (exclusive): not the owner's, not counted
    assert (h["status"], h["codes"]) == ("UNOWNED", ["NO_OWNER", "NO_RECENT_REVIEW", "REVIEW_OVERDUE"])
    assert h["last_review_at"] is None


async def test_a_deactivated_owner_is_unowned_and_not_judged_on_function_or_fte(factory):
    _, dep, person = await deployment(factory, function="VENDOR", fte=0.1)
    await factory.deactivate(person)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == ("UNOWNED", ["OWNER_INACTIVE"])


@pytest.mark.parametrize(("age", "status", "codes"), [
    (14 * DAY, "HEALTHY", []),                          # exactly 14 days: not yet
    (14 * DAY + S, "STALE", ["NO_RECENT_UPDATE"]),
    (None, "STALE", ["NO_RECENT_UPDATE"]),              # never updated
])
async def test_no_recent_update_after_14_days(factory, age, status, codes):
    _, dep, _ = await deployment(factory, update_age=age)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == (status, codes)


async def test_stale_update_message_states_the_days(factory):
    _, dep, _ = await deployment(factory, update_age=20 * DAY + 3 * timedelta(hours=1))
    _, never, _ = await deployment(factory, update_age=None)

    h = await factory.health(dep)
    h_never = await factory.health(never)

    assert h["reasons"] == ('[{"code": "NO_RECENT_UPDATE", "message":'
                            ' "No workflow update for 20 days (limit 14)."}]')
    assert "No workflow update has ever been recorded." in h_never["reasons"]


@pytest.mark.parametrize(("age", "status", "codes"), [
    (14 * DAY, "AT_RISK", ["REVIEW_OVERDUE"]),          # not stale yet, but overdue (7 days)
    (14 * DAY + S, "STALE", ["NO_RECENT_REVIEW", "REVIEW_OVERDUE"]),
    (None, "STALE", ["NO_RECENT_REVIEW", "REVIEW_OVERDUE"]),
])
async def test_no_recent_review_after_14_days(factory, age, status, codes):
    _, dep, _ = await deployment(factory, review_age=age)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == (status, codes)


@pytest.mark.parametrize(("age", "status"), [(7 * DAY, "HEALTHY"), (7 * DAY + S, "AT_RISK")])
async def test_review_overdue_after_7_days(factory, age, status):
    _, dep, _ = await deployment(factory, review_age=age)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == (status, [] if status == "HEALTHY" else ["REVIEW_OVERDUE"])


@pytest.mark.parametrize("function", ["ENGINEERING", "IT", "VENDOR", "OTHER"])
async def test_an_owner_outside_cx_is_at_risk(factory, function):
    _, dep, _ = await deployment(factory, function=function)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == ("AT_RISK", ["OWNER_OUTSIDE_CX"])
    assert f"The owner works in {function}, not in CX." in h["reasons"]


@pytest.mark.parametrize(("fte", "status"), [(0.49, "AT_RISK"), (0.5, "HEALTHY"), (0.0, "AT_RISK")])
async def test_an_owner_below_half_an_fte_is_at_risk(factory, fte, status):
    _, dep, _ = await deployment(factory, fte=fte)

    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == (status, ["OWNER_LOW_FTE"] if status == "AT_RISK" else [])


@pytest.mark.parametrize(("recent", "status"), [
    ((9, 20), "AT_RISK"),    # 50% -> 45%: exactly 5 points (not lost to floating point)
    ((19, 40), "HEALTHY"),   # 50% -> 47.5%: 2.5 points
    ((13, 20), "HEALTHY"),   # 50% -> 65%: rising
])
async def test_arr_declining_by_5_points_over_4_weeks(factory, recent, status):
    org, dep, _ = await deployment(factory)
    await resolution_history(factory, org, dep, previous=(1, 2), recent=recent)

    h = await factory.health(dep)

    assert h["arr_previous"] == 0.5
    assert h["arr_recent"] == recent[0] / recent[1]
    assert (h["status"], h["codes"]) == (status, ["ARR_DECLINING"] if status == "AT_RISK" else [])


async def test_arr_declining_message_and_no_decline_without_history(factory):
    org, dep, _ = await deployment(factory)
    await resolution_history(factory, org, dep, previous=(1, 2), recent=(9, 20))
    org2, fresh, _ = await deployment(factory)
    await resolution_history(factory, org2, fresh, previous=(0, 0), recent=(0, 10))

    h = await factory.health(dep)
    h_fresh = await factory.health(fresh)

    assert "Addressable resolution rate fell from 50.0% to 45.0% (last 4 weeks vs the 4 before)." in h["reasons"]
    # nothing addressable in the 4 weeks before: no comparison, however low the recent rate
    assert (h_fresh["arr_previous"], h_fresh["arr_recent"], h_fresh["status"]) == (None, 0.0, "HEALTHY")


async def test_status_is_the_most_severe_reason(factory):
    _, unowned, _ = await deployment(factory, owned=False, function="IT", update_age=None, review_age=None)
    _, stale, _ = await deployment(factory, function="ENGINEERING", update_age=20 * DAY)
    _, at_risk, _ = await deployment(factory, function="ENGINEERING", fte=0.2, review_age=10 * DAY)

    h_unowned = await factory.health(unowned)
    h_stale = await factory.health(stale)
    h_at_risk = await factory.health(at_risk)

    # UNOWNED > STALE > AT_RISK; reasons listed most severe first, then by code
    assert (h_unowned["status"], h_unowned["codes"]) == (
        "UNOWNED", ["NO_OWNER", "NO_RECENT_REVIEW", "NO_RECENT_UPDATE", "REVIEW_OVERDUE"])
    assert (h_stale["status"], h_stale["codes"]) == ("STALE", ["NO_RECENT_UPDATE", "OWNER_OUTSIDE_CX"])
    assert (h_at_risk["status"], h_at_risk["codes"]) == (
        "AT_RISK", ["OWNER_LOW_FTE", "OWNER_OUTSIDE_CX", "REVIEW_OVERDUE"])


async def test_policy_thresholds_are_per_organization_and_apply_at_once(factory):
    strict_org, lax_org = await factory.org(), await factory.org()
    # same facts in both: update 20 days ago, review 5 days ago, owner at 0.4 FTE
    _, strict, _ = await deployment(factory, strict_org, fte=0.4, update_age=20 * DAY, review_age=5 * DAY)
    _, lax, _ = await deployment(factory, lax_org, fte=0.4, update_age=20 * DAY, review_age=5 * DAY)
    before = await factory.health(lax)

    await factory.policy(lax_org, stale_update_days=30, review_due_days=3, min_owner_fte=0.3)
    after = await factory.health(lax)
    untouched = await factory.health(strict)

    # defaults: 20 > 14 days without update, 0.4 < 0.5 FTE
    assert (before["status"], before["codes"]) == ("STALE", ["NO_RECENT_UPDATE", "OWNER_LOW_FTE"])
    # lax org: 20 <= 30 days, 0.4 >= 0.3 FTE, but 5 > 3 days since the review
    assert (after["status"], after["codes"]) == ("AT_RISK", ["REVIEW_OVERDUE"])
    assert untouched["codes"] == before["codes"]


@pytest.mark.parametrize(("drop_points", "status"), [(5, "AT_RISK"), (6, "HEALTHY")])
async def test_arr_drop_threshold_is_per_organization(factory, drop_points, status):
    org, dep, _ = await deployment(factory)
    await resolution_history(factory, org, dep, previous=(1, 2), recent=(9, 20))

    await factory.policy(org, arr_drop_points=drop_points, stale_review_days=30)
    h = await factory.health(dep)

    assert h["status"] == status


async def test_stale_review_threshold_is_per_organization(factory):
    org, dep, _ = await deployment(factory, review_age=20 * DAY)

    await factory.policy(org, stale_review_days=30, review_due_days=30)
    h = await factory.health(dep)

    assert (h["status"], h["codes"]) == ("HEALTHY", [])


# --- ARR since the owner left, and against the owner's own baseline ---------------------------------

async def left_with_decay(factory, org=None):
    """An owner who left 03-01 16:30 (29 days before NOW): ARR 90% in the 4 weeks before, 10% in the
    gap's latest 4 weeks, 4 of 4 resolved on 03-02 (during, before the latest)."""
    org = org or await factory.org()
    dep = await factory.deployment(org)
    leaver = await factory.person(org, name="Dana Left")
    await factory.assign(org, dep, leaver, at("2026-01-01", 0), at("2026-03-01", 16.5))
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    for day, resolved, escalated in (("2026-02-10", 9, 1), ("2026-03-02", 4, 0), ("2026-03-20", 1, 9)):
        await factory.conversations(org, dep, topic, at(day), resolved)
        await factory.conversations(org, dep, topic, at(day, 18), escalated, outcome="ESCALATED")
    await factory.update(org, dep, leaver, NOW - DAY)
    await factory.review(org, dep, leaver, NOW - DAY)
    await factory.set_now(NOW)
    return org, dep


async def test_arr_decayed_since_the_owner_left_is_an_unowned_reason_with_the_figures(factory):
    _, dep = await left_with_decay(factory)

    h = await factory.health(dep)

    assert h["status"] == "UNOWNED" and h["arr_owner_baseline"] is None  # no owner, no baseline of theirs
    # ARR_DECLINING too: the last 4 weeks (10%) against the 4 before (13 of 14); the former owner's
    # review of yesterday, 28 days after they left, does not count (default policy OWNER)
    assert h["codes"] == ["ARR_DECAYED_SINCE_OWNER_LEFT", "NO_OWNER", "NO_RECENT_REVIEW", "ARR_DECLINING",
                          "REVIEW_OVERDUE"]
    # 90% -> 10% (80 points >= 10); lost over the gap: 0.9 x 14 addressable - 5 resolved = 7.6
    assert ("ARR 90.0% → 10.0% since Dana Left left 29 days ago; ≈8 resolutions lost."
            in json.loads(h["reasons"])[0]["message"])


@pytest.mark.parametrize(("decay_points", "applies"), [(10, True), (80, True), (80.01, False)])
async def test_arr_decay_threshold_is_the_policys(factory, decay_points, applies):
    org, dep = await left_with_decay(factory)
    await factory.policy(org, arr_decay_points=decay_points)

    h = await factory.health(dep)

    assert ("ARR_DECAYED_SINCE_OWNER_LEFT" in h["codes"]) is applies and h["status"] == "UNOWNED"


async def test_no_decay_reason_for_a_gap_from_launch_or_without_a_baseline(factory):
    _, never_owned, _ = await deployment(factory, owned=False)   # a gap from launch: nobody left
    org = await factory.org()
    dep = await factory.deployment(org)
    leaver = await factory.person(org)
    await factory.assign(org, dep, leaver, at("2026-01-01", 0), at("2026-03-01", 16.5))
    await resolution_history(factory, org, dep, previous=(0, 0), recent=(0, 10))  # nothing before the gap
    await factory.set_now(NOW)

    assert "ARR_DECAYED_SINCE_OWNER_LEFT" not in (await factory.health(never_owned))["codes"]
    assert "ARR_DECAYED_SINCE_OWNER_LEFT" not in (await factory.health(dep))["codes"]


async def owner_with_history(factory, *, recent: tuple[int, int], since="2025-10-01"):
    """Owned since `since` (00:00). Today 03-30: block k is the 28 days ending 28k days ago; blocks 1-5
    (02-03..03-02, 01-06..02-02, 12-09..01-05, 11-11..12-08, 10-14..11-10) are complete, block 6
    (09-16..10-13) is not. ARR by block: 1: 50%, 2: 60%, 3: 50%, 4: 60%, 5: 60% (median 60%);
    in block 6, inside the period but incomplete, 50% (counted, the median would be 55%).
    The last 4 weeks: `recent` (resolved, addressable)."""
    org, dep, _ = await deployment(factory, owned=False, review_age=None)
    owner = await factory.person(org)
    await factory.assign(org, dep, owner, at(since, 0))
    await factory.review(org, dep, owner, NOW - DAY)  # the owner's own review: it counts
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    for day, (resolved, total) in (("2026-02-20", (5, 10)), ("2026-01-20", (6, 10)), ("2025-12-20", (5, 10)),
                                   ("2025-12-01", (6, 10)), ("2025-11-01", (6, 10)), ("2025-10-05", (5, 10)),
                                   ("2026-03-20", recent)):
        await factory.conversations(org, dep, topic, at(day), resolved)
        await factory.conversations(org, dep, topic, at(day, 18), total - resolved, outcome="ESCALATED")
    return org, dep


async def test_arr_declining_against_the_owners_own_baseline(factory):
    _, dep = await owner_with_history(factory, recent=(13, 25))  # 52%: 8 points below 60%, above block 1 (50%)

    h = await factory.health(dep)

    assert h["arr_previous"] == 0.5 and h["arr_recent"] == 0.52  # vs the 4 weeks before: rising
    assert h["arr_owner_baseline"] == 0.6
    assert (h["status"], h["codes"]) == ("AT_RISK", ["ARR_DECLINING"])
    assert ("Addressable resolution rate of the last 4 weeks (52.0%) is 8.0 points below the owner's own"
            " baseline of 60.0% (median 4-week ARR of 5 earlier blocks in their period).") in h["reasons"]
    assert "vs the 4 before" not in h["reasons"]


@pytest.mark.parametrize(("drop_points", "status"), [(8, "AT_RISK"), (8.01, "HEALTHY")])
async def test_arr_declining_against_the_owner_uses_the_drop_threshold(factory, drop_points, status):
    org, dep = await owner_with_history(factory, recent=(13, 25))
    await factory.policy(org, arr_drop_points=drop_points)

    assert (await factory.health(dep))["status"] == status


async def test_a_new_owner_has_no_baseline_of_their_own_yet(factory):
    # owner since 02-10: block 1 starts 02-03, before them: no complete block
    _, dep = await owner_with_history(factory, recent=(13, 25), since="2026-02-10")

    h = await factory.health(dep)

    assert h["arr_owner_baseline"] is None and (h["status"], h["codes"]) == ("HEALTHY", [])
