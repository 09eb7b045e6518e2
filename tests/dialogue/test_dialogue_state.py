"""Dialogue state: follow-ups resolve against what the conversation is about, across a restart."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.config import Config
from bot.runtime import Runtime
from bot.store.tables import DialogueStateRow
from tests.customers.conftest import SAMPLES
from tests.recording import RecordingAdapter


async def _as(runtime: Runtime, ref: str, user: str) -> RecordingAdapter:
    customer = await runtime.customers.find(ref)
    await runtime.customers.attach(customer, "test", "W1", user)
    return RecordingAdapter(runtime.engine.handle)


async def test_follow_ups_resolve_against_the_order_under_discussion_across_a_restart(
    repo_config: Config, data_dir: Path
) -> None:
    async with Runtime.open(repo_config, data_dir) as first:
        await first.import_files(sorted(SAMPLES.glob("*.csv")))
        ana = await _as(first, "ana.silva@example.com", "U-ana")
        # Order 999 (trail shoes) is not Ana's newest: only the conversation says it is the one meant.
        named = await ana.say("what was in order 999?", user="U-ana", channel="DA")
        assert named is not None and "999" in named.text and "Trail Running Shoe" in named.text
    async with Runtime.open(repo_config, data_dir) as second:
        ana = RecordingAdapter(second.engine.handle)
        price = await ana.say("and how much was it?", user="U-ana", channel="DA")
        assert price is not None and "999" in price.text and "$" in price.text and "1042" not in price.text
        ret = await ana.say("can I return it?", user="U-ana", channel="DA")
        assert ret is not None and "999" in ret.text and ret.sources[0].path == "knowledge/pages/returns.md"
        async with second.database.session() as session:
            (row,) = (await session.exec(select(DialogueStateRow))).all()
        assert row.order_id == "999" and row.last_action == "order_problem"


async def test_another_customers_order_number_is_not_found_and_never_swapped(sampled: Runtime) -> None:
    ana = await _as(sampled, "ana.silva@example.com", "U-ana")
    reply = await ana.say("status of order 1043?", user="U-ana", channel="DA")
    assert reply is not None
    assert "can't find an order 1043 on your account" in reply.text
    # Ben's order stays Ben's: no item, status or tracking of it; and no silent swap to Ana's own.
    assert "Dog Food" not in reply.text and "processing" not in reply.text and "NW20261124042" not in reply.text
    follow = await ana.say("where is it?", user="U-ana", channel="DA")
    assert follow is not None and "1043" not in follow.text


async def test_misses_count_only_in_the_stretch_the_bot_owns(sampled: Runtime) -> None:
    runtime = sampled
    ben = await _as(runtime, "ben.okafor@example.com", "U-ben")
    runtime.delivery.add_sender(ben.platform, ben.send)  # the CSAT question after resolving, through the outbox
    first = await ben.say("what's the weather on Mars?", user="U-ben", channel="DB")
    second = await ben.say("who won the world cup?", user="U-ben", channel="DB")
    assert first is not None and first.handoff is None and second is not None and second.handoff is None
    assert any("person" in s.text for s in second.suggestions)  # offered as a button, not handed off
    asked = await ben.say("ok get me a human", user="U-ben", channel="DB")
    assert asked is not None and asked.handoff is not None
    async with runtime.database.session() as session:
        from bot.store.tables import Handoff

        handoff = (await session.exec(select(Handoff))).one()
    await runtime.desk.agent_resolve(handoff.id, "sam")
    thanks = await ben.say("you guys are awesome, thank you!!", user="U-ben", channel="DB")
    miss = await ben.say("what's the capital of Peru?", user="U-ben", channel="DB")
    assert thanks is not None and thanks.handoff is None and "welcome" in thanks.text
    assert miss is not None and miss.handoff is None  # a fresh count after the resolved handoff
