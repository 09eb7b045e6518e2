"""8. remember: store the turn and its answer, the conversation's dialogue state, the facts the customer
told us (with when), and their words as a memory when the handler says the turn is one."""

from __future__ import annotations

from bot.customers.preferences import merged
from bot.handlers.base import Decision, Registry, Situation
from bot.knowledge.search import KnowledgeHit
from bot.store.conversations import ConversationLog
from bot.store.dialogue import DialogueState
from bot.store.memory import CustomerMemory, turn_source
from bot.store.statuses import TurnRole
from bot.store.records import CustomerRecord
from bot.store.tables import Handoff, Turn
from bot.types import Reply, SentimentLabel


def next_state(situation: Situation, decision: Decision, negative: bool,
               found: KnowledgeHit | None = None) -> DialogueState:
    """The conversation's state after this turn: what is under discussion now, and the stretch's counts
    (misses and unhappy messages in a row), which start afresh whenever a person takes over. ``found``:
    the section the action looked up (an order problem's), the topic like an answer's."""
    state, context = situation.state, situation.context
    order_id = decision.order.order_id if decision.order else (
        context.order.order_id if context.order is not None and context.order_named_now else state.order_id)
    answer = decision.answer or found
    fresh = decision.opens_handoff or decision.silent
    return state.but(
        order_id=order_id,
        product_sku=decision.product or state.product_sku,
        topic=answer.section if answer else state.topic,
        topic_source=answer.source if answer else state.topic_source,
        last_action=decision.action,
        misses=0 if fresh or not decision.miss else state.misses + 1,
        negatives=0 if fresh or not negative else state.negatives + 1,
    )


class Remember:
    def __init__(self, log: ConversationLog, memory: CustomerMemory, registry: Registry,
                 granularity: str = "thread", negative_score: float = -0.3) -> None:
        self._log = log
        self._memory = memory
        self._registry = registry
        self._granularity = granularity
        self._negative = negative_score

    async def __call__(self, situation: Situation, customer: CustomerRecord | None, decision: Decision,
                       reply: Reply | None, owner: str | None = None, found: KnowledgeHit | None = None) -> None:
        """``owner``: who leases the turn; it is stored only while that lease still holds. ``found``: the
        knowledge section the action looked up, if any."""
        inbound, understanding, context = situation.inbound, situation.understanding, situation.context
        if customer is None:  # forgotten during this turn: keep nothing but the inbox's "answered" mark
            await self._log.record(inbound, [], None, answered=reply is not None, reply=reply, owner=owner)
            return
        assert customer.id is not None
        handler = self._registry.get(decision.action)
        conversation = inbound.conversation.scope(self._granularity, inbound.user_id)
        turns = [
            Turn(
                customer_id=customer.id,
                conversation=conversation,
                platform=inbound.platform,
                role=TurnRole.CUSTOMER,
                text="/link ••••" if handler.secret else inbound.text,
                message_id=inbound.message_id,
                # A command (/link, /export, a 👎 click queued as /unhelpful) says nothing of the mood.
                sentiment=None if understanding.command is not None else understanding.sentiment.score,
                action=decision.action,
            )
        ]
        if reply is not None:
            turns.append(
                Turn(
                    customer_id=customer.id,
                    conversation=conversation,
                    platform=inbound.platform,
                    role=TurnRole.BOT,
                    text="(link code sent)" if handler.secret else reply.text,
                    action=decision.action,
                    sources=[s.path for s in reply.sources],
                )
            )
        handoff = None
        if decision.opens_handoff:
            # The handoff keeps the full key: agents' replies must reach this very thread.
            handoff = Handoff(customer_id=customer.id, conversation=str(inbound.conversation), reason=decision.reason,
                              rule=decision.rule)
        changes = {}
        if understanding.facts and not handler.secret:
            changes["preferences"] = merged(customer.preferences, understanding.facts)
        if context.insights.customer_id == customer.id and context.insights.stage != customer.stage:
            changes["stage"] = context.insights.stage
        negative = (understanding.sentiment.label is SentimentLabel.NEGATIVE
                    and understanding.sentiment.score <= self._negative)
        state = next_state(situation, decision, negative, found) if customer.id == situation.customer.id else None
        # The turns, any handoff, profile changes, the dialogue state and the inbox's "answered" mark commit together.
        await self._log.record(inbound, turns, handoff, answered=reply is not None, customer_changes=(customer.id, changes),
                               reply=reply, customer_id=customer.id,
                               customer_since=customer.created_at, state=state, owner=owner)
        if understanding.text and handler.memorable and turns[0].id is not None:
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
