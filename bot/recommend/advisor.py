"""Product suggestions for one customer in one conversation: the hybrid recommender plus the
shop's rules (stock, ownership, exclusions, boosts), each suggestion with a reason from the
customer's own data."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
from sqlmodel import col, select

from bot.config import Recommendations as Rules
from bot.knowledge.catalog_index import CatalogIndex
from bot.recommend.hybrid import HybridRecommender
from bot.recommend.types import BlendWeights, Interaction, ItemInfo, ReasonKind, RecommenderConfig, Scored
from bot.store.database import Database
from bot.store.tables import FeedbackRecord, Order, OrderLine, ProductEvent
from bot.store.vectors import VectorCollection
from bot.types import FeedbackKind, Recommendation

# Browsing event types and the interaction kind each counts as.
EVENT_KINDS = {"cart": "cart", "wishlist": "cart", "view": "view"}


@dataclass(frozen=True, slots=True)
class CatalogVectors:
    skus: list[str]
    matrix: np.ndarray  # one unit vector per SKU, same order

    def similarity(self, query: np.ndarray) -> dict[str, float]:
        if not self.skus:
            return {}
        return dict(zip(self.skus, (self.matrix @ query).tolist(), strict=True))


class ProductAdvisor:
    """Fitted once at start-up (and after imports) from orders, browsing and feedback in SQL."""

    def __init__(self, database: Database, catalog: CatalogIndex, rules: Rules) -> None:
        self._db = database
        self._catalog = catalog
        self._rules = rules
        self._model: HybridRecommender | None = None
        self.vectors = CatalogVectors([], np.zeros((0, 384), dtype=np.float32))

    async def fit(self, catalog_vectors: VectorCollection) -> None:
        rows = await catalog_vectors.vectors({"kind": "product"})
        skus = [str(meta["sku"]) for _, _, _, meta in rows]
        matrix = np.stack([vector for _, vector, _, _ in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
        self.vectors = CatalogVectors(skus, matrix)
        interactions, feedback = await self._history()
        items = [ItemInfo(sku, self._catalog.category(sku), self._catalog.products[sku].stock > 0)
                 for sku in skus if sku in self._catalog.products]
        config = RecommenderConfig(weights=BlendWeights.from_mapping(self._rules.weights))
        model = HybridRecommender(config)
        if items:
            order = {sku: i for i, sku in enumerate(skus)}
            vectors = matrix[[order[i.item_id] for i in items]]
            await asyncio.to_thread(model.fit, interactions, items, vectors)
            for customer_id, sku, positive in feedback:
                if sku in self._catalog.products:
                    model.record_feedback(customer_id, sku, self._catalog.category(sku), positive=positive)
            self._model = model

    async def _history(self) -> tuple[list[Interaction], list[tuple[int, str, bool]]]:
        async with self._db.session() as session:
            bought = (
                await session.exec(
                    select(Order.customer_id, OrderLine.sku, Order.ordered_at)
                    .join(OrderLine, col(OrderLine.order_pk) == Order.id)
                    .where(col(Order.status).not_in(["cancelled"]))
                )
            ).all()
            browsed = (
                await session.exec(
                    select(ProductEvent.customer_id, ProductEvent.target, ProductEvent.type, ProductEvent.at)
                    .where(col(ProductEvent.type).in_(list(EVENT_KINDS)))
                )
            ).all()
            reactions = (
                await session.exec(
                    select(FeedbackRecord.customer_id, FeedbackRecord.value, FeedbackRecord.kind).where(
                        col(FeedbackRecord.kind).in_(
                            [FeedbackKind.RECOMMENDATION_CLICKED.value, FeedbackKind.RECOMMENDATION_REJECTED.value]
                        )
                    )
                )
            ).all()
        interactions = [Interaction(c, sku, "purchase", at.timestamp()) for c, sku, at in bought]
        interactions += [Interaction(c, target, EVENT_KINDS[kind], at.timestamp())
                         for c, target, kind, at in browsed if target in self._catalog.products]
        feedback = [(c, sku, kind == FeedbackKind.RECOMMENDATION_CLICKED.value) for c, sku, kind in reactions]
        return interactions, feedback

    def learn(self, customer_id: int, sku: str, positive: bool) -> None:
        """A click (or 👍) on a suggestion raises it for this customer and the item; a 👎 lowers both."""
        if self._model is not None and sku in self._catalog.products:
            self._model.record_feedback(customer_id, sku, self._catalog.category(sku), positive=positive)

    def matches(self, query: np.ndarray, floor: float) -> dict[str, float]:
        """SKUs whose catalog vector is at least ``floor`` similar to the question, with that similarity."""
        return {sku: value for sku, value in self.vectors.similarity(query).items() if value >= floor}

    async def suggest(
        self,
        customer_id: int,
        owned: Collection[str],
        query: np.ndarray | None = None,
        matches: Mapping[str, float] | None = None,
        limit: int | None = None,
    ) -> list[Recommendation]:
        """In-stock items this customer does not own (consumables excepted), best first, with reasons.

        ``matches`` (from :meth:`matches`) limits the candidates to items that fit the question and
        carries their similarity, computed once by the caller.
        """
        limit = self._rules.max_per_reply if limit is None else limit
        if self._model is None or limit <= 0:
            return []
        excluded = {c.lower() for c in self._rules.exclude_categories}
        candidates = {
            sku for sku, p in self._catalog.products.items()
            if p.stock > 0 and p.category not in excluded and (sku not in owned or p.consumable)
        }
        if matches is not None:
            candidates &= set(matches)
        if not candidates:
            return []
        # Off the event loop: scoring grows with the catalog (a dense item-item product for EASE^R).
        scored = await asyncio.to_thread(self._model.recommend, customer_id, k=limit * 3, query_vector=query,
                                         allowed=candidates, exclude_owned=False)
        boosts = self._rules.boosts
        scored.sort(key=lambda s: s.score * boosts.get(s.item_id, 1.0), reverse=True)
        similarity = matches or {}
        return [self._explain(s, owned, similarity.get(s.item_id, 0.0)) for s in scored[:limit]]

    def _explain(self, scored: Scored, owned: Collection[str], similarity: float) -> Recommendation:
        product = self._catalog.products[scored.item_id]
        because = self._catalog.name(scored.because_item) if scored.because_item else ""
        verb = "bought" if scored.because_item in owned else "looked at"
        reason = {
            ReasonKind.CO_INTERACTION: f"often bought with the {because}, which you {verb}",
            ReasonKind.SIMILAR_TO_QUERY: "matches what you asked about",
            ReasonKind.SIMILAR_TO_HISTORY: f"similar to the {because} you {verb}",
            ReasonKind.POPULAR_IN_CATEGORY: f"popular in {product.category}, a category you shop",
            ReasonKind.POPULAR: "popular with our customers",
        }[scored.reason_kind]
        if scored.item_id in owned and product.consumable:
            reason = "you've bought this before — time to restock?"
        return Recommendation(sku=product.sku, name=product.name, price=product.price, reason=reason,
                              score=round(float(scored.score), 4), similarity=round(similarity, 4))
