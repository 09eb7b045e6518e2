"""Exactly once, whatever fails: messages stored before they are acknowledged, turns taken over after a
crash, replies sent from the outbox until the platform accepts them, and in order."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.config import Config
from bot.delivery import Delivery, ReplyPoster
from bot.errors import DeliveryFailed
from bot.runtime import Runtime
from bot.stages.accept import Accept
from bot.store import inbox as inbox_module
from bot.store.inbox import Inbox, message_digest
from bot.store.outbox import Outbox
from bot.store.tables import InboxEntry, OutboxEntry, Turn
from bot.types import ConversationKey, Inbound, Reply
from tests.test_locks import redis_url  # noqa: F401  (fixture)


class Platform:
    """A platform's send: fails as told, then accepts; records what it accepted."""

    def __init__(self) -> None:
        self.accepted: list[Reply] = []
        self.failures: list[DeliveryFailed | Exception] = []
        self.calls = 0

    async def send(self, reply: Reply) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.accepted.append(reply)

    def texts_for(self, message_id: str) -> list[str]:
        return [r.text for r in self.accepted if r.in_reply_to == message_id]


def message(text: str, message_id: str, thread: str = "t1", seconds: float = 0.0) -> Inbound:
    inbound = Inbound(platform="test", conversation=ConversationKey("test", "W1", "C1", thread), user_id="U1",
                      text=text, message_id=message_id, display_name="Dana")
    return replace(inbound, received_at=inbound.received_at + timedelta(seconds=seconds))


async def settle(delivery: Delivery, rounds: int = 1) -> None:
    for _ in range(rounds):
        await delivery.idle()
        await delivery.sweep()
        await delivery.idle()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.delivery.backoff", lambda attempts: timedelta(0))


async def entry_of(runtime: Runtime, message_id: str) -> InboxEntry:
    async with runtime.database.session() as session:
        return (await session.exec(select(InboxEntry).where(
            InboxEntry.message_id == message_digest("test", message_id)))).one()


async def test_a_message_is_stored_before_receive_returns(runtime: Runtime) -> None:
    platform = Platform()
    runtime.delivery.add_sender("test", platform.send)
    gate = asyncio.Event()
    real = runtime.engine.understand

    async def slow(inbound: Inbound) -> object:
        await gate.wait()
        return await real(inbound)

    runtime.engine.understand = slow  # type: ignore[assignment]
    assert await runtime.delivery.receive(message("how long does shipping take?", "m-1")) is None
    # Acknowledged: the platform may be told "got it" now. The message is on disk, its turn not run yet.
    stored = await entry_of(runtime, "m-1")
    assert stored.status in {"queued", "processing"} and stored.payload is not None
    assert platform.accepted == []
    gate.set()
    await settle(runtime.delivery)
    assert len(platform.texts_for("m-1")) == 1
    finished = await entry_of(runtime, "m-1")
    assert finished.status == "answered" and finished.payload is None  # nothing of the message stays


async def test_a_turn_cut_off_by_a_crash_is_taken_over_by_the_next_process(
    repo_config: Config, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox_module, "LEASE", timedelta(seconds=0.5))
    inbounds = [message(f"how long does shipping take? ({n})", f"crash-{n}", thread=f"t{n}") for n in range(5)]
    async with Runtime.open(repo_config, data_dir) as first:
        never = asyncio.Event()

        async def hangs(inbound: Inbound) -> object:
            await never.wait()

        first.engine.understand = hangs  # type: ignore[assignment]

        async def dies(self: Inbox, message: object) -> bool:  # kill -9: no clean-up of any kind runs
            raise asyncio.CancelledError

        monkeypatch.setattr(Inbox, "failed", dies)
        for inbound in inbounds:
            await first.delivery.receive(inbound)  # stored and acknowledged
        for _ in range(200):  # the turns are mid-way (all leased; on a loaded machine that takes a while) ...
            if {(await entry_of(first, i.message_id)).status for i in inbounds} == {"processing"}:
                break
            await asyncio.sleep(0.05)
        for task in list(first.delivery._tasks):  # ... when the process dies: nothing finishes them
            task.cancel()
        await asyncio.gather(*first.delivery._tasks, return_exceptions=True)
    monkeypatch.undo()
    monkeypatch.setattr(inbox_module, "LEASE", timedelta(seconds=0.5))
    assert {(await entry_of(first, i.message_id)).status for i in inbounds} == {"processing"}

    async with Runtime.open(repo_config, data_dir) as second:
        platform = Platform()
        second.delivery.add_sender("test", platform.send)
        # The platform redelivers one of them right after the restart; the rest come back by the sweeper.
        await second.delivery.receive(inbounds[0])
        await asyncio.sleep(0.6)  # the dead process's leases run out
        await settle(second.delivery)
        assert sorted(len(platform.texts_for(i.message_id)) for i in inbounds) == [1] * 5
        await second.delivery.receive(inbounds[1])  # a late redelivery: already answered and delivered
        await settle(second.delivery)
        assert len(platform.accepted) == 5


