"""Owner changes racing through the real app: each request on its own pool connection, committed for real."""
from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from datetime import timedelta

import pytest

from service.config import Settings

from .automation import assign, payload, periods, seed, sql
from .conftest import start_api

CALLS = 50

ASSIGN = """
mutation($input: AssignOwnerInput!) {
  assignOwner(input: $input) {
    __typename
    ... on AssignOwnerSuccess { changed replayed assignment { id } deployment { owner { id } } }
    ... on UserError { message field }
  }
}
"""
DEACTIVATE = """
mutation($input: DeactivatePersonInput!) {
  deactivatePerson(input: $input) { __typename ... on UserError { message field } }
}
"""


@pytest.fixture
async def api(fresh_db_url):
    api, lifespan = await start_api(fresh_db_url, Settings(pool_min=2, pool_max=20, db_connect_timeout_s=30))
    yield api
    await api.client.aclose()
    await lifespan.__aexit__(None, None, None)


def assert_clean_history(history: list) -> None:
    """Periods in order, each ending where the next begins (no gap, no overlap); only the last is open."""
    assert [p["until"] is None for p in history].count(True) == 1 and history[-1]["until"] is None
    for earlier, later in zip(history, history[1:]):
        assert earlier["since"] < earlier["until"] == later["since"], (earlier, later)


async def test_fifty_concurrent_assignments_leave_one_owner_and_a_clean_history(api, capsys):
    org = await seed(api.url, persons=CALLS, deployments=1)

    responses = await asyncio.gather(*(
        api.post(ASSIGN, {"input": {"deploymentId": org.deployment(0), "personId": org.person(i),
                                    "reason": f"race {i}"}}, org.tokens["owners"])
        for i in range(CALLS)))

    assert Counter(r.status_code for r in responses) == {200: CALLS}
    results = [payload(r.json(), "assignOwner") for r in responses]
    kinds = Counter(r["__typename"] for r in results)
    successes = sum(1 for r in results if r["__typename"] == "AssignOwnerSuccess" and r["changed"])
    conflicts = kinds["ConflictError"]
    assert successes + conflicts == CALLS, kinds
    history = await periods(api.url, org.deployments[0])
    assert len(history) == successes
    assert_clean_history(history)
    changes = await sql(api.url, "select count(*) as n from steward.ownership_changes where deployment_id = $1",
                        org.deployments[0])
    assert changes[0]["n"] == successes
    owner = await api.data("query($id: ID!) { deployment(id: $id) { owner { id } } }",
                           {"id": org.deployment(0)}, org.tokens["read"])
    assert owner["deployment"]["owner"]["id"] == org.person(org.persons.index(history[-1]["person_id"]))
    assert api.app.state.pool.get_size() > 1  # the requests really ran side by side
    with capsys.disabled():
        print(f"\nconcurrency: calls={CALLS} successes={successes} conflicts={conflicts} "
              f"final history length={len(history)} pool connections={api.app.state.pool.get_size()}")


async def test_concurrent_retries_with_one_key_write_once(api):
    org = await seed(api.url, persons=2, deployments=1, owner=0)
    variables = {"input": {"deploymentId": org.deployment(0), "personId": org.person(1), "reason": "retry storm",
                           "idempotencyKey": "offboarding-77"}}

    responses = await asyncio.gather(*(api.post(ASSIGN, variables, org.tokens["owners"]) for _ in range(10)))

    results = [payload(r.json(), "assignOwner") for r in responses]
    assert {r["__typename"] for r in results} == {"AssignOwnerSuccess"}
    assert sorted(r["replayed"] for r in results) == [False] + [True] * 9
    assert len({r["assignment"]["id"] for r in results}) == 1
    assert len(await periods(api.url, org.deployments[0])) == 2
    written = await sql(api.url, "select (select count(*) from steward.ownership_changes where org_id = $1) as changes,"
                                 " (select count(*) from steward.idempotency_keys where org_id = $1) as keys", org.id)
    assert dict(written[0]) == {"changes": 1, "keys": 1}


@pytest.mark.parametrize("round", range(5))
async def test_deactivation_racing_assignments_leaves_the_person_owning_nothing(api, round):
    org = await seed(api.url, persons=3, deployments=6)
    for d in range(3):
        await assign(org, d, 0, timedelta(days=30))
    token = org.tokens["owners"]

    # the person leaves while automation hands over their deployments and gives them new ones
    calls = [api.post(DEACTIVATE, {"input": {"personId": org.person(0), "reason": "left"}}, token)]
    calls += [api.post(ASSIGN, {"input": {"deploymentId": org.deployment(d), "personId": org.person(0),
                                          "reason": "more"}}, token) for d in range(3, 6)]
    calls += [api.post(ASSIGN, {"input": {"deploymentId": org.deployment(d), "personId": org.person(d % 2 + 1),
                                          "reason": "handover"}}, token) for d in range(3)]
    responses = await asyncio.gather(*calls)

    assert {r.status_code for r in responses} == {200}
    results = [next(iter(r.json()["data"].values())) for r in responses]
    kinds = [r["__typename"] for r in results]
    assert kinds[0] == "DeactivatePersonSuccess", results[0]
    assert set(kinds[1:4]) <= {"AssignOwnerSuccess", "ValidationError"}, results  # before or after it
    assert set(kinds[4:]) == {"AssignOwnerSuccess"}, results
    still_open = await sql(api.url, "select count(*) as n from steward.ownership_assignments"
                                    " where person_id = $1 and upper_inf(valid)", org.persons[0])
    assert still_open[0]["n"] == 0
    for d in range(6):
        history = await periods(api.url, org.deployments[d])
        for earlier, later in zip(history, history[1:]):
            assert earlier["until"] is not None and earlier["until"] <= later["since"]


async def timed(calls: int, send) -> list[float]:
    timings = []
    for i in range(calls):
        started = time.perf_counter()
        await send(i)
        timings.append(time.perf_counter() - started)
    return sorted(timings)


@pytest.mark.slow
async def test_assign_owner_latency(api, capsys):
    org = await seed(api.url, persons=2, deployments=1)

    async def handover(i: int) -> None:
        response = await api.post(ASSIGN, {"input": {"deploymentId": org.deployment(0), "personId": org.person(i % 2),
                                                     "reason": f"handover {i}"}}, org.tokens["owners"])
        assert payload(response.json(), "assignOwner")["changed"] is True

    async def read(i: int) -> None:  # the same stack (auth, transaction, GraphQL) with no real work
        assert (await api.post("{ __typename }", token=org.tokens["read"])).status_code == 200

    mutations, baseline = await timed(200, handover), await timed(200, read)

    assert len(await periods(api.url, org.deployments[0])) == 200
    with capsys.disabled():
        print(f"\nassignOwner latency over {len(mutations)} sequential calls through the ASGI app: "
              f"median {statistics.median(mutations) * 1000:.1f} ms, p95 {mutations[189] * 1000:.1f} ms "
              f"(a `{{ __typename }}` query: median {statistics.median(baseline) * 1000:.1f} ms)")
