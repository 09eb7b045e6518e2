"""Reply notices: a reply stored by a process that does not hold its platform wakes the one that does,
over Redis pub/sub, instead of waiting for that process's next sweep."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot import delivery as delivery_module
from bot.delivery import Delivery, ReplyPoster
from bot.notify import RedisReplyNotices, ReplyNotices, channel_of
from bot.runtime import Runtime
from bot.store.outbox import Outbox
from bot.types import ConversationKey, Reply, Tone
from tests.test_delivery import Platform
from tests.test_locks import redis_url  # noqa: F401  (fixture)


def relay(thread: str, n: int) -> Reply:
    return Reply(conversation=ConversationKey("test", "W1", "C1", thread), in_reply_to=f"{thread}-relay-{n}",
                 text=f"agent says {n}", tone=Tone.NEUTRAL, ask_feedback=False)


async def subscribed(url: str, platform: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        for _ in range(200):
            [(_, count)] = await client.pubsub_numsub(channel_of(platform))
            if count:
                return
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()
    raise AssertionError("the holder never subscribed")


@pytest.fixture
def slow_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep only once a minute: a reply sent within seconds was sent on a notice."""
    monkeypatch.setattr(delivery_module, "SWEEP_EVERY", 60.0)


async def test_a_reply_stored_elsewhere_is_sent_at_once_by_the_process_holding_its_platform(
    runtime: Runtime, redis_url: str, slow_sweeps: None  # noqa: F811
) -> None:
    platform = Platform()
    # The web process has no sender for "test"; the worker holds it. They share the database and Redis only.
    web = ReplyPoster(Outbox(runtime.database), "web", notices=RedisReplyNotices(redis_url))
    worker = Delivery(runtime.engine, ReplyPoster(Outbox(runtime.database), "worker", {"test": platform.send},
                                                  notices=RedisReplyNotices(redis_url)))
    worker.start()
    try:
        await subscribed(redis_url, "test")
        started = time.monotonic()
        async def agent_types(c: int) -> None:
            for n in range(5):
                await web.send(relay(f"t{c}", n))

        # Agents' replies in four conversations at once, five each, all stored by the web process.
        await asyncio.gather(*(agent_types(c) for c in range(4)))
        for _ in range(200):
            if len(platform.accepted) >= 20:
                break
            await asyncio.sleep(0.02)
        took = time.monotonic() - started
    finally:
        await worker.stop()
        await web.notices.close()
    assert len(platform.accepted) == 20 and took < 4, (len(platform.accepted), took)
    keys = [r.delivery_key for r in platform.accepted]
    assert len(set(keys)) == 20  # each once
    for c in range(4):  # each conversation in the order its replies were stored
        sent = [r.in_reply_to for r in platform.accepted if r.conversation.thread == f"t{c}"]
        assert sent == [f"t{c}-relay-{n}" for n in range(5)]
    assert await Outbox(runtime.database).due({"test"}) == []


async def test_without_notices_the_reply_waits_for_the_holders_sweep(
    runtime: Runtime, slow_sweeps: None
) -> None:
    platform = Platform()
    web = ReplyPoster(Outbox(runtime.database), "web", notices=ReplyNotices())
    worker = Delivery(runtime.engine, ReplyPoster(Outbox(runtime.database), "worker", {"test": platform.send}))
    worker.start()
    try:
        await asyncio.sleep(0.2)  # the worker's first sweep, at start, finds nothing
        await web.send(relay("quiet", 1))
        await asyncio.sleep(1.0)
        assert platform.accepted == []  # stored, waiting for the next sweep
        await worker.sweep()
        assert [r.text for r in platform.accepted] == ["agent says 1"]
    finally:
        await worker.stop()


async def test_redis_down_a_reply_is_still_stored_and_the_sweep_sends_it(runtime: Runtime) -> None:
    platform = Platform()
    web = ReplyPoster(Outbox(runtime.database), "web", notices=RedisReplyNotices("redis://127.0.0.1:1/0"))
    await web.send(relay("down", 1))  # no exception: the notice is a hint, the outbox row is the truth
    worker = ReplyPoster(Outbox(runtime.database), "worker", {"test": platform.send})
    assert await worker.deliver() == 1
    assert [r.text for r in platform.accepted] == ["agent says 1"]
    await web.notices.close()
