"""1. accept: store each message before anything else, then lease the turns of its conversation in order.

Exactly one reply per (platform, message id), across restarts, redeliveries and processes: the
durable inbox (``bot.store.inbox``) decides; this stage holds the lease of a running turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator

from bot.store.inbox import LEASE, Arrival, Inbox, QueuedMessage
from bot.types import ConversationKey, Inbound


def process_identity() -> str:
    """Who holds a lease: host, pid and a per-start nonce (a restarted process is a new owner)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Accept:
    def __init__(self, inbox: Inbox, owner: str | None = None) -> None:
        self._inbox = inbox
        self.owner = owner or process_identity()

    async def __call__(self, inbound: Inbound) -> Arrival:
        """Durably store the message (committed on return): NEW, or what became of an earlier copy."""
        return await self._inbox.enqueue(inbound)

    async def next(self, conversation: ConversationKey) -> QueuedMessage | None:
        return await self._inbox.lease_next(conversation, self.owner)

    async def identified(self, message: QueuedMessage, customer_id: int) -> None:
        await self._inbox.identified(message, customer_id)

    async def waiting(self) -> list[ConversationKey]:
        return await self._inbox.waiting_conversations()

    @contextlib.asynccontextmanager
    async def leased(self, message: QueuedMessage) -> AsyncIterator[None]:
        """Keep the lease alive while the turn runs; a failed turn goes back to the queue."""
        heartbeat = asyncio.create_task(self._renew(message), name="inbox-lease")
        try:
            yield
        except BaseException:
            await self._inbox.failed(message)
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _renew(self, message: QueuedMessage) -> None:
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 3)
            if not await self._inbox.renew(message):
                return
