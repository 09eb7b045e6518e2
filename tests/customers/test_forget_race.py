"""A turn written while the customer's /forget runs does not survive it: not its Turn rows, not its memory.

Each race is played step by step with events, not with sleeps: the second conversation's turn (or
another process's memory writer) is held at the exact point where it would slip past the delete.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import select

from bot.runtime import Runtime
from bot.store.memory import CustomerMemory, turn_source
from bot.store.tables import Customer, ForgottenCustomer, Turn
from tests.recording import RecordingAdapter


async def vectors_of(runtime: Runtime, customer_id: int) -> dict[str, dict[str, Any]]:
    return await runtime.memory.shard(customer_id).metadatas({"customer_id": customer_id})


async def turns_of(runtime: Runtime, customer_id: int) -> list[Turn]:
    async with runtime.database.session() as session:
        return list((await session.exec(select(Turn).where(Turn.customer_id == customer_id))).all())


async def test_a_turn_in_another_conversation_during_the_forget_leaves_nothing(runtime: Runtime) -> None:
    adapter = RecordingAdapter(runtime.engine.handle)
    await adapter.say("my blue canoe paddle snapped", user="U-race", channel="D-a", name="Rin")
    rin = await runtime.customers.identify(adapter.inbound("x", user="U-race", name="Rin"))
    assert rin.id is not None
    await adapter.say("/forget", user="U-race", channel="D-a")

    # The turn in conversation B is stored, then held before its memory is queued; meanwhile the forget
    # in conversation A runs to the end. Then B's memory is queued, after the delete.
    held, release = asyncio.Event(), asyncio.Event()
    real_record = runtime.log.record

    async def record_then_wait(inbound: Any, *args: Any, **kwargs: Any) -> None:
        await real_record(inbound, *args, **kwargs)
        if inbound.conversation.channel == "D-b":
            held.set()
            await release.wait()

    runtime.log.record = record_then_wait  # type: ignore[method-assign]
    other = asyncio.create_task(adapter.say("also the spare paddle cracked", user="U-race", channel="D-b"))
    await held.wait()
    assert [t.text for t in await turns_of(runtime, rin.id) if t.role == "customer"][-1] == "also the spare paddle cracked"
    done = await adapter.say("/forget confirm", user="U-race", channel="D-a")
    assert done is not None and "has been deleted" in done.text
    release.set()
    await other
    await runtime.memory.flush()

    assert await turns_of(runtime, rin.id) == []
    assert await vectors_of(runtime, rin.id) == {}


async def test_a_memory_queued_after_the_delete_is_dropped(runtime: Runtime) -> None:
    adapter = RecordingAdapter(runtime.engine.handle)
    await adapter.say("the lantern hook is bent", user="U-late", name="Lee")
    lee = await runtime.customers.identify(adapter.inbound("x", user="U-late", name="Lee"))
    assert lee.id is not None
    turn = (await turns_of(runtime, lee.id))[0]
    await runtime.privacy.forget(lee.id)

    # The remember stage of a turn recorded just before the delete queues its memory just after it.
    runtime.memory.remember(lee.id, turn_source(turn.id or 0), turn.text, runtime.embedder.embed([turn.text])[0],
                            "c", turn.created_at, customer_since=lee.created_at)
    await runtime.memory.flush()
    assert await vectors_of(runtime, lee.id) == {}
    async with runtime.database.session() as session:
        assert await session.get(ForgottenCustomer, lee.id) is not None


async def test_another_process_writing_during_the_forget_removes_its_own_write(runtime: Runtime) -> None:
    adapter = RecordingAdapter(runtime.engine.handle)
    await adapter.say("my tent pole bag tore", user="U-proc", name="Pat")
    pat = await runtime.customers.identify(adapter.inbound("x", user="U-proc", name="Pat"))
    assert pat.id is not None
    turn = (await turns_of(runtime, pat.id))[0]
    await runtime.memory.flush()

    # A second process: its own memory writer on the same stores, held inside its vector write.
    shards = [await runtime.vectors.collection(s.name) for s in runtime.memory._shards]  # noqa: SLF001
    entered, release = asyncio.Event(), asyncio.Event()
    target = shards[pat.id % len(shards)]
    real_upsert = target.upsert

    async def slow_upsert(*args: Any, **kwargs: Any) -> None:
        entered.set()
        await release.wait()
        await real_upsert(*args, **kwargs)

    target.upsert = slow_upsert  # type: ignore[method-assign]
    other = CustomerMemory(shards, runtime.database)
    vector = runtime.embedder.embed(["a different note: my stove igniter clicks"])[0]
    other.remember(pat.id, turn_source((turn.id or 0) + 10_000), "", vector, "c", turn.created_at,
                   customer_since=pat.created_at)
    await entered.wait()  # past its check for tombstones, about to write
    await runtime.privacy.forget(pat.id)
    assert await vectors_of(runtime, pat.id) == {}
    release.set()
    await other.close()  # the write lands after the delete, then its second check removes it
    assert await vectors_of(runtime, pat.id) == {}


async def test_a_new_customer_given_a_forgotten_id_keeps_their_memories(runtime: Runtime) -> None:
    adapter = RecordingAdapter(runtime.engine.handle)
    await adapter.say("hello there", user="U-old", name="Old")
    old = await runtime.customers.identify(adapter.inbound("x", user="U-old", name="Old"))
    assert old.id is not None
    await runtime.privacy.forget(old.id)
    # SQLite hands the highest id out again after a delete; the tombstone must not silence the newcomer.
    async with runtime.database.session() as session:
        newcomer = Customer(id=old.id, name="New")
        session.add(newcomer)
        await session.commit()
        await session.refresh(newcomer)
        turn = Turn(customer_id=old.id, conversation="c", platform="test", role="customer", text="my kayak seat squeaks")
        session.add(turn)
        await session.commit()
    runtime.memory.remember(old.id, turn_source(turn.id or 0), turn.text, runtime.embedder.embed([turn.text])[0],
                            "c", turn.created_at, customer_since=newcomer.created_at)
    await runtime.memory.flush()
    probe = runtime.embedder.embed(["kayak seat"])[0]
    assert [m.text for m in await runtime.memory.recall(old.id, probe, 3)] == ["my kayak seat squeaks"]
