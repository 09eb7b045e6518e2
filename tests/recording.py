"""A test adapter: feeds messages to the engine the way a platform would and records what it sends."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.types import ConversationKey, Inbound, MessageHandler, Reply

_ids = itertools.count(1)


@dataclass
class RecordingAdapter:
    handler: MessageHandler
    platform: str = "test"
    sent: list[Reply] = field(default_factory=list)

    def inbound(
        self,
        text: str,
        user: str = "U1",
        name: str = "",
        channel: str = "D1",
        thread: str = "",
        message_id: str | None = None,
        external: bool = False,
    ) -> Inbound:
        return Inbound(
            platform=self.platform,
            conversation=ConversationKey(self.platform, "W1", channel, thread),
            user_id=user,
            display_name=name,
            text=text,
            message_id=message_id or f"m{next(_ids)}",
            external=external,
        )

    async def say(self, text: str, **kwargs: object) -> Reply | None:
        """Deliver one message as the platform would; returns (and records) the reply, if any."""
        return await self.deliver(self.inbound(text, **kwargs))  # type: ignore[arg-type]

    async def deliver(self, inbound: Inbound) -> Reply | None:
        reply = await self.handler(inbound)
        if reply is not None:
            await self.send(reply)
        return reply

    async def start(self, handler: MessageHandler) -> None:
        self.handler = handler

    async def send(self, reply: Reply) -> None:
        self.sent.append(reply)

    async def stop(self) -> None:
        pass
