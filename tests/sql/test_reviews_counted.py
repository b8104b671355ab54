"""Reviews that count (metrics.reviews): the policy's reviewers_counted, and a new owner who never reviewed."""
import json
from datetime import date, timedelta

import asyncpg
import pytest

from ..factory import at

NOW = at("2026-03-30", 12)
DAY = timedelta(days=1)
S = timedelta(seconds=1)


async def engineering_owned(factory, *, reviewer_function="VENDOR"):
    """The issue's case: an engineer owns the deployment (since 01-01) and keeps it updated; someone else
    (a vendor by default) reviewed it yesterday. Returns (org, deployment, owner, reviewer)."""
    org = await factory.org()
    dep = await factory.deployment(org)
    owner = await factory.person(org, function="ENGINEERING", fte=0.8)
    reviewer = await factory.person(org, function=reviewer_function, fte=0.3)
    await factory.assign(org, dep, owner, at("2026-01-01", 0))
    await factory.update(org, dep, owner, NOW - DAY)
    await factory.review(org, dep, owner, at("2026-01-05"))  # the owner's first and only review, long ago
    await factory.review(org, dep, reviewer, NOW - DAY)
    await factory.set_now(NOW)
    return org, dep, owner, reviewer


async def test_a_vendors_review_does_not_make_an_engineering_owned_deployment_look_reviewed(factory):
    _, dep, _, _ = await engineering_owned(factory)

    h = await factory.health(dep)

    # default OWNER: the last review that counts is the owner's of 01-05, 84 days ago
    assert h["last_review_at"] == at("2026-01-05")
    assert (h["status"], h["codes"]) == ("STALE", ["NO_RECENT_REVIEW", "OWNER_OUTSIDE_CX", "REVIEW_OVERDUE"])
    messages = {r["code"]: r["message"] for r in json.loads(h["reasons"])}
    assert messages["NO_RECENT_REVIEW"] == "No performance review by the accountable owner for 84 days (limit 14)."
    assert messages["REVIEW_OVERDUE"] == "No performance review by the accountable owner in the last 7 days."


@pytest.mark.parametrize(("policy", "reviewer_function", "counted"), [
    ("OWNER", "VENDOR", False),
    ("OWNER", "CX", False),
    ("OWNER_OR_CX", "VENDOR", False),
    ("OWNER_OR_CX", "CX", True),
    ("ANYONE", "VENDOR", True),
])
async def test_the_policy_says_whose_reviews_count(factory, policy, reviewer_function, counted):
    org, dep, _, reviewer = await engineering_owned(factory, reviewer_function=reviewer_function)
    await factory.policy(org, reviewers_counted=policy)

    h = await factory.health(dep)
    row = await factory.conn.fetchrow("select * from metrics.reviews where reviewer_id = $1", reviewer)
    m = await factory.window(dep, "2026-03-02", "2026-03-30")  # 4 weeks; the review of 03-29 is in week 3

    assert (row["reviewer_was_owner"], row["reviewers_counted"], row["counted"]) == (False, policy, counted)
    assert h["last_review_at"] == (NOW - DAY if counted else at("2026-01-05"))
    # counted: reviewed yesterday, only the owner's function is left (the owner reviewed in their period)
    assert h["codes"] == (["OWNER_OUTSIDE_CX"] if counted
                          else ["NO_RECENT_REVIEW", "OWNER_OUTSIDE_CX", "REVIEW_OVERDUE"])
    assert (m["reviews"], m["counted_reviews"], m["weeks_reviewed"]) == (1, int(counted), 1 / 4 if counted else 0.0)
    assert m["days_since_last_review"] == (0 if counted else 83)  # to the window's end, 03-30 00:00


async def test_the_owners_review_counts_only_inside_their_period_and_before_they_left(factory):
    org = await factory.org()
    dep = await factory.deployment(org)
    first, second = await factory.person(org), await factory.person(org)
    await factory.assign(org, dep, first, at("2026-01-01", 0), at("2026-02-01", 0))
    await factory.assign(org, dep, second, at("2026-02-01", 0))
    reviews = {
        "first, in period": await factory.review(org, dep, first, at("2026-01-31", 23.99)),
        "first, at its end": await factory.review(org, dep, first, at("2026-02-01", 0)),
        "second, at its start": await factory.review(org, dep, second, at("2026-02-01", 0)),
        "second, after leaving": await factory.review(org, dep, second, at("2026-03-20")),
    }
    await factory.conn.execute("update steward.persons set active = false, deactivated_at = $2 where id = $1",
                               second, at("2026-03-10"))

    rows = {r["review_id"]: r for r in await factory.conn.fetch("select * from metrics.reviews")}

    # periods are half-open; a deactivated person's period ends where they left (as for gaps)
    assert {k: rows[v]["counted"] for k, v in reviews.items()} == {
        "first, in period": True, "first, at its end": False, "second, at its start": True,
        "second, after leaving": False}


async def test_reviewers_counted_is_checked_and_defaults_to_owner(factory, conn):
    org = await factory.org()

    assert await conn.fetchval("select reviewers_counted from metrics.health_policy where org_id = $1", org) == "OWNER"
    with pytest.raises(asyncpg.CheckViolationError):
        async with conn.transaction():
            await factory.policy(org, reviewers_counted="VENDOR")


