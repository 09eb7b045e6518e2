"""The engine end to end through a recording adapter, on the real stores and models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import func, select

from bot.config import Config
from bot.runtime import Runtime
from bot.store.inbox import message_digest
from bot.store.tables import Customer, InboxEntry, Turn
from tests.recording import RecordingAdapter


async def test_shipping_question_is_answered_from_knowledge_with_its_source(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("how long does shipping take?")
    assert reply is not None
    assert "3–5 business days" in reply.text  # the Standard shipping time written in knowledge/pages/shipping.md
    assert [s.path for s in reply.sources] == ["knowledge/pages/shipping.md"]
    assert reply.sources[0].section == "How long does shipping take?"
    assert "Source: Shipping" in reply.text


async def test_unknown_question_admits_it_and_offers_a_person(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("what's the weather on Mars?")
    assert reply is not None
    assert "don't know" in reply.text
    assert reply.sources == ()
    assert any("person" in s.text for s in reply.suggestions)


async def test_close_but_unsure_match_asks_which_one_was_meant(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("can I pay with paypal?")
    assert reply is not None
    assert "What payment methods do you accept?" in [s.label for s in reply.suggestions]
    assert reply.sources == ()


async def test_product_question_lists_only_catalog_prices(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("I need a desk lamp")
    assert reply is not None
    assert reply.recommendations[0].sku == "LMP-DESK-01"
    assert "$89.00" in reply.text  # the price in knowledge/catalog.csv


async def test_same_message_id_twice_gets_exactly_one_reply(recorder: RecordingAdapter, runtime: Runtime) -> None:
    inbound = recorder.inbound("what is your return policy?", message_id="dup-1")
    first = await recorder.deliver(inbound)
    second = await recorder.deliver(inbound)
    assert first is not None and second is None
    assert len(recorder.sent) == 1
    async with runtime.database.session() as session:
        turns = (await session.exec(select(func.count()).select_from(Turn).where(Turn.message_id == "dup-1"))).one()
    assert turns == 1


async def test_concurrent_redelivery_still_gets_one_reply(recorder: RecordingAdapter) -> None:
    inbound = recorder.inbound("how do I reset my password?", message_id="race-1")
    replies = await asyncio.gather(*(recorder.deliver(inbound) for _ in range(5)))
    assert sum(r is not None for r in replies) == 1
    assert len(recorder.sent) == 1


async def test_duplicate_after_restart_is_not_answered_again(repo_config: Config, data_dir: Path) -> None:
    async with Runtime.open(repo_config, data_dir) as first_process:
        adapter = RecordingAdapter(first_process.engine.handle)
        inbound = adapter.inbound("how long does shipping take?", message_id="restart-1")
        assert await adapter.deliver(inbound) is not None
    async with Runtime.open(repo_config, data_dir) as second_process:
        assert await second_process.engine.handle(inbound) is None


async def test_failed_turn_releases_its_claim_so_the_redelivery_is_answered(runtime: Runtime) -> None:
    adapter = RecordingAdapter(runtime.engine.handle)
    inbound = adapter.inbound("how long does shipping take?", message_id="fail-1")
    real_recall = runtime.engine.recall

    async def broken(*args: object) -> object:
        raise ConnectionError("vector store went away")

    runtime.engine.recall = broken  # type: ignore[assignment]
    try:
        await adapter.deliver(inbound)
    except ConnectionError:
        pass
    runtime.engine.recall = real_recall
    assert await adapter.deliver(inbound) is not None
    async with runtime.database.session() as session:
        entry = (await session.exec(select(InboxEntry).where(InboxEntry.message_id == message_digest("test", "fail-1")))).one()
    assert entry.status == "answered"


async def test_turns_of_one_conversation_run_one_at_a_time(runtime: Runtime) -> None:
    order: list[str] = []
    real_understand = runtime.engine.understand

    async def slow_understand(inbound):  # type: ignore[no-untyped-def]
        order.append(f"start {inbound.message_id}")
        await asyncio.sleep(0.05)
        result = await real_understand(inbound)
        order.append(f"end {inbound.message_id}")
        return result

    runtime.engine.understand = slow_understand  # type: ignore[assignment]
    adapter = RecordingAdapter(runtime.engine.handle)
    await asyncio.gather(
        adapter.deliver(adapter.inbound("hi", message_id="a")),
        adapter.deliver(adapter.inbound("thanks", message_id="b")),
    )
    assert order in (["start a", "end a", "start b", "end b"], ["start b", "end b", "start a", "end a"])
    assert len(runtime.engine.locks) == 0  # no lock is left behind


async def test_customer_is_greeted_by_name_and_answers_use_their_name(recorder: RecordingAdapter) -> None:
    greeting = await recorder.say("hello", user="U9", name="Maya Lopez")
    answer = await recorder.say("how long does shipping take?", user="U9", name="Maya Lopez")
    assert greeting is not None and "Hi, Maya!" in greeting.text
    assert answer is not None and answer.text.startswith("Maya, here's what I found.")


async def test_known_facts_about_the_customer_are_mentioned_when_the_answer_concerns_them(
    recorder: RecordingAdapter, runtime: Runtime
) -> None:
    await recorder.say("hi", user="U7", name="Sam Carter")
    async with runtime.database.session() as session:
        sam = (await session.exec(select(Customer).where(Customer.name == "Sam Carter"))).one()
        sam.attributes = {"loyalty_tier": "Summit"}
        session.add(sam)
        await session.commit()
    reply = await recorder.say("do I have to pay for return shipping?", user="U7", name="Sam Carter")
    assert reply is not None
    assert "Summit" in reply.text.split("For you:")[0]  # the knowledge text itself names the tier
    assert "For you: your loyalty tier is Summit." in reply.text


async def test_request_for_a_person_opens_a_handoff(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("I want to talk to a person")
    assert reply is not None and reply.handoff is not None
    assert reply.handoff.reason == "customer asked for a person"
    assert reply.recommendations == ()


async def test_every_turn_is_stored_and_remembered_for_this_customer_only(
    recorder: RecordingAdapter, runtime: Runtime
) -> None:
    await recorder.say("my order 1042 arrived with a cracked lamp shade", user="UA", name="Ana")
    await recorder.say("hello", user="UB", name="Ben")
    async with runtime.database.session() as session:
        ana = (await session.exec(select(Customer).where(Customer.name == "Ana"))).one()
        ben = (await session.exec(select(Customer).where(Customer.name == "Ben"))).one()
    await runtime.memory.flush()
    probe = runtime.embedder.embed(["cracked lamp shade"])[0]
    assert [m.text for m in await runtime.memory.recall(ana.id, probe, 3)] == [
        "my order 1042 arrived with a cracked lamp shade"
    ]
    assert all("lamp" not in m.text for m in await runtime.memory.recall(ben.id, probe, 3))


async def test_tone_follows_sentiment_and_upset_customers_get_no_upsell(recorder: RecordingAdapter) -> None:
    upset = await recorder.say("My refund is late and this is terrible, how long do refunds take?", user="U-t")
    assert upset is not None and upset.tone == "empathetic"
    assert upset.text.startswith("I'm sorry about the trouble. Here's what applies:")
    assert upset.recommendations == ()
    happy = await recorder.say("Love your shop! How long does shipping take?", user="U-h")
    assert happy is not None and happy.tone == "warm" and happy.text.startswith("Happy to help!")
    neutral = await recorder.say("how long does shipping take?", user="U-n")
    assert neutral is not None and neutral.tone == "neutral" and neutral.text.startswith("Shipping time")


async def test_messages_are_routed_to_an_intent_with_a_confidence(recorder: RecordingAdapter) -> None:
    routed = await recorder.say("how much does delivery to Canada cost?", user="U-i", channel="D-i")
    assert routed is not None and routed.intent == "shipping_info" and routed.intent_confidence >= 0.5
    paraphrase = await recorder.say("I would like to speak with a manager", user="U-j", channel="D-j")
    assert paraphrase is not None and paraphrase.handoff is not None  # no fixed phrase, the router caught it
    nonsense = await recorder.say("what's the weather on Mars?", user="U-k", channel="D-k")
    assert nonsense is not None and nonsense.intent == "oos" and "don't know" in nonsense.text
