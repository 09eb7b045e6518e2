"""What every adapter offers the composition root. Rich replies degrade to text in ``adapters.rendering``."""

from __future__ import annotations

from typing import Protocol

from adapters.rendering import render_plain
from bot.types import FeedbackHandler, MessageHandler, Reply

__all__ = ["Adapter", "render_plain"]


class Adapter(Protocol):
    """A platform connection. It holds a handler; it does not inherit from the engine."""

    platform: str

    async def start(self, handler: MessageHandler, feedback: FeedbackHandler | None = None) -> None:
        """Receive messages and pass each to ``handler``; send what it returns. Button clicks and
        reactions on replies go to ``feedback``. Returns when stopped."""

    async def send(self, reply: Reply) -> str | None:
        """Deliver one reply in the conversation (and thread) it answers; the platform's id of the (first)
        message posted, when there is one, so a reaction on it can be traced to the reply."""

    async def stop(self) -> None: ...
