"""8. remember: store the turn and its answer, the customer's words as a memory, any handoff."""

from __future__ import annotations

from bot.stages.decide import Action, Decision
from bot.stages.understand import Understanding
from bot.store.conversations import ConversationLog
from bot.store.memory import CustomerMemory
from bot.store.tables import Customer, Handoff, Turn
from bot.types import Inbound, Reply


class Remember:
    def __init__(self, log: ConversationLog, memory: CustomerMemory) -> None:
        self._log = log
        self._memory = memory

    async def __call__(
        self, inbound: Inbound, customer: Customer, understanding: Understanding, decision: Decision, reply: Reply | None
    ) -> None:
        assert customer.id is not None
        conversation = str(inbound.conversation)
        turns = [
            Turn(
                customer_id=customer.id,
                conversation=conversation,
                platform=inbound.platform,
                role="customer",
                text=inbound.text,
                message_id=inbound.message_id,
                sentiment=understanding.sentiment.score,
                action=decision.action.value,
            )
        ]
        if reply is not None:
            turns.append(
                Turn(
                    customer_id=customer.id,
                    conversation=conversation,
                    platform=inbound.platform,
                    role="bot",
                    text=reply.text,
                    action=decision.action.value,
                    sources=[s.path for s in reply.sources],
                )
            )
        handoff = None
        if decision.action is Action.HANDOFF:
            handoff = Handoff(customer_id=customer.id, conversation=conversation, reason=decision.reason)
        # The turns, any handoff and the inbox's "answered" mark commit together.
        await self._log.record(inbound, turns, handoff, answered=reply is not None)
        if understanding.text:
            self._memory.remember(
                customer.id,
                f"turn:{inbound.platform}:{inbound.message_id}",
                understanding.text,
                understanding.embedding,
                conversation,
                inbound.received_at,
            )
