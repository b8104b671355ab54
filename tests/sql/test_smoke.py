from datetime import timedelta

from ..factory import at


async def test_window_metrics_on_hand_built_rows(factory):
    org = await factory.org()
    owner = await factory.person(org)
    dep = await factory.deployment(org)
    topic = await factory.topic(org)
    await factory.workflow(org, dep, topic)
    await factory.assign(org, dep, owner, at("2026-01-01", 0))
    await factory.conversation(org, dep, topic, at("2026-03-02"))
    await factory.conversation(org, dep, topic, at("2026-03-02"), reopened_after=timedelta(hours=2))
    await factory.conversation(org, dep, topic, at("2026-03-03"), outcome="ESCALATED")
    await factory.set_now(at("2026-03-10"))

    m = await factory.window(dep, "2026-03-01", "2026-03-08")

    assert (m["conversations"], m["addressable"], m["ai_resolved"], m["reopened"], m["escalated"]) == (3, 3, 1, 1, 1)
    assert m["addressable_resolution_rate"] == 1 / 3
    assert m["reopen_rate"] == 1 / 2
