"""4. recall: what this conversation, this customer and the knowledge base say about the message."""

from __future__ import annotations

import asyncio
import inspect
import re
from dataclasses import dataclass, field

from bot.customers.insights import InsightBuilder, Insights, OrderSummary
from bot.customers.orders import find_order, mentioned_order, named_earlier
from bot.knowledge.search import KnowledgeBase, KnowledgeHit
from bot.stages.understand import Understanding
from bot.store.conversations import ConversationLog
from bot.store.dialogue import DialogueState, DialogueStore
from bot.store.memory import CustomerMemory, Memory
from bot.store.statuses import TurnRole
from bot.store.records import CustomerRecord, HandoffRecord, TurnRecord
from bot.types import Inbound


_POSSESSIVE = re.compile(r"\bmy\b|\d{3,}", re.I)
# A short question whose "that"/"it" stands for something said before, and that names no order of theirs.
_POINTS_BACK = re.compile(r"^(?=.{0,60}$)(?=.*\b(that|it|this|those|they|them|there)\b)(?!.*(\bmy\b|\border\b|\d{3,})).*$",
                          re.I | re.S)
# The handlers whose reply is a knowledge section (bot/handlers/answer.py, order_problem.py): what a
# "that" right after points back at.
ANSWERING_ACTIONS = frozenset({"answer", "order_problem"})


@dataclass(frozen=True, slots=True)
class Context:
    recent_turns: tuple[TurnRecord, ...]  # records, not rows: stages read the store, never write through it
    memories: list[Memory]
    knowledge: list[KnowledgeHit]
    open_handoff: HandoffRecord | None
    insights: Insights
    # The order this message is about: named in it, else named earlier in the conversation.
    order: OrderSummary | None
    order_named_now: bool  # this very message names an order or one of its products
    # What this conversation is about so far (order, product, topic, misses in a row).
    state: DialogueState = field(default_factory=DialogueState)
    # This message's words name one of their orders or its products, with or without "my" ("the kettle one").
    order_in_text: bool = False

    def brief(self, budget: int) -> str:
        """Insights, recent turns and memories as text within ``budget`` characters, however long
        the history: built only when a composer asks for it, not on every turn."""
        return brief(self.insights, self.recent_turns, self.memories, budget)

    @property
    def returning(self) -> bool:
        """Known from before this conversation: orders, tickets or earlier conversations."""
        return self.insights.known and not self.recent_turns


class Recall:
    def __init__(
        self,
        log: ConversationLog,
        memory: CustomerMemory,
        knowledge: KnowledgeBase,
        insights: InsightBuilder,
        recent_turns: int,
        memories: int,
        admins: set[str],
        granularity: str = "thread",
        dialogue: DialogueStore | None = None,
    ) -> None:
        self._granularity = granularity
        self._dialogue = dialogue
        # The retrieval module's search takes the query's words too (lexical + dense) where it can.
        self._with_text = "text" in inspect.signature(knowledge.search).parameters
        # ... and the asker, whose own answer votes apply to them at once (bot/learning).
        self._with_asker = "customer_id" in inspect.signature(knowledge.search).parameters
        self._log = log
        self._memory = memory
        self._knowledge = knowledge
        self._insights = insights
        self._recent = recent_turns
        self._memories = memories
        self._admins = admins

    async def __call__(self, inbound: Inbound, customer: CustomerRecord, understanding: Understanding) -> Context:
        assert customer.id is not None
        staff = not inbound.external and f"{inbound.platform}:{inbound.user_id}" in self._admins
        history = inbound.conversation.scope(self._granularity, inbound.user_id)
        # Independent look-ups: run them side by side, the embedding computed once is shared.
        words: dict[str, object] = {"text": understanding.text} if self._with_text else {}
        if self._with_asker:
            words["customer_id"] = customer.id
        recent, memories, hits, handoff, insights, state = await asyncio.gather(
            self._log.recent(history, customer.id, self._recent),
            # Hybrid: the message's words too, so an order number or a product name said before is found.
            self._memory.recall(customer.id, understanding.embedding, self._memories, text=understanding.text),
            self._knowledge.search(understanding.embedding, limit=3, include_internal=staff, **words),
            self._log.open_handoff(inbound.conversation, customer.id),
            self._insights.build(customer, exclude_conversation=history),
            self._state(history, customer.id),
        )
        if _follows_an_answer(understanding, state) and hasattr(self._knowledge, "search_follow_up"):
            again = await self._knowledge.search_follow_up(understanding.as_read, state.topic_source, limit=3,
                                                           include_internal=staff, customer_id=customer.id)
            hits = again if again is not None else hits
        earlier = [t.text for t in recent if t.role == TurnRole.CUSTOMER]
        orders = insights.orders or insights.recent_orders
        named_now = mentioned_order(understanding.text, orders)
        # The order under discussion: named now, else the dialogue state's, else named earlier.
        discussed = find_order(state.order_id, orders) if state.order_id else None
        return Context(
            recent_turns=recent,
            memories=memories,
            knowledge=hits,
            open_handoff=handoff,
            insights=insights,
            order=named_now or discussed or named_earlier(earlier, orders),
            # "my desk lamp" is about an order; "do you have a desk lamp?" is about the catalog.
            order_named_now=named_now is not None and bool(_POSSESSIVE.search(understanding.text)),
            state=state,
            order_in_text=named_now is not None,
        )

    async def _state(self, history: str, customer_id: int) -> DialogueState:
        if self._dialogue is None:
            return DialogueState(history)
        return await self._dialogue.load(history, customer_id)


def _follows_an_answer(understanding: Understanding, state: DialogueState) -> bool:
    """A short question that points back ("how long does that take?", "is it free?") right after a
    knowledge answer: it asks about what that answer was about ("thanks, that helps" asks nothing)."""
    return bool(state.topic_source and state.last_action in ANSWERING_ACTIONS and not understanding.is_thanks
                and _POINTS_BACK.match(understanding.text))


def brief(insights: Insights, recent: tuple[TurnRecord, ...], memories: list[Memory], budget: int) -> str:
    """What a composer should know, most important first, cut to ``budget`` characters.

    Insights come first (they are already summaries), then the conversation's latest turns
    (newest kept), then the recalled memories (most similar kept).
    """
    sections: list[str] = []
    remaining = budget

    def take(line: str) -> bool:
        nonlocal remaining
        if len(line) + 1 > remaining:
            return False
        sections.append(line)
        remaining -= len(line) + 1
        return True

    for line in insights.lines():
        if not take(f"- {line}"):
            break
    turns = [f"{t.role}: {t.text}" for t in reversed(recent)]
    kept = []
    for line in turns:
        if len(line) + 1 > remaining:
            break
        kept.append(line)
        remaining -= len(line) + 1
    sections.extend(reversed(kept))
    for memory in memories:
        if not take(f"earlier ({memory.at[:10]}): {memory.text}"):
            break
    return "\n".join(sections)