@pytest.mark.parametrize(("brief_week", "error"), [
    (date(2026, 3, 23), None),                      # a Monday
    (date(2026, 3, 24), "performance_reviews_brief_week_monday"),
    (date(1969, 12, 29), "performance_reviews_brief_week_in_range"),   # a Monday, before 1970
    (None, None),
])
async def test_a_reviews_brief_week_is_a_monday_in_range(factory, conn, brief_week, error):
    org = await factory.org()
    dep = await factory.deployment(org)
    person = await factory.person(org)
    insert = ("insert into steward.performance_reviews (org_id, deployment_id, reviewer_id, reviewed_at, brief_week)"
              " values ($1, $2, $3, $4, $5)")

    if error is None:
        await conn.execute(insert, org, dep, person, NOW, brief_week)
        assert await conn.fetchval("select brief_week from metrics.reviews where deployment_id = $1", dep) == brief_week
    else:
        with pytest.raises(asyncpg.CheckViolationError) as info:
            async with conn.transaction():
                await conn.execute(insert, org, dep, person, NOW, brief_week)
        assert info.value.constraint_name == error


# --- a new owner who never reviewed -------------------------------------------------------------

async def handed_over(factory, *, owner_since, policy="OWNER", colleague_reviews=True):
    """Owned by a CX lead since `owner_since` (handed over from a predecessor who reviewed the day before),
    updated yesterday; a CX colleague (not the owner) reviewed yesterday when `colleague_reviews`."""
    org = await factory.org()
    await factory.policy(org, reviewers_counted=policy)
    dep = await factory.deployment(org)
    before, owner, colleague = (await factory.person(org, name="Pat Before"), await factory.person(org, name="Ola New"),
                                await factory.person(org))
    await factory.assign(org, dep, before, at("2026-01-01", 0), owner_since)
    await factory.assign(org, dep, owner, owner_since)
    await factory.review(org, dep, before, owner_since - DAY)
    await factory.update(org, dep, owner, NOW - DAY)
    if colleague_reviews:
        await factory.review(org, dep, colleague, NOW - DAY)
    await factory.set_now(NOW)
    return org, dep, owner


@pytest.mark.parametrize(("policy", "age", "codes"), [
    # a CX colleague reviews for them (counted under OWNER_OR_CX): fine for 7 days, then REVIEW_OVERDUE
    ("OWNER_OR_CX", 7 * DAY, []),
    ("OWNER_OR_CX", 7 * DAY + S, ["REVIEW_OVERDUE"]),
    ("ANYONE", 30 * DAY, ["REVIEW_OVERDUE"]),
])
async def test_a_new_owner_who_never_reviewed_is_not_healthy_once_the_review_limit_passed(factory, policy, age, codes):
    _, dep, _ = await handed_over(factory, owner_since=NOW - age, policy=policy)

    h = await factory.health(dep)

    assert h["last_review_at"] == NOW - DAY   # the colleague's review counts...
    assert h["codes"] == codes                # ...but not as the owner's own
    if codes:
        message = json.loads(h["reasons"])[0]["message"]
        assert message == (f"Ola New has owned the deployment for {age.days} days without a review of their own"
                           " (limit 7).")


async def test_the_new_owners_first_review_lifts_it_and_the_limit_is_the_policys(factory):
    org, dep, owner = await handed_over(factory, owner_since=NOW - 10 * DAY, policy="ANYONE")
    overdue = await factory.health(dep)
    await factory.policy(org, review_due_days=10)
    later_limit = await factory.health(dep)
    await factory.policy(org, review_due_days=7)
    await factory.review(org, dep, owner, NOW - 2 * DAY)
    reviewed = await factory.health(dep)

    assert overdue["codes"] == ["REVIEW_OVERDUE"]
    assert later_limit["codes"] == []         # exactly 10 days: not past the limit
    assert reviewed["codes"] == []


async def test_under_owner_policy_both_parts_of_review_overdue_are_said(factory):
    # the predecessor's review (the day before the handover, 9 days ago) counted, and has aged past 7 days
    _, dep, _ = await handed_over(factory, owner_since=NOW - 8 * DAY, colleague_reviews=False)

    h = await factory.health(dep)

    assert h["last_review_at"] == NOW - 9 * DAY
    assert (h["status"], h["codes"]) == ("AT_RISK", ["REVIEW_OVERDUE"])
    assert json.loads(h["reasons"])[0]["message"] == (
        "No performance review by the accountable owner in the last 7 days."
        " Ola New has owned the deployment for 8 days without a review of their own (limit 7).")


async def test_the_policy_is_readable_as_a_view_under_row_level_security(factory, conn):
    org, other = await factory.org(), await factory.org()
    await factory.policy(org, reopen_hours=48, stale_update_days=21, escalation_after_days=5,
                         reviewers_counted="OWNER_OR_CX")
    await factory.as_org(org)

    rows = await conn.fetch("select * from metrics.health_policy")

    assert [r["org_id"] for r in rows] == [org]   # not `other`'s
    p = rows[0]
    assert (p["reopen_window_hours"], p["stale_update_days"], p["stale_review_days"], p["review_due_days"],
            p["min_owner_fte"], p["arr_drop_points"], p["arr_decay_points"], p["escalation_after_days"],
            p["reviewers_counted"]) == (48, 21, 14, 7, 0.5, 5, 10, 5, "OWNER_OR_CX")
    assert other != org
