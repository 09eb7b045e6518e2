"""1. accept: exactly one reply per (platform, message id), even across restarts."""

from __future__ import annotations

from bot.store.inbox import Inbox
from bot.types import Inbound


class Accept:
    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    async def __call__(self, inbound: Inbound) -> bool:
        """True when this message should be answered now; False for a redelivery."""
        return await self._inbox.claim(inbound)

    async def failed(self, inbound: Inbound) -> None:
        await self._inbox.release(inbound)
