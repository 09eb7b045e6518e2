"""8. remember: store the turn and its answer, the customer's words as a memory, what they told us."""

from __future__ import annotations

from bot.stages.decide import Action, Decision
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.conversations import ConversationLog
from bot.store.memory import CustomerMemory, turn_source
from bot.store.tables import Customer, Handoff, Turn
from bot.types import Inbound, Reply

# Commands and their answers are not memories: a /link code must never be recalled later.
_NOT_MEMORABLE = {Action.LINK, Action.EXPORT, Action.FORGET, Action.HELP, Action.CSAT}


class Remember:
    def __init__(self, log: ConversationLog, memory: CustomerMemory, granularity: str = "thread") -> None:
        self._log = log
        self._memory = memory
        self._granularity = granularity

    async def __call__(
        self,
        inbound: Inbound,
        customer: Customer | None,
        understanding: Understanding,
        context: Context,
        decision: Decision,
        reply: Reply | None,
    ) -> None:
        if customer is None:  # forgotten during this turn: keep nothing but the inbox's "answered" mark
            await self._log.record(inbound, [], None, answered=reply is not None, reply=reply)
            return
        assert customer.id is not None
        conversation = inbound.conversation.scope(self._granularity, inbound.user_id)
        secret = decision.action is Action.LINK
        turns = [
            Turn(
                customer_id=customer.id,
                conversation=conversation,
                platform=inbound.platform,
                role="customer",
                text="/link ••••" if secret else inbound.text,
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
                    text="(link code sent)" if secret else reply.text,
                    action=decision.action.value,
                    sources=[s.path for s in reply.sources],
                )
            )
        handoff = None
        if decision.action is Action.HANDOFF:
            # The handoff keeps the full key: agents' replies must reach this very thread.
            handoff = Handoff(customer_id=customer.id, conversation=str(inbound.conversation), reason=decision.reason,
                              rule=decision.rule)
        changes = {}
        if understanding.preferences:
            changes["preferences"] = {**(customer.preferences or {}), **understanding.preferences}
        if context.insights.customer_id == customer.id and context.insights.stage != customer.stage:
            changes["stage"] = context.insights.stage
        # The turns, any handoff, profile changes and the inbox's "answered" mark commit together.
        await self._log.record(inbound, turns, handoff, answered=reply is not None, customer_changes=(customer.id, changes),
                               reply=reply, customer_id=customer.id,
                               customer_since=customer.created_at)
        if understanding.text and decision.action not in _NOT_MEMORABLE and turns[0].id is not None:
            # Keyed by the stored turn's row id: the vector store never holds the text or a platform id.
            self._memory.remember(
                customer.id,
                turn_source(turns[0].id),
                understanding.text,
                understanding.embedding,
                conversation,
                inbound.received_at,
                customer_since=customer.created_at,
            )
