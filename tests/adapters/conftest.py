"""Fixtures for adapter tests."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.types import Inbound, Reply
from tests.adapters.support import Turns


@pytest.fixture
def engine_turns(monkeypatch: pytest.MonkeyPatch) -> Turns:
    """Watch the real engine: every Engine.handle call made in this test, wherever the Runtime was opened."""
    turns = Turns()
    real = Engine.handle

    async def handle(self: Engine, inbound: Inbound) -> Reply | None:
        return await turns.wrap(lambda i: real(self, i))(inbound)

    monkeypatch.setattr(Engine, "handle", handle)
    return turns
