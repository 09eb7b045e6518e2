"""5. recommend: products that fit this customer and this moment — never to someone upset or waiting for a person.

A question that asks for something ("a gift for my dad who loves cooking") is read by the advisor
first: what it asks for picks the candidates, history only orders them, and when nothing fits the
picks say why (``no_match_reason``) instead of falling back to history."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import Recommendations, Thresholds
from bot.embedder import Embedder
from bot.recommend.advisor import ProductAdvisor
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.records import CustomerRecord
from bot.types import Recommendation, SentimentLabel


@dataclass(frozen=True, slots=True)
class Picks:
    items: list[Recommendation] = field(default_factory=list)
    no_match_reason: str = ""  # "nothing in our catalog for knitting": say so
    led_by_question: bool = False  # a stated need or recipient chose the candidates


class Recommend:
    def __init__(self, advisor: ProductAdvisor, rules: Recommendations, thresholds: Thresholds,
                 embedder: Embedder | None = None) -> None:
        self._advisor = advisor
        self._rules = rules
        self._thresholds = thresholds
        self._embedder = embedder

    async def __call__(self, customer: CustomerRecord, understanding: Understanding, context: Context) -> Picks:
        if not self._rules.enabled or self._rules.max_per_reply == 0 or customer.id is None:
            return Picks()
        # Fix the problem first: no selling to someone who is upset or waiting for a person.
        upset = (understanding.sentiment.label is SentimentLabel.NEGATIVE
                 or understanding.sentiment.score <= self._thresholds.negative_sentiment)
        if upset or context.open_handoff is not None:
            return Picks()
        if understanding.wants_human or understanding.is_greeting or understanding.is_thanks or understanding.command:
            return Picks()
        owned = context.insights.owned_skus
        if understanding.asks_recommendation:
            picks = await self._advisor.suggest_for(customer.id, owned, understanding.as_read, understanding.embedding,
                                                    self._embedder, min_similarity=self._thresholds.product_min_similarity)
            return Picks(list(picks.items), picks.no_match_reason or "", picks.led_by_question)
        matches = self._advisor.matches(understanding.embedding, self._thresholds.product_min_similarity)
        if matches:
            return Picks(await self._advisor.suggest(customer.id, owned, query=understanding.embedding, matches=matches))
        if self._rules.cross_sell_after_orders and (understanding.asks_order_status or understanding.mentions_order):
            return Picks(await self._advisor.suggest(customer.id, owned, limit=min(2, self._rules.max_per_reply)))
        return Picks()

    def learn(self, customer_id: int, sku: str, positive: bool) -> None:
        self._advisor.learn(customer_id, sku, positive)
