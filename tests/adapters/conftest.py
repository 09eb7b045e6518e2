"""Fixtures for adapter tests."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.store.inbox import Arrival, QueuedMessage
from bot.types import Inbound, Reply
from tests.adapters.support import Turns


@pytest.fixture
def engine_turns(monkeypatch: pytest.MonkeyPatch) -> Turns:
    """Watch the real engine wherever the Runtime was opened: every turn it ran, as (inbound, reply),
    and every redelivery it recognised, as (inbound, None)."""
    turns = Turns()
    real_turn, real_receive = Engine._turn, Engine.receive

    async def turn(self: Engine, message: QueuedMessage) -> Reply | None:
        return await turns.wrap(lambda _: real_turn(self, message))(message.inbound)

    async def receive(self: Engine, inbound: Inbound) -> Arrival:
        arrival = await real_receive(self, inbound)
        if arrival is not Arrival.NEW:
            await turns.wrap(_no_reply)(inbound)
        return arrival

    monkeypatch.setattr(Engine, "_turn", turn)
    monkeypatch.setattr(Engine, "receive", receive)
    return turns


async def _no_reply(inbound: Inbound) -> Reply | None:
    return None
