"""A small committed world for API tests: two organizations, many deployments, some history."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from service.db.pool import connect

from ..factory import Factory

UTC = timezone.utc


async def build_world(db_url: str, deployments: int = 120) -> dict:
    """Org `acme` with `deployments` deployments (names repeat, to test ties) and org `globex` with one."""
    conn = await connect(db_url)
    try:
        f = Factory(conn)
        now = datetime.now(UTC).replace(microsecond=0)
        acme = await f.org("acme")
        globex = await f.org("globex")
        owners = [await f.person(acme, name=f"Owner {i}", function="CX" if i % 3 else "ENGINEERING",
                                 fte=0.5 + 0.1 * (i % 5)) for i in range(10)]
        topics = [await f.topic(acme, key=f"topic-{i}", escalation_cost=4 + i) for i in range(4)]
        ids = []
        for i in range(deployments):
            dep = await f.deployment(acme, key=f"bot-{i:03d}", launched_at=now - timedelta(days=200),
                                     channels=("CHAT", "EMAIL") if i % 2 else ("CHAT",))
            await conn.execute("update steward.deployments set name = $2 where id = $1", dep, f"Bot {i % 7}")
            ids.append(dep)
            if i % 10 != 0:  # every tenth deployment is unowned
                await f.assign(acme, dep, owners[i % 10], now - timedelta(days=100))
            await f.workflow(acme, dep, topics[0], start=now - timedelta(days=200))
            for day in range(1, 8):
                await f.update(acme, dep, owners[i % 10], now - timedelta(days=day * 3))
            await f.review(acme, dep, owners[i % 10], now - timedelta(days=2))
        # conversations on the first deployment: 3 resolved, 1 reopened, 1 escalated, 2 uncovered
        first = ids[0]
        for h in range(3):
            await f.conversation(acme, first, topics[0], now - timedelta(days=2, hours=h))
        await f.conversation(acme, first, topics[0], now - timedelta(days=2), reopened_after=timedelta(hours=1))
        await f.conversation(acme, first, topics[0], now - timedelta(days=3), outcome="ESCALATED")
        for h in range(2):
            await f.conversation(acme, first, topics[1], now - timedelta(days=3, hours=h), outcome="ESCALATED")
        other = await f.deployment(globex, key="secret-bot")
        other_person = await f.person(globex, name="Globex Owner")
        await f.assign(globex, other, other_person, now - timedelta(days=10))
        return {"acme": acme, "globex": globex, "deployments": ids, "owners": owners, "topics": topics,
                "globex_deployment": other, "globex_person": other_person}
    finally:
        await conn.close()