async def test_a_failed_send_is_retried_and_delivered_exactly_once(runtime: Runtime, fast_retries: None) -> None:
    platform = Platform()
    platform.failures = [DeliveryFailed("502 bad gateway"), ConnectionResetError("reset by peer")]
    runtime.delivery.add_sender("test", platform.send)
    await runtime.delivery.receive(message("how long does shipping take?", "send-1"))
    await settle(runtime.delivery, rounds=3)
    assert platform.calls == 3
    assert len(platform.texts_for("send-1")) == 1
    async with runtime.database.session() as session:
        entry = (await session.exec(select(OutboxEntry))).one()
    assert entry.status == "delivered" and entry.reply is None and entry.attempts == 3


async def test_retry_after_is_honoured(runtime: Runtime) -> None:
    platform = Platform()
    platform.failures = [DeliveryFailed("rate limited", retry_after=0.4)]
    runtime.delivery.add_sender("test", platform.send)
    await runtime.delivery.receive(message("how long does shipping take?", "429-1"))
    await settle(runtime.delivery)
    assert platform.accepted == []  # not before the platform said
    await asyncio.sleep(0.45)
    await settle(runtime.delivery)
    assert len(platform.texts_for("429-1")) == 1


async def test_a_permanent_refusal_is_set_aside_not_retried(runtime: Runtime) -> None:
    platform = Platform()
    platform.failures = [DeliveryFailed("channel_not_found", permanent=True)]
    runtime.delivery.add_sender("test", platform.send)
    await runtime.delivery.receive(message("how long does shipping take?", "gone-1"))
    await settle(runtime.delivery, rounds=2)
    assert platform.calls == 1 and platform.accepted == []
    async with runtime.database.session() as session:
        entry = (await session.exec(select(OutboxEntry))).one()
    assert entry.status == "failed" and entry.last_error == "channel_not_found" and entry.reply is None


async def test_a_redelivery_resends_the_stored_reply_instead_of_dropping_it(runtime: Runtime) -> None:
    platform = Platform()
    platform.failures = [DeliveryFailed("503 service unavailable", retry_after=3600)]
    runtime.delivery.add_sender("test", platform.send)
    inbound = message("how long does shipping take?", "redeliver-1")
    await runtime.delivery.receive(inbound)
    await settle(runtime.delivery)
    assert platform.accepted == []
    await runtime.delivery.receive(inbound)  # the platform never heard back properly and sends it again
    await settle(runtime.delivery)
    assert len(platform.texts_for("redeliver-1")) == 1
    async with runtime.database.session() as session:
        turns = (await session.exec(select(Turn).where(Turn.role == "bot"))).all()
    assert len(turns) == 1  # resent, not answered twice


async def test_replies_of_one_conversation_go_out_in_order(runtime: Runtime, fast_retries: None) -> None:
    platform = Platform()
    platform.failures = [DeliveryFailed("502")]
    runtime.delivery.add_sender("test", platform.send)
    for n, text in enumerate(["hi", "how long does shipping take?", "what is your return policy?"]):
        await runtime.engine.handle(message(text, f"order-{n}", seconds=n))  # stored, not yet sent
    await runtime.delivery.deliver()  # the first send fails: nothing after it may overtake it
    assert platform.accepted == []
    await runtime.delivery.deliver()
    assert [r.in_reply_to for r in platform.accepted] == ["order-0", "order-1", "order-2"]


async def test_a_poison_message_is_set_aside_after_three_attempts(runtime: Runtime) -> None:
    platform = Platform()
    runtime.delivery.add_sender("test", platform.send)

    async def broken(*args: object) -> object:
        raise RuntimeError("a bug this message triggers")

    real = runtime.engine.recall
    runtime.engine.recall = broken  # type: ignore[assignment]
    await runtime.delivery.receive(message("how long does shipping take?", "poison-1"))
    await settle(runtime.delivery, rounds=4)
    entry = await entry_of(runtime, "poison-1")
    assert entry.status == "failed" and entry.attempts == 3 and entry.payload is None
    # The conversation is not blocked behind it.
    runtime.engine.recall = real  # type: ignore[assignment]
    await runtime.delivery.receive(message("what is your return policy?", "after-poison", seconds=1))
    await settle(runtime.delivery)
    assert len(platform.texts_for("after-poison")) == 1


