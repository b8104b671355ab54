"""The TIME evaluator: one leader among replicas (advisory lock), failover, exactly one event per change."""
from __future__ import annotations

import asyncio

import pytest

from service.config import Settings
from service.db.pool import connect
from service.events.evaluator import Evaluator

from .automation import seed, sql
from .conftest import start_api

SETTINGS = Settings(db_connect_timeout_s=10)


async def time_passed(url: str, org) -> None:
    """Pretend each deployment was last seen HEALTHY: its real health now (STALE) is a change time caused."""
    for d in org.deployments:
        await sql(url, "insert into steward.health_events (org_id, deployment_id, status_after, reasons_after, cause)"
                       " values ($1, $2, 'HEALTHY', '{}', 'TIME')", org.id, d)


async def time_events(url: str, org_id: int) -> list:
    return await sql(url, "select deployment_id, status_before, status_after from steward.health_events"
                          " where org_id = $1 and status_before is not null order by id", org_id)


async def test_two_evaluators_racing_record_each_change_once(fresh_db_url):
    org = await seed(fresh_db_url, persons=1, deployments=4, owner=0)
    await time_passed(fresh_db_url, org)
    a, b = Evaluator(SETTINGS, fresh_db_url), Evaluator(SETTINGS, fresh_db_url)
    try:
        rounds = [await asyncio.gather(a.tick(), b.tick()) for _ in range(5)]
    finally:
        await a.close()
        await b.close()

    assert all(sum(r is not None for r in pair) == 1 for pair in rounds), rounds  # one leader each round
    assert sum(r for pair in rounds for r in pair if r) == 4
    events = await time_events(fresh_db_url, org.id)
    assert sorted(e["deployment_id"] for e in events) == org.deployments
    assert {(e["status_before"], e["status_after"]) for e in events} == {("HEALTHY", "STALE")}


async def test_replicas_elect_one_evaluator_in_their_lifespans(fresh_db_url):
    org = await seed(fresh_db_url, persons=1, deployments=3, owner=0)
    retired = await seed(fresh_db_url, persons=1, deployments=1, owner=0)
    await sql(fresh_db_url, "update steward.deployments set status = 'RETIRED' where id = $1", retired.deployments[0])
    await time_passed(fresh_db_url, org)
    settings = Settings(health_evaluator_interval_s=0.05, db_connect_timeout_s=10)
    replicas = [await start_api(fresh_db_url, settings) for _ in range(3)]
    try:
        await asyncio.sleep(1.0)
        evaluators = [api.app.state.evaluator for api, _ in replicas]
        assert sum(e.is_leader for e in evaluators) == 1
        assert sum(e.passes for e in evaluators) >= 5  # it kept evaluating
    finally:
        for api, lifespan in replicas:
            await api.client.aclose()
            await lifespan.__aexit__(None, None, None)

    assert len(await time_events(fresh_db_url, org.id)) == 3
    assert await sql(fresh_db_url, "select * from steward.health_events where org_id = $1", retired.id) == []
    locks = await sql(fresh_db_url, "select count(*) as n from pg_locks where locktype = 'advisory'"
                                    " and objid = $1 and database = (select oid from pg_database"
                                    " where datname = current_database())", 0x5E7A4E)
    assert locks[0]["n"] == 0  # shut down cleanly: the lock went with the leader's connection


async def test_when_the_leaders_connection_dies_another_replica_takes_over(fresh_db_url):
    org = await seed(fresh_db_url, persons=1, deployments=2, owner=0)
    a, b = Evaluator(SETTINGS, fresh_db_url), Evaluator(SETTINGS, fresh_db_url)
    admin = await connect(fresh_db_url)
    try:
        assert await a.tick() == 2 and await b.tick() is None  # a leads (and records the two baselines)
        await admin.execute("select pg_terminate_backend($1)", a.conn.get_server_pid())
        await time_passed(fresh_db_url, org)

        recorded = None
        for _ in range(50):  # the server releases the lock when the backend has gone
            recorded = await b.tick()
            if recorded is not None:
                break
            await asyncio.sleep(0.05)

        assert recorded == 2 and b.is_leader
        assert await a.tick() is None and not a.is_leader  # the old leader notices, and follows
        assert len(await time_events(fresh_db_url, org.id)) == 2
    finally:
        await admin.close()
        await a.close()
        await b.close()


async def test_an_interval_of_zero_disables_the_evaluator(fresh_db_url):
    api, lifespan = await start_api(fresh_db_url, Settings(health_evaluator_interval_s=0))
    try:
        assert api.app.state.evaluator is None
    finally:
        await api.client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.mark.parametrize("raw, expected", [(None, 60), ("0", 0), ("15", 15)])
def test_the_interval_comes_from_the_environment(raw, expected):
    env = {} if raw is None else {"STEWARD_HEALTH_EVALUATOR_INTERVAL_S": raw}
    assert Settings.from_env(env).health_evaluator_interval_s == expected
