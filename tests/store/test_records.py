"""Stages and desks get frozen records of turns and handoffs; the rows stay inside bot/store."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import select

from bot.runtime import Runtime
from bot.store.records import HandoffRecord, TurnRecord
from bot.store.statuses import HandoffStatus, TurnRole
from bot.store.tables import Turn
from tests.recording import RecordingAdapter


async def test_recall_reads_the_conversation_and_its_handoff_as_frozen_records(
    runtime: Runtime, recorder: RecordingAdapter
) -> None:
    await recorder.say("how long does shipping take?", user="U1", name="Ana")
    asked = await recorder.say("I want to talk to a person", user="U1", name="Ana")
    assert asked is not None and asked.handoff is not None
    inbound = recorder.inbound("hello?", user="U1", name="Ana")
    async with runtime.database.session() as session:
        customer_id = (await session.exec(select(Turn.customer_id))).first()
    assert customer_id is not None

    turns = await runtime.log.recent(str(inbound.conversation), customer_id, 10)
    assert [(t.role, t.text) for t in turns][:2] == [(TurnRole.CUSTOMER, "how long does shipping take?"),
                                                     (TurnRole.BOT, turns[1].text)]
    assert all(isinstance(t, TurnRecord) for t in turns) and len(turns) == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        turns[0].text = "rewritten"  # type: ignore[misc]

    handoff = await runtime.log.open_handoff(inbound.conversation, customer_id)
    assert isinstance(handoff, HandoffRecord)
    assert handoff.status is HandoffStatus.PENDING and handoff.rule == "asked_for_person"
    with pytest.raises(dataclasses.FrozenInstanceError):
        handoff.status = HandoffStatus.RESOLVED  # type: ignore[misc]
