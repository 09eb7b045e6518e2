"""5. recommend: products that fit this customer and this moment — never to someone upset or waiting for a person."""

from __future__ import annotations

from bot.config import Recommendations, Thresholds
from bot.recommend.advisor import ProductAdvisor
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.tables import Customer
from bot.types import Recommendation, SentimentLabel


class Recommend:
    def __init__(self, advisor: ProductAdvisor, rules: Recommendations, thresholds: Thresholds) -> None:
        self._advisor = advisor
        self._rules = rules
        self._thresholds = thresholds

    async def __call__(self, customer: Customer, understanding: Understanding, context: Context) -> list[Recommendation]:
        if not self._rules.enabled or self._rules.max_per_reply == 0 or customer.id is None:
            return []
        # Fix the problem first: no selling to someone who is upset or waiting for a person.
        upset = (understanding.sentiment.label is SentimentLabel.NEGATIVE
                 or understanding.sentiment.score <= self._thresholds.negative_sentiment)
        if upset or context.open_handoff is not None:
            return []
        if understanding.wants_human or understanding.is_greeting or understanding.is_thanks or understanding.command:
            return []
        owned = context.insights.owned_skus
        matches = self._advisor.matches(understanding.embedding, self._thresholds.product_min_similarity)
        if understanding.asks_recommendation or matches:
            # A question about products: the best fits ranked for this customer; "what do you
            # recommend?" with nothing specific in it: this customer's own picks.
            return await self._advisor.suggest(customer.id, owned, query=understanding.embedding if matches else None,
                                               matches=matches or None)
        if self._rules.cross_sell_after_orders and (understanding.asks_order_status or understanding.mentions_order):
            return await self._advisor.suggest(customer.id, owned, limit=min(2, self._rules.max_per_reply))
        return []

    def learn(self, customer_id: int, sku: str, positive: bool) -> None:
        self._advisor.learn(customer_id, sku, positive)
