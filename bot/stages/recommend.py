"""5. recommend: in-stock products that fit this message, never to an unhappy customer."""

from __future__ import annotations

from bot.config import Recommendations, Thresholds
from bot.knowledge.search import KnowledgeBase
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.tables import Customer
from bot.types import Recommendation


class Recommend:
    def __init__(self, knowledge: KnowledgeBase, rules: Recommendations, thresholds: Thresholds) -> None:
        self._knowledge = knowledge
        self._rules = rules
        self._thresholds = thresholds

    async def __call__(self, customer: Customer, understanding: Understanding, context: Context) -> list[Recommendation]:
        if not self._rules.enabled or self._rules.max_per_reply == 0:
            return []
        # Fix the problem first: no selling to someone who is upset or waiting for a person.
        if understanding.sentiment.score <= self._thresholds.negative_sentiment or context.open_handoff:
            return []
        if understanding.wants_human or understanding.is_greeting or understanding.is_thanks:
            return []
        hits = await self._knowledge.products(understanding.embedding, limit=self._rules.max_per_reply * 3, in_stock_only=True)
        excluded = {c.lower() for c in self._rules.exclude_categories}
        picked = [
            Recommendation(
                sku=h.sku,
                name=h.name,
                price=h.price,
                reason=f"matches what you asked about ({h.category})",
                score=round(h.similarity, 4),
            )
            for h in hits
            if h.similarity >= self._thresholds.product_min_similarity and h.category not in excluded
        ]
        return picked[: self._rules.max_per_reply]