async def test_two_processes_keep_each_conversation_in_order(runtime: Runtime, redis_url: str) -> None:
    """A burst over 50 conversations, alternating between two processes that share the database and
    Redis: every conversation's turns are stored in the order its messages were written."""
    from bot.locks import RedisConversationLocks

    web = replace(runtime.engine, accept=Accept(Inbox(runtime.database), owner="web"),
                  locks=RedisConversationLocks(redis_url))
    worker = replace(runtime.engine, accept=Accept(Inbox(runtime.database), owner="worker"),
                     locks=RedisConversationLocks(redis_url))
    processes = [Delivery(web, ReplyPoster(Outbox(runtime.database), "web")),
                 Delivery(worker, ReplyPoster(Outbox(runtime.database), "worker"))]
    texts = ["hi", "how long does shipping take?", "what is your return policy?", "thanks!"]
    try:
        async def conversation(c: int) -> None:
            for n, text in enumerate(texts):
                # Each message reaches one process or the other, and is acknowledged (stored) before
                # the customer's next one is sent; the turns run after the acknowledgement.
                await processes[(c + n) % 2].receive(message(text, f"c{c}-{n}", thread=f"burst-{c}", seconds=n))

        await asyncio.gather(*(conversation(c) for c in range(50)))
        await asyncio.gather(*(p.idle() for p in processes))
        # On a loaded machine a turn may give up waiting for its conversation's lock; it stays queued
        # and the sweeper runs it, still in order.
        for _ in range(20):
            if not await web.accept.waiting():
                break
            await asyncio.gather(*(p.sweep() for p in processes))
    finally:
        await web.locks.close()
        await worker.locks.close()
    async with runtime.database.session() as session:
        rows = (await session.exec(select(Turn).where(Turn.role == "customer").order_by(col(Turn.id)))).all()
    by_conversation: dict[str, list[int]] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation, []).append(int(row.message_id.rsplit("-", 1)[1]))
    assert len(by_conversation) == 50
    out_of_order = [c for c, order in by_conversation.items() if order != [0, 1, 2, 3]]
    assert out_of_order == []


async def test_stored_replies_carry_a_stable_delivery_key(runtime: Runtime) -> None:
    reply = await runtime.engine.handle(message("how long does shipping take?", "key-1"))
    assert reply is not None and reply.delivery_key and reply.recipient == "U1"
    stored = await Outbox(runtime.database).stored_reply("test", "key-1")
    assert stored == reply


async def test_a_reply_taken_over_from_a_process_that_died_mid_send_is_marked_maybe_sent(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.outbox.SEND_LEASE", timedelta(seconds=0.2))
    await runtime.engine.handle(message("how long does shipping take?", "mid-send-1"))
    outbox = Outbox(runtime.database)
    [(key, _)] = await outbox.due({"test"})
    first = await outbox.lease(key, "process-a")  # process A starts sending, and is killed
    assert first is not None and not first.reply.maybe_sent
    await asyncio.sleep(0.25)
    second = await outbox.lease(key, "process-b")
    assert second is not None and second.reply.maybe_sent  # the platform may have it: look before posting
    await outbox.retry_later(second, timedelta(0), "502")
    third = await outbox.lease(key, "process-b")
    assert third is not None and not third.reply.maybe_sent  # its own failed attempt: it knows how that went


async def test_an_agents_relay_in_flight_never_holds_the_customers_turns(runtime: Runtime) -> None:
    platform = Platform()
    runtime.delivery.add_sender("test", platform.send)
    inbound = message("how long does shipping take?", "after-relay", seconds=5)
    relay = Inbound(platform="desk", conversation=inbound.conversation, user_id="agent", text="hi",
                    message_id="desk-1")
    assert await Inbox(runtime.database).claim(relay)  # the relay is mid-way (claimed, not yet recorded)
    await runtime.delivery.receive(inbound)
    await settle(runtime.delivery)
    assert len(platform.texts_for("after-relay")) == 1


async def test_a_process_that_stalled_past_its_lease_stores_nothing_twice(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process stalls mid-turn (its heartbeat cannot run), its lease runs out and another process
    answers the message; when the first wakes up, its stale turn is dropped whole, not stored again
    and not an error."""
    from bot.locks import ConversationLocks

    monkeypatch.setattr(inbox_module, "LEASE", timedelta(seconds=0.3))

    class Stalled(Inbox):
        async def renew(self, message: object) -> bool:  # the stalled loop never renews the lease
            return True

    def as_process(owner: str, inbox: Inbox) -> object:
        return replace(runtime.engine, accept=Accept(inbox, owner=owner), locks=ConversationLocks())

    slow, fast = as_process("slow", Stalled(runtime.database)), as_process("fast", Inbox(runtime.database))
    entered, wake = asyncio.Event(), asyncio.Event()
    understand = runtime.engine.understand

    async def stalls(inbound: Inbound) -> object:
        entered.set()
        await wake.wait()
        return await understand(inbound)

    slow = replace(slow, understand=stalls)
    inbound = message("how long does shipping take?", "stall-1")
    await slow.receive(inbound)
    stalled = asyncio.create_task(slow.run_queue(inbound.conversation))
    await entered.wait()
    await asyncio.sleep(0.4)  # the stalled process's lease runs out
    assert set(await fast.run_queue(inbound.conversation)) == {"stall-1"}
    wake.set()
    assert await stalled == {}  # dropped whole: no reply, no error
    async with runtime.database.session() as session:
        turns = (await session.exec(select(Turn).where(Turn.message_id == "stall-1"))).all()
        outbox = (await session.exec(select(OutboxEntry))).all()
    assert len(turns) == 1 and len(outbox) == 1
    assert (await entry_of(runtime, "stall-1")).status == "answered"
