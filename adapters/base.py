"""What every adapter offers the composition root, and the one place rich replies degrade to text."""

from __future__ import annotations

from typing import Protocol

from bot.types import FeedbackHandler, MessageHandler, Reply


class Adapter(Protocol):
    """A platform connection. It holds a handler; it does not inherit from the engine."""

    platform: str

    async def start(self, handler: MessageHandler, feedback: FeedbackHandler | None = None) -> None:
        """Receive messages and pass each to ``handler``; send what it returns. Button clicks and
        reactions on replies go to ``feedback``. Returns when stopped."""

    async def send(self, reply: Reply) -> None:
        """Deliver one reply in the conversation (and thread) it answers."""

    async def stop(self) -> None: ...


def render_plain(reply: Reply) -> str:
    """A reply as plain text for platforms (or clients) without buttons or blocks."""
    parts = [reply.text]
    if reply.recommendations and "in stock" not in reply.text:
        parts.append("You might also like:\n" + "\n".join(
            f"• {r.name} — ${r.price:,.2f} ({r.reason})" for r in reply.recommendations))
    if reply.suggestions:
        parts.append("\n".join(f"[{i}] {s.label}" for i, s in enumerate(reply.suggestions, start=1)))
    return "\n\n".join(parts)
