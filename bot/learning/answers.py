"""Answers that learn from votes: records a customer's 👍/👎 on the section they were answered with,
and re-ranks knowledge search for later questions (the scorer is ``bot.learning.scorer``).

All votes live in memory (``VoteBook``) so a turn costs a few numpy passes and no embedding; the
book re-reads SQL when the table changed (checked at most every ``refresh_every`` seconds), so a
vote taken by another process counts here too, and a /forget there drops its votes here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from bot.config import Learning
from bot.embedder import Embedder, embed_async
from bot.learning.scorer import LearningRules, SectionKey, VoteBook
from bot.store.records import TurnRecord
from bot.store.statuses import TurnRole
from bot.store.votes import CastVote, VoteStore

if TYPE_CHECKING:
    from bot.knowledge.search import KnowledgeBase, KnowledgeHit

log = logging.getLogger("rapport.learning")
# Replies that carry a knowledge section to vote on: an answer, and the next-best answer offered after a 👎.
ANSWER_ACTIONS = frozenset({"answer", "unhelpful"})
VOTE_ACTIONS = frozenset({"helpful", "unhelpful"})  # a customer message that is a verdict, not a question
SEARCH_POOL = 10  # sections looked at to find which one an answered turn gave


@dataclass(frozen=True, slots=True)
class AnsweredQuestion:
    """A knowledge answer the customer may vote on: their question and the pages the reply cited."""

    question: str
    sources: tuple[str, ...]
    conversation: str
    message_id: str  # the customer's message the answer replied to
    reply: str = ""  # the answer's text: it names its section ("Source: Returns — How do I start a return?")


def last_answer(turns: Sequence[TurnRecord]) -> AnsweredQuestion | None:
    """The latest knowledge answer in a conversation's recent turns (oldest first), with the question it
    answered: the customer's last message before it that was not itself a vote ("👎" asks nothing)."""
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        if turn.role == TurnRole.BOT and turn.action in ANSWER_ACTIONS and turn.sources:
            asked = next((t for t in reversed(turns[:i]) if t.role == TurnRole.CUSTOMER and t.action not in VOTE_ACTIONS), None)
            if asked is None:
                return None
            return AnsweredQuestion(asked.text, turn.sources, turn.conversation, asked.message_id, turn.text)
    return None


class AnswerLearning:
    def __init__(self, store: VoteStore, rules: LearningRules, embedder: Embedder,
                 refresh_every: float = 2.0) -> None:
        self.rules = rules
        self.book = VoteBook(rules, embedder.dimension)
        self._store = store
        self._embedder = embedder
        self._knowledge: KnowledgeBase | None = None
        self._refresh_every = refresh_every
        self._checked = 0.0
        self._version: tuple[int, int, str] | None = None
        self._refreshing = asyncio.Lock()

    def attach(self, knowledge: KnowledgeBase) -> None:
        """The knowledge base whose search this re-ranks (and which finds the section a vote is on)."""
        self._knowledge = knowledge
        knowledge.learning = self

    async def load(self) -> None:
        """Read every vote (start-up); later reads happen only when the table changed."""
        async with self._refreshing:
            self._version = await self._store.version()
            self.book.replace_all(await self._store.all())
            self._checked = time.monotonic()

    async def _fresh(self) -> None:
        if time.monotonic() - self._checked < self._refresh_every:
            return
        async with self._refreshing:
            if time.monotonic() - self._checked < self._refresh_every:
                return
            version = await self._store.version()
            if version != self._version:
                self.book.replace_all(await self._store.all())
                self._version = version
            self._checked = time.monotonic()

    async def rerank(self, query: np.ndarray, scored: Sequence[tuple[float, SectionKey]],
                     customer_id: int | None) -> list[tuple[float, SectionKey]]:
        """The search hook: candidates' scores moved by the votes that apply to this customer."""
        await self._fresh()
        return self.book.rerank(query, scored, customer_id, datetime.now(UTC))

    async def vote(self, customer_id: int, answered: AnsweredQuestion, polarity: int) -> KnowledgeHit | None:
        """Record the customer's vote on the section that answered ``answered``; that section, or None
        when it can no longer be found (the page changed since)."""
        if self._knowledge is None or not answered.question.strip():
            return None
        # Embedded once, here, off the event loop: the turn's own vector was not kept.
        question = (await embed_async(self._embedder, [answered.question]))[0]
        hits = await self._knowledge.search(question, limit=SEARCH_POOL, text=answered.question, learn=False)
        # The turn stores pages, not sections: of the page's sections, the one the reply names, else the closest.
        cited = [h for h in hits if h.source in answered.sources]
        hit = next((h for h in cited if h.section and h.section in answered.reply), cited[0] if cited else None)
        if hit is None:
            return None
        vote = await self._store.cast(CastVote(customer_id, (hit.source, hit.chunk), hit.section or hit.title,
                                               1 if polarity > 0 else -1, question, answered.conversation,
                                               answered.message_id))
        self.book.add(vote)
        log.info("answer vote", extra={"customer_id": customer_id, "polarity": vote.polarity, "chunk": hit.chunk})
        return hit

    async def alternatives(self, customer_id: int, answered: AnsweredQuestion, excluded: KnowledgeHit | None,
                           limit: int = 2) -> list[KnowledgeHit]:
        """The next-best sections for the question, for this customer, without the one they rejected."""
        if self._knowledge is None:
            return []
        question = (await embed_async(self._embedder, [answered.question]))[0]
        hits = await self._knowledge.search(question, limit=limit + 3, text=answered.question, customer_id=customer_id)
        if excluded is not None:
            return [h for h in hits if (h.source, h.chunk) != (excluded.source, excluded.chunk)][:limit]
        return [h for h in hits if h.source not in answered.sources][:limit]

    async def answered(self, customer_id: int, message_id: str) -> AnsweredQuestion | None:
        """The knowledge answer to the customer's message ``message_id`` (what a 👍/👎 button rates)."""
        return last_answer(await self._store.answered(customer_id, message_id))

    def forget(self, customer_id: int) -> None:
        self.book.forget(customer_id)


def rules_from(config: Learning) -> LearningRules:
    return LearningRules(agree=config.agree, half_life_days=config.half_life_days, similarity=config.similarity,
                         shift=config.shift, own_shift=config.own_shift)


def last_reply_answered(turns: Sequence[TurnRecord]) -> bool:
    """Whether the bot's latest reply in these turns was a knowledge answer: "that's wrong" after an
    order status is about the order, and only after an answer is it a verdict on the answer."""
    last = next((t for t in reversed(turns) if t.role == TurnRole.BOT), None)
    return last is not None and last.action in ANSWER_ACTIONS and bool(last.sources)


def rates_last_answer(text: str, vote: int, sign: int, turns: Sequence[TurnRecord]) -> bool:
    """Whether a message with this ``vote`` (+1 / -1 / 0) is a vote of ``sign`` on the last answer: a thumb
    or a command always is; words only right after a knowledge answer ("that's wrong" after an order
    status is about the order)."""
    return vote * sign > 0 and (explicit_vote(text) or last_reply_answered(turns))


def explicit_vote(text: str) -> bool:
    """A thumb or /helpful, /unhelpful: a vote whatever the bot said last (words need an answer before)."""
    stripped = text.lstrip()
    return stripped.startswith(("/", "👍", "👎"))
