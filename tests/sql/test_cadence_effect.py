"""metrics.cadence_effect against an independent computation: a least-squares fit with one dummy per deployment
(numpy), its standard error from (X'X)^-1, and the t quantile found by integrating Student's density."""
import math
from datetime import date, timedelta

import numpy as np
import pytest

from ..factory import at

NOW = at("2026-03-30", 12)
FROM, TO = date(2026, 1, 5), date(2026, 3, 30)        # 12 whole ISO weeks, 01-05 .. 03-23
FIRST = FROM - timedelta(weeks=8)                     # the updates the longest lag reads
WEEKS = [FIRST + timedelta(weeks=i) for i in range((TO - FIRST).days // 7)]
ADDRESSABLE = 20
EFFECT_LAG, EFFECT = 2, 1                             # one more AI resolution of 20 per update two weeks before


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t: bisection on the CDF, the density integrated by Simpson's rule."""
    const = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(t: float) -> float:
        x = np.linspace(0, t, 20001)
        y = const * (1 + x * x / df) ** (-(df + 1) / 2)
        h = x[1] - x[0]
        return 0.5 + h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())

    lo, hi = 0.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < 0.975 else (lo, mid)
    return (lo + hi) / 2


def plan(seed: int = 13):
    """Per deployment (3 owned, levels 5, 8, 11 resolutions a week; 1 unowned) and week: updates 0-5 and AI
    resolutions = level + EFFECT x updates EFFECT_LAG weeks before + noise, clamped to 0..20. The owned
    deployments' last week has nothing addressable (left out)."""
    rng = np.random.RandomState(seed)
    deployments = {}
    for key, level in (("a", 5), ("b", 8), ("c", 11), ("unowned", 3)):
        updates = rng.randint(0, 6, size=len(WEEKS))
        resolved = []
        for i in range(len(WEEKS)):
            lagged = updates[i - EFFECT_LAG] if i >= EFFECT_LAG else 0
            resolved.append(int(min(ADDRESSABLE, max(0, level + EFFECT * lagged + rng.randint(-2, 3)))))
        addressable = [ADDRESSABLE] * len(WEEKS)
        if key != "unowned":
            addressable[-1] = resolved[-1] = 0
        deployments[key] = {"updates": [int(u) for u in updates], "resolved": resolved, "addressable": addressable}
    return deployments


def expected(deployments: dict, lag: int) -> dict:
    """The fixed-effects estimate as a dummy-variable regression, and its 95% interval."""
    ys, xs, groups = [], [], []
    for g, key in enumerate(k for k in deployments if k != "unowned"):
        d = deployments[key]
        for i, week in enumerate(WEEKS):
            if week < FROM or d["addressable"][i] == 0:
                continue
            ys.append(100 * d["resolved"][i] / d["addressable"][i])
            xs.append(d["updates"][i - lag])
            groups.append(g)
    n, k = len(ys), max(groups) + 1
    design = np.zeros((n, 1 + k))
    design[:, 0] = xs
    design[np.arange(n), 1 + np.array(groups)] = 1
    beta, *_ = np.linalg.lstsq(design, np.array(ys), rcond=None)
    residuals = np.array(ys) - design @ beta
    df = n - k - 1
    se = math.sqrt(residuals @ residuals / df * np.linalg.inv(design.T @ design)[0, 0])
    t = t975(df)
    return {"estimate": beta[0], "std_error": se, "ci_low": beta[0] - t * se, "ci_high": beta[0] + t * se,
            "deployment_weeks": n, "deployments": k, "degrees_of_freedom": df}


async def load(factory, deployments: dict) -> int:
    org = await factory.org()
    owner = await factory.person(org)
    topic = await factory.topic(org)
    for key, d in deployments.items():
        dep = d["id"] = await factory.deployment(org, launched_at=at("2025-01-01", 0))
        await factory.workflow(org, dep, topic)
        if key != "unowned":
            await factory.assign(org, dep, owner, at("2025-01-01", 0))
        await factory.conn.execute(
            "insert into steward.conversations (org_id, external_id, deployment_id, topic_id, channel, started_at,"
            "  ai_engaged, outcome, resolved_at)"
            " select $1, format('cad-%s-%s-%s', $2::bigint, w.week, i), $2, $3, 'CHAT',"
            "        w.week::timestamp at time zone 'UTC' + interval '1 day' + i * interval '1 minute', true,"
            "        case when i <= w.resolved then 'AI_RESOLVED' else 'ESCALATED' end,"
            "        case when i <= w.resolved then w.week::timestamp at time zone 'UTC' + interval '1 day 10 minutes'"
            "             + i * interval '1 minute' end"
            " from unnest($4::date[], $5::int[], $6::int[]) w(week, resolved, addressable)"
            " cross join lateral generate_series(1, w.addressable) i",
            org, dep, topic, WEEKS, d["resolved"], d["addressable"])
        await factory.conn.execute(
            "insert into steward.workflow_updates (org_id, deployment_id, author_id, kind, summary, occurred_at)"
            " select $1, $2, $3, 'WORKFLOW_CHANGE', 'change',"
            "        w.week::timestamp at time zone 'UTC' + interval '2 days' + i * interval '1 hour'"
            " from unnest($4::date[], $5::int[]) w(week, n) cross join lateral generate_series(1, w.n) i",
            org, dep, owner, WEEKS, d["updates"])
    await factory.set_now(NOW)
    await factory.as_org(org)
    return org


async def test_the_estimate_and_its_interval_match_a_dummy_variable_regression(factory):
    deployments = plan()
    await load(factory, deployments)

    rows = await factory.conn.fetch("select * from metrics.cadence_effect($1, $2, 3)", FROM, TO)

    assert [r["lag_weeks"] for r in rows] == [0, 1, 2, 3]
    for r in rows:
        want = expected(deployments, r["lag_weeks"])
        # 3 deployments x 11 weeks (the 12th had nothing addressable; the unowned deployment is left out)
        assert (r["deployment_weeks"], r["deployments"], r["degrees_of_freedom"]) == (33, 3, 29)
        for column in ("estimate", "std_error", "ci_low", "ci_high"):
            assert r[column] == pytest.approx(want[column], rel=1e-6, abs=1e-9), (r["lag_weeks"], column)
    # the planted effect: 1 resolution of 20 (5 points) per update two weeks before, found there only
    effect = rows[EFFECT_LAG]
    assert effect["ci_low"] > 0 and effect["ci_low"] < 100 * EFFECT / ADDRESSABLE < effect["ci_high"]
    assert all(r["ci_low"] < 0 < r["ci_high"] for r in rows if r["lag_weeks"] != EFFECT_LAG)


async def test_default_lags_and_what_cannot_be_estimated(factory):
    org = await factory.org()
    owner = await factory.person(org)
    topic = await factory.topic(org)
    dep = await factory.deployment(org, launched_at=at("2025-01-01", 0))
    await factory.workflow(org, dep, topic)
    await factory.assign(org, dep, owner, at("2025-01-01", 0))
    for week in (date(2026, 3, 9), date(2026, 3, 16)):
        await factory.conversation(org, dep, topic, at(week + timedelta(days=1)))
    await factory.update(org, dep, owner, at("2026-03-10"))
    await factory.set_now(NOW)
    await factory.as_org(org)

    rows = await factory.conn.fetch("select * from metrics.cadence_effect($1, $2)", FROM, TO)

    assert [r["lag_weeks"] for r in rows] == list(range(9))
    # lag 0: 2 deployment-weeks of 1 deployment, df = 2 - 1 - 1 = 0: a slope, but no interval
    lag0 = rows[0]
    assert (lag0["deployment_weeks"], lag0["deployments"], lag0["degrees_of_freedom"]) == (2, 1, 0)
    assert lag0["estimate"] == 0.0 and (lag0["std_error"], lag0["ci_low"]) == (None, None)


async def test_no_organization_no_rows(factory):
    await factory.set_now(NOW)
    await factory.as_org(None)

    assert await factory.conn.fetch("select * from metrics.cadence_effect($1, $2)", FROM, TO) == []


@pytest.mark.parametrize("df", [1, 2, 5, 29, 30, 31, 45, 120, 1000])
async def test_the_t_quantile_is_the_integrated_one(conn, df):
    # the table to df 30, the Cornish-Fisher expansion beyond: within 1e-5 either way
    assert await conn.fetchval("select internals.t975($1)", df) == pytest.approx(t975(df), abs=1e-5)


async def test_no_t_quantile_without_degrees_of_freedom(conn):
    assert await conn.fetchval("select internals.t975(0)") is None
