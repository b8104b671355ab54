"""The demo data set: DESIGN.md's reference figures, read back through the metric views."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from service.db.pool import connect, scope_transaction
from service.demo.dataset import DEMO_SLUGS
from service.demo.figures import print_reference_figures, reference_figures
from service.demo.generate import build
from service.demo.load import load_demo
from service.demo.gaps import print_gap_ledger

pytestmark = pytest.mark.slow  # each load writes ~90k conversations

DEPLOYMENT = """
    select d.id from steward.deployments d join steward.organizations o on o.id = d.org_id
    where o.slug = $1 and d.key = $2
"""
TODAY = "select (steward.clock() at time zone 'UTC')::date"

# What each demo deployment is meant to show on the health page.
INTENDED_HEALTH = {
    "lumen-beauty/concierge": "HEALTHY", "lumen-beauty/voice-line": "AT_RISK", "lumen-beauty/sms-alerts": "STALE",
    "lumen-beauty/wholesale-desk": "UNOWNED",
    "harbor-home/assistant": "UNOWNED", "harbor-home/returns-desk": "HEALTHY", "harbor-home/store-voice": "AT_RISK",
    "harbor-home/legacy-faq": "UNOWNED",
    "northwind-outfitters/helpdesk": "HEALTHY", "northwind-outfitters/order-tracker": "AT_RISK",
    "northwind-outfitters/gear-advisor": "STALE", "northwind-outfitters/b2b-orders": "UNOWNED",
    "alder-and-pine/chat": "HEALTHY", "alder-and-pine/delivery-sms": "AT_RISK",
    "alder-and-pine/email-assist": "AT_RISK",
    "alder-and-pine/voice-ivr": "UNOWNED", "alder-and-pine/trade-desk": "UNOWNED",
    "copperleaf-grocers/shopper-help": "HEALTHY", "copperleaf-grocers/substitutions": "HEALTHY",
    "copperleaf-grocers/recipe-bot": "UNOWNED", "copperleaf-grocers/pharmacy-line": "AT_RISK",
    "copperleaf-grocers/catering": "STALE",
    "tidewater-sports/support": "HEALTHY", "tidewater-sports/fitting-assistant": "HEALTHY",
    "tidewater-sports/club-memberships": "AT_RISK",
}


@pytest.fixture(scope="module")
async def summary(module_db_url: str) -> str:
    return await load_demo(module_db_url)


@pytest.fixture
async def db(module_db_url: str, summary: str):
    conn = await connect(module_db_url)
    yield conn
    await conn.close()


async def window(db, slug: str, key: str, days: int):
    """metrics.deployment_window over the last `days` days, today included."""
    return await db.fetchrow(
        f"select m.* from ({TODAY}) t(today), metrics.deployment_window(array[({DEPLOYMENT})], today - $3::int + 1,"
        " today + 1) m", slug, key, days,
    )


async def snapshot(db) -> dict:
    """Row counts of every demo table and a digest of the conversations, independent of ids."""
    counts = {}
    for table in ("persons", "deployments", "ownership_assignments", "topics", "workflows", "workflow_periods",
                  "workflow_updates", "performance_reviews", "conversations", "conversation_daily"):
        counts[table] = await db.fetchval(
            f"select count(*) from steward.{table} t join steward.organizations o on o.id = t.org_id"
            " where o.slug = any($1::text[])", list(DEMO_SLUGS),
        )
    counts["conversations_md5"] = await db.fetchval(
        """
        select md5(string_agg(concat_ws('|', o.slug, c.external_id, d.key, t.key, c.channel, c.started_at,
                                        c.ai_engaged, c.outcome, c.resolved_at, c.reopened_at), E'\\n'
                              order by o.slug, c.external_id))
        from steward.conversations c
        join steward.organizations o on o.id = c.org_id
        join steward.deployments d on d.id = c.deployment_id
        join steward.topics t on t.id = c.topic_id
        where o.slug = any($1::text[])
        """, list(DEMO_SLUGS),
    )
    return counts


# --- the reference figures --------------------------------------------------------------------

async def test_lumen_made_202_updates_in_30_days_131_in_one_week(db):
    m = await window(db, "lumen-beauty", "concierge", 30)

    assert (m["workflow_updates"], m["peak_week_updates"]) == (202, 131)


async def test_harbor_resolves_038_percent_after_its_owner_left(db):
    m = await window(db, "harbor-home", "assistant", 28)

    assert round(m["addressable_resolution_rate"] * 100, 2) == 0.38
    assert m["ownership_gap_days"] >= 27 and m["workflow_updates"] == 0


async def test_northwind_oscillated_between_6_and_20_percent_for_a_year_without_owner(db):
    rows = await db.fetch(
        f"""
        select m.addressable_resolution_rate as arr, m.workflow_updates, m.ownership_gap_days
        from steward.deployments d
        cross join lateral (select (min(lower(valid)) at time zone 'UTC')::date as named
                            from steward.ownership_assignments oa where oa.deployment_id = d.id) o
        cross join lateral metrics.deployment_weeks(array[d.id], (d.launched_at at time zone 'UTC')::date, o.named) m
        where d.id = ({DEPLOYMENT})
          and m.window_from >= (d.launched_at at time zone 'UTC')::date and m.window_to <= o.named
        """, "northwind-outfitters", "helpdesk",
    )
    rates = [r["arr"] for r in rows]

    assert len(rows) >= 50  # about a year of complete ISO weeks
    assert all(0.06 <= x <= 0.20 for x in rates)
    assert (round(min(rates) * 100), round(max(rates) * 100)) == (6, 20)
    assert all(r["workflow_updates"] == 0 and r["ownership_gap_days"] == 7 for r in rows)


async def test_northwind_reaches_489_percent_two_months_after_naming_an_owner(db):
    recent = await window(db, "northwind-outfitters", "helpdesk", 28)
    named_days_ago = await db.fetchval(
        f"select ({TODAY}) - (min(lower(valid)) at time zone 'UTC')::date from steward.ownership_assignments"
        f" where deployment_id = ({DEPLOYMENT})", "northwind-outfitters", "helpdesk",
    )
    kinds = await db.fetchval(
        f"select array_agg(distinct kind) from steward.workflow_updates where deployment_id = ({DEPLOYMENT})",
        "northwind-outfitters", "helpdesk",
    )

    assert round(recent["addressable_resolution_rate"] * 100, 1) == 48.9
    assert 55 <= named_days_ago <= 70
    assert {"CHANNEL_LAUNCH", "KNOWLEDGE_REFRESH", "NEW_USE_CASE"} <= set(kinds)
    assert recent["reviews"] >= 4


async def test_owners_spend_half_to_one_fte_and_some_sit_outside_cx(db):
    fte = await db.fetchrow(
        "select min(p.fte_on_ai) as low, max(p.fte_on_ai) as high from steward.ownership_assignments oa"
        " join steward.persons p on p.id = oa.person_id join steward.organizations o on o.id = oa.org_id"
        " where o.slug = any($1::text[])", list(DEMO_SLUGS),
    )
    functions = await db.fetchval(
        "select array_agg(distinct c.person_function) from metrics.current_owners c"
        " join steward.organizations o on o.id = c.org_id where o.slug = any($1::text[])", list(DEMO_SLUGS),
    )

    assert 0.5 <= fte["low"] and fte["high"] <= 1
    assert "CX" in functions and set(functions) - {"CX"}


async def test_reference_figures_come_from_the_views(db, capsys, module_db_url):
    figures = await reference_figures(db)
    await print_reference_figures(module_db_url)
    printed = capsys.readouterr().out

    assert (figures["lumen_updates_30d"], figures["lumen_peak_week"]) == (202, 131)
    assert round(figures["harbor_arr_4w"] * 100, 2) == 0.38
    assert round(figures["northwind_weekly_arr_min"] * 100) == 6
    assert round(figures["northwind_weekly_arr_max"] * 100) == 20
    assert round(figures["northwind_arr_4w"] * 100, 1) == 48.9
    assert (figures["owner_fte_min"], figures["owner_fte_max"]) == (0.5, 1)
    for text in ("202", "131", "0.38%", "6% to 20%", "48.9%", "0.5 to 1.0"):
        assert text in printed



async def test_harbor_shows_its_arr_decay_since_daniel_reyes_left_with_the_gap_figures(db):
    gap = await db.fetchrow(
        f"select * from metrics.ownership_gaps(array[({DEPLOYMENT})]) where is_open", "harbor-home", "assistant")
    health = await db.fetchrow(
        f"select status, reasons from metrics.health(array[({DEPLOYMENT})])", "harbor-home", "assistant")
    reason = next(r for r in json.loads(health["reasons"]) if r["code"] == "ARR_DECAYED_SINCE_OWNER_LEFT")
    days = ((await db.fetchval(TODAY)) - gap["started_at"].date()).days

    assert gap["previous_person_name"] == "Daniel Reyes" and 140 <= days <= 160
    assert 0.36 <= gap["baseline_arr"] <= 0.44 and round(gap["latest_arr"] * 100, 2) == 0.38
    assert (gap["latest_ai_resolved"], gap["latest_addressable"]) == (10, 2632)  # the pinned latest 4 weeks
    # lost: baseline ARR x the gap's addressable conversations - its AI resolutions
    assert gap["resolutions_lost"] == pytest.approx(
        gap["baseline_ai_resolved"] / gap["baseline_addressable"] * gap["during_addressable"]
        - gap["during_ai_resolved"])
    assert gap["resolutions_lost"] > 3000 and gap["estimated_cost"] > 0
    assert health["status"] == "UNOWNED"
    assert reason["message"] == (
        f"ARR {gap['baseline_arr'] * 100:.1f}% → {gap['latest_arr'] * 100:.1f}% since Daniel Reyes left {days} days"
        f" ago; ≈{gap['resolutions_lost']:,.0f} resolutions lost.")


async def test_the_gap_ledger_of_the_reference_deployments(db, module_db_url, capsys):
    await print_gap_ledger(module_db_url)
    printed = capsys.readouterr().out

    assert "harbor-home/assistant" in printed and "open          after Daniel Reyes" in printed
    assert "since Daniel Reyes left" in printed
    northwind = [line for line in printed.splitlines() if line.strip().startswith("northwind-outfitters/helpdesk")]
    assert len(northwind) == 1 and "from launch" in northwind[0]  # a year unowned, closed by Elena Novak

# --- the weekly review (#13) ------------------------------------------------------------------------

MATURITY = f"select m.* from metrics.maturity(array[({DEPLOYMENT})]) m order by m.duty_number"


async def test_concierge_meets_all_five_duties_and_harbor_none(db):
    concierge = await db.fetch(MATURITY, "lumen-beauty", "concierge")
    assert [(r["duty"], r["met"], r["next_step"]) for r in concierge] == [
        (duty, True, None) for duty in ("NAMED_CX_OWNER", "WEEKLY_REVIEW", "KEPT_CURRENT", "COVERAGE_GROWING",
                                        "ESCALATION_PATH")]
    assert concierge[0]["level"] == 5
    assert json.loads(concierge[4]["evidence"])["escalation_contact"] == "Rina Das"
    assert json.loads(concierge[3]["evidence"])["launches_60_days"] >= 1  # the ingredients workflow

    harbor = await db.fetch(MATURITY, "harbor-home", "assistant")
    assert harbor[0]["level"] == 0 and not harbor[0]["met"]
    assert harbor[0]["next_step"].startswith("Name one accountable owner in CX")


async def test_the_planted_cadence_effect_is_found_at_lag_2(db):
    """generate.py lifts ARR by CADENCE_LIFT points per update two weeks earlier; the estimate finds it."""
    from service.demo.generate import CADENCE_LAG_WEEKS, CADENCE_LIFT

    org = await db.fetchval("select id from steward.organizations where slug = 'alder-and-pine'")
    async with db.transaction():
        await scope_transaction(db, org, 5000)
        rows = await db.fetch(f"select e.* from ({TODAY}) t(today),"
                              " metrics.cadence_effect(today - 181, today + 1, 8) e")
    by_lag = {r["lag_weeks"]: r for r in rows}
    planted = by_lag[CADENCE_LAG_WEEKS]
    assert 0 < planted["ci_low"] <= CADENCE_LIFT <= planted["ci_high"], dict(planted)
    assert max(by_lag.values(), key=lambda r: r["estimate"])["lag_weeks"] == CADENCE_LAG_WEEKS
    # the lags next to it find nothing the interval cannot explain
    for lag in (0, 3, 4):
        assert by_lag[lag]["ci_low"] <= 0 <= by_lag[lag]["ci_high"] + 0.05, dict(by_lag[lag])


# --- the rest of the data set ------------------------------------------------------------------

async def test_every_deployment_shows_its_intended_health(db):
    rows = await db.fetch(
        "select o.slug || '/' || d.key as deployment, h.status from metrics.deployment_health h"
        " join steward.deployments d on d.id = h.deployment_id join steward.organizations o on o.id = d.org_id"
        " where o.slug = any($1::text[])", list(DEMO_SLUGS),
    )

    assert {r["deployment"]: r["status"] for r in rows} == INTENDED_HEALTH


async def test_ownership_history_has_a_departure_a_handover_and_a_never_owned_deployment(db):
    departure = await db.fetchrow(
        f"select upper(oa.valid) as ended, p.deactivated_at, p.active, oa.ended_reason"
        f" from steward.ownership_assignments oa join steward.persons p on p.id = oa.person_id"
        f" where oa.deployment_id = ({DEPLOYMENT})", "harbor-home", "assistant",
    )
    updates_after = await db.fetchval(
        f"select count(*) from steward.workflow_updates where deployment_id = ({DEPLOYMENT}) and occurred_at >= $3",
        "harbor-home", "assistant", departure["ended"],
    )
    handovers = await db.fetchval(
        "select count(*) from steward.ownership_assignments a join steward.ownership_assignments b"
        " on b.deployment_id = a.deployment_id and lower(b.valid) = upper(a.valid) and b.person_id <> a.person_id"
    )
    never_owned = await db.fetchval(
        "select count(*) from steward.deployments d where not exists"
        " (select 1 from steward.ownership_assignments oa where oa.deployment_id = d.id)"
    )
    statuses = await db.fetchval("select array_agg(distinct status) from steward.deployments")
    today = await db.fetchval(TODAY)

    assert departure["active"] is False and departure["ended"] == departure["deactivated_at"]
    assert 140 <= (today - departure["ended"].date()).days <= 160
    assert updates_after == 0
    assert handovers >= 2 and never_owned >= 1
    assert set(statuses) == {"ACTIVE", "PAUSED", "RETIRED"}


async def test_conversations_look_like_a_contact_centre(db):
    c = await db.fetchrow(
        """
        select count(*) as total,
               count(*) filter (where c.started_at >= date_trunc('day', steward.clock())) as today_or_later,
               count(*) filter (where c.resolved_at >= date_trunc('day', steward.clock())
                                   or c.reopened_at >= date_trunc('day', steward.clock())) as future_events,
               array_agg(distinct c.outcome) as outcomes,
               avg(c.ai_engaged::int) as engaged,
               count(*) filter (where c.outcome = 'AI_RESOLVED' and c.resolved_at is null) as resolved_without_time,
               count(*) filter (where f.reopened) as reopened_inside,
               count(*) filter (where c.reopened_at is not null and not f.reopened) as reopened_after,
               count(*) filter (where not f.addressable) as unaddressable,
               bool_and(c.external_id ~ '^[a-z]{3}-[0-9]{6}$') as ids_look_right
        from steward.conversations c join internals.conversation_facts f on f.conversation_id = c.id
        """
    )

    assert 60_000 <= c["total"] <= 120_000
    assert c["today_or_later"] == 0 and c["future_events"] == 0
    assert set(c["outcomes"]) == {"AI_RESOLVED", "ESCALATED", "ABANDONED", "OPEN"}
    assert 0.75 <= c["engaged"] < 1
    assert c["resolved_without_time"] == 0
    assert c["reopened_inside"] > 0 and c["reopened_after"] > 0 and c["unaddressable"] > 0
    assert c["ids_look_right"]


async def test_topics_carry_escalation_costs_and_some_workflows_were_retired(db):
    topics = await db.fetchrow("select count(*) as n, count(distinct escalation_cost) as costs from steward.topics")
    retired = await db.fetchval("select count(*) from steward.workflow_periods where not upper_inf(active)")

    assert topics["n"] >= 30 and topics["costs"] > 10
    assert retired >= 5


# --- loading ---------------------------------------------------------------------------------

async def test_reloading_replaces_the_demo_with_identical_rows(db, module_db_url, summary):
    before = await snapshot(db)

    again = await load_demo(module_db_url)

    assert await snapshot(db) == before
    assert "6 organizations, 25 deployments" in summary and "6 organizations, 25 deployments" in again


def test_the_generator_is_deterministic_for_a_given_day():
    first, second = build(date(2026, 3, 1)), build(date(2026, 3, 1))

    assert first.conversations == second.conversations
    assert first.updates == second.updates and first.reviews == second.reviews


def _pinned_instants() -> list[datetime]:
    """Late on a Sunday and just after midnight on a Monday: ISO-week and day edges."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today + timedelta(days=7 - today.weekday())
    return [monday - timedelta(minutes=10), monday + timedelta(days=7, minutes=10)]


@pytest.mark.parametrize("now", _pinned_instants(), ids=lambda d: d.strftime("%a-%H%M"))
async def test_the_figures_hold_on_another_day(fresh_db_url, server_url, now):
    name = urlsplit(fresh_db_url).path.lstrip("/")
    admin = await connect(server_url)
    try:
        # every new session of that database sees `now` as steward.clock()
        await admin.execute(f"alter database \"{name}\" set steward.now = '{now.isoformat()}'")
    finally:
        await admin.close()

    await load_demo(fresh_db_url)

    conn = await connect(fresh_db_url)
    try:
        f = await reference_figures(conn)
    finally:
        await conn.close()
    assert f["today"] == now.date()
    assert (f["lumen_updates_30d"], f["lumen_peak_week"]) == (202, 131)
    assert round(f["harbor_arr_4w"] * 100, 2) == 0.38
    assert (round(f["northwind_weekly_arr_min"] * 100), round(f["northwind_weekly_arr_max"] * 100)) == (6, 20)
    assert 0.06 <= f["northwind_weekly_arr_min"] and f["northwind_weekly_arr_max"] <= 0.20
    assert round(f["northwind_arr_4w"] * 100, 1) == 48.9
