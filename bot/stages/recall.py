"""4. recall: what this conversation, this customer and the knowledge base say about the message."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.knowledge.search import KnowledgeBase, KnowledgeHit
from bot.stages.understand import Understanding
from bot.store.conversations import ConversationLog
from bot.store.memory import CustomerMemory, Memory
from bot.store.tables import Customer, Handoff, Turn
from bot.types import Inbound


@dataclass(frozen=True, slots=True)
class Context:
    recent_turns: list[Turn]
    memories: list[Memory]
    knowledge: list[KnowledgeHit]
    open_handoff: Handoff | None
    returning: bool  # the customer has talked to us before this conversation


class Recall:
    def __init__(
        self,
        log: ConversationLog,
        memory: CustomerMemory,
        knowledge: KnowledgeBase,
        recent_turns: int,
        memories: int,
        admins: set[str],
    ) -> None:
        self._log = log
        self._memory = memory
        self._knowledge = knowledge
        self._recent = recent_turns
        self._memories = memories
        self._admins = admins

    async def __call__(self, inbound: Inbound, customer: Customer, understanding: Understanding) -> Context:
        assert customer.id is not None
        staff = not inbound.external and f"{inbound.platform}:{inbound.user_id}" in self._admins
        # Independent look-ups: run them side by side, the embedding computed once is shared.
        recent, memories, hits, handoff = await asyncio.gather(
            self._log.recent(inbound.conversation, customer.id, self._recent),
            self._memory.recall(customer.id, understanding.embedding, self._memories),
            self._knowledge.search(understanding.embedding, limit=3, include_internal=staff),
            self._log.open_handoff(inbound.conversation),
        )
        return Context(
            recent_turns=recent,
            memories=memories,
            knowledge=hits,
            open_handoff=handoff,
            returning=not recent and bool(memories),
        )
