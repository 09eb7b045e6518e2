"""Handlers end to end, as customers would write."""

from __future__ import annotations

from sqlmodel import select

from bot.runtime import Runtime
from bot.store.tables import Handoff
from tests.recording import RecordingAdapter


async def _as(runtime: Runtime, ref: str, user: str) -> RecordingAdapter:
    customer = await runtime.customers.find(ref)
    await runtime.customers.attach(customer, "test", "W1", user)
    return RecordingAdapter(runtime.engine.handle)


async def test_a_problem_with_an_order_gets_the_answer_for_that_problem_with_the_orders_facts(sampled: Runtime) -> None:
    ana = await _as(sampled, "ana.silva@example.com", "U-ana")
    broken = await ana.say("my lamp arrived broken", user="U-ana", channel="DA")
    assert broken is not None and "1042" in broken.text and "arrived damaged" in broken.text
    assert "is marked as delivered" not in broken.text
    cancel = await ana.say("cancel my order", user="U-ana", channel="DA2")
    assert cancel is not None and cancel.sources[0].path == "knowledge/pages/orders.md" and "1042" in cancel.text


async def test_a_safety_report_gets_the_guidance_and_a_person(sampled: Runtime) -> None:
    ben = await _as(sampled, "ben.okafor@example.com", "U-ben")
    reply = await ben.say("my power bank is swelling, is that dangerous?", user="U-ben", channel="DB")
    assert reply is not None and reply.handoff is not None and "stop using it" in reply.text.lower()
    assert any(s.path == "knowledge/pages/warranty.md" for s in reply.sources)
    async with sampled.database.session() as session:
        assert (await session.exec(select(Handoff.rule))).one() == "safety"


async def test_facts_told_are_kept_with_their_date_and_answered_later(sampled: Runtime) -> None:
    ana = await _as(sampled, "ana.silva@example.com", "U-ana")
    await ana.say("my dog is called Rex", user="U-ana", channel="DA")
    await ana.say("I live in Porto", user="U-ana", channel="DA")
    await ana.say("actually I just moved to Lyon", user="U-ana", channel="DA")
    dog = await ana.say("what's my dog's name?", user="U-ana", channel="DA9")
    home = await ana.say("where do I live?", user="U-ana", channel="DA9")
    assert dog is not None and "Rex" in dog.text
    assert home is not None and "Lyon" in home.text and "Porto" not in home.text
    customer = await sampled.customers.find("ana.silva@example.com")
    assert customer.preferences["dog_name"]["value"] == "Rex" and customer.preferences["city"]["said_at"]
    exported = await ana.say("/export", user="U-ana", channel="DA")
    assert exported is not None and "Rex" in exported.files[0].content


async def test_an_upset_customer_with_no_answer_gets_empathy_and_a_way_forward(sampled: Runtime) -> None:
    ben = await _as(sampled, "ben.okafor@example.com", "U-ben")
    reply = await ben.say("THIS IS RIDICULOUS, worst store ever", user="U-ben", channel="DB")
    assert reply is not None and reply.handoff is None
    assert "sorry" in reply.text.lower() and "don't know" not in reply.text
    assert any("person" in s.text for s in reply.suggestions)


async def test_unknown_commands_list_the_real_ones(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("/foo")
    assert reply is not None and "/foo" in reply.text
    assert all(c in reply.text for c in ("/help", "/link", "/export", "/forget", "/csat"))


async def test_another_language_is_told_answers_are_in_english_and_offered_a_person(recorder: RecordingAdapter) -> None:
    reply = await recorder.say("¿Cuánto tarda el envío a España?")
    assert reply is not None and "inglés" in reply.text
    assert any("person" in s.text for s in reply.suggestions)
