"""Product suggestions for one customer in one conversation: the hybrid recommender plus the
shop's rules (stock, ownership, exclusions, boosts), each suggestion with a reason from the
customer's own data.

:meth:`ProductAdvisor.suggest_for` reads the question first: a stated need ("for my dad who loves
cooking", "something for my new puppy") decides which products are candidates at all, a stated
budget is never exceeded, and purchase history only orders what fits. When nothing fits it says so
(:class:`Suggestions` with a ``no_match_reason``) instead of falling back to history."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from sqlmodel import col, select

from bot.config import Recommendations as Rules
from bot.embedder import Embedder, embed_async
from bot.knowledge.catalog import Product
from bot.knowledge.catalog_index import CatalogIndex
from bot.knowledge.products import stem_word, text_words
from bot.recommend.hybrid import HybridRecommender
from bot.recommend.needs import ShopperNeed, read_need
from bot.recommend.types import BlendWeights, Interaction, ItemInfo, ReasonKind, RecommenderConfig, Scored
from bot.store.database import Database
from bot.store.tables import FeedbackRecord, Order, OrderLine, ProductEvent
from bot.store.vectors import VectorCollection
from bot.types import FeedbackKind, Recommendation

# Browsing event types and the interaction kind each counts as.
EVENT_KINDS = {"cart": "cart", "wishlist": "cart", "view": "view"}

# How a stated need picks candidates. A need word in a product's name, tags or category counts in
# full, in its description half; a product also fits when its MiniLM vector is this close to the
# need ("new puppy" → the starter kit at 0.51) and within NEED_SEMANTIC_SPREAD of the closest one.
# Below the floor nothing fits: "something for my cat" is 0.31 from the puppy kit.
NEED_LEXICAL_FLOOR = 0.5
NEED_SEMANTIC_FLOOR = 0.35
NEED_SEMANTIC_SPREAD = 0.1
DESCRIPTION_CREDIT = 0.5
NEED_DESCRIPTION_FLOOR = 0.25  # a description word counts only when the vector is at least this close
NEED_MEANING_WEIGHT = 0.5  # among products that fit, the closer in meaning first …
CATEGORY_BONUS = 0.1  # … those in the category most fits share a little ahead …
HISTORY_WEIGHT = 0.1  # … and this customer's history and popularity only break near-ties
GIFT_TAG = "gift"


class NoMatch(StrEnum):
    NOTHING_FITS = "nothing_fits"  # no product in the catalog fits the need
    OVER_BUDGET = "over_budget"  # some fit, none within the budget
    UNAVAILABLE = "unavailable"  # some fit the need and budget, all out of stock, owned or excluded


@dataclass(frozen=True, slots=True)
class Suggestions:
    """What to suggest for one question. ``items`` empty with ``no_match`` set means: say so,
    using ``no_match_reason`` ("nothing in our catalog for knitting")."""

    items: list[Recommendation]
    need: ShopperNeed
    no_match: NoMatch | None = None
    no_match_reason: str | None = None
    fitting: list[str] = field(default_factory=list)  # SKUs that fit the need before stock and budget

    @property
    def led_by_question(self) -> bool:
        """Whether the question, not purchase history, chose the candidates."""
        return self.need.stated


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
        self._words: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # sku -> (name/tag/category, description) stems

    async def fit(self, catalog_vectors: VectorCollection) -> None:
        rows = await catalog_vectors.vectors({"kind": "product"})
        skus = [str(meta["sku"]) for _, _, _, meta in rows]
        matrix = np.stack([vector for _, vector, _, _ in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
        self.vectors = CatalogVectors(skus, matrix)
        self._words = {sku: _product_words(p) for sku, p in self._catalog.products.items()}
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

    async def suggest_for(
        self,
        customer_id: int,
        owned: Collection[str],
        text: str,
        embedding: np.ndarray | None = None,
        embedder: Embedder | None = None,
        limit: int | None = None,
        min_similarity: float = 0.45,
    ) -> Suggestions:
        """Suggestions for ``text``, led by what it asks for.

        With a stated need, recipient or budget (see :func:`bot.recommend.needs.read_need`) the
        candidates are the products that fit it, within the budget, in stock, not owned (consumables
        excepted); history and popularity only order them. With none, this is :meth:`suggest`
        narrowed by ``embedding`` as before (``min_similarity``: ``thresholds.product_min_similarity``).
        ``embedding`` is the MiniLM vector of ``text``; ``embedder``, when given, also embeds the
        need's own words ("cooking"), which match product vectors better than the whole sentence.
        """
        need = read_need(text)
        limit = self._rules.max_per_reply if limit is None else limit
        if not need.stated:
            matches = self.matches(embedding, min_similarity) if embedding is not None else {}
            items = await self.suggest(customer_id, owned, query=embedding if matches else None,
                                       matches=matches or None, limit=limit)
            return Suggestions(items, need)
        if self._model is None or limit <= 0:
            return Suggestions([], need)
        need_vector = embedding
        if need.topic and embedder is not None and need.topic != text.strip().lower():
            need_vector = (await embed_async(embedder, [need.topic]))[0]
        fitting = self._fitting(need, [v for v in (embedding, need_vector) if v is not None])
        if need.topic and not fitting:
            return Suggestions([], need, NoMatch.NOTHING_FITS, f"nothing in our catalog for {need.topic}")
        pool = fitting or {sku: 0.0 for sku in self._catalog.products}
        affordable = {sku: v for sku, v in pool.items()
                      if need.budget is None or need.budget.allows(self._catalog.products[sku].price)}
        if not affordable and need.budget is not None:
            what = f"nothing for {need.topic}" if need.topic else "nothing"
            return Suggestions([], need, NoMatch.OVER_BUDGET, f"{what} {need.budget.describe()} in our catalog",
                               list(fitting))
        candidates = {sku: v for sku, v in affordable.items() if self._available(self._catalog.products[sku], owned)}
        if not candidates:
            what = f"for {need.describe()}" if need.describe() else "that fits"
            return Suggestions([], need, NoMatch.UNAVAILABLE,
                               f"everything we have {what} is out of stock or already yours", list(fitting))
        if not need.topic and (need.recipient or need.gift):
            # A gift with nothing more said: the shop's gift picks first.
            candidates = {sku: v + (1.0 if GIFT_TAG in self._catalog.products[sku].tags else 0.0)
                          for sku, v in candidates.items()}
        ranked = await self._rank(customer_id, candidates, need_vector if need.topic else None)
        items = [self._explain_need(s, owned, need, candidates[s.item_id]) for s in ranked[:limit]]
        return Suggestions(items, need, fitting=list(fitting))

    def _available(self, product: Product, owned: Collection[str]) -> bool:
        excluded = {c.lower() for c in self._rules.exclude_categories}
        return product.in_stock and product.category not in excluded and (product.sku not in owned or product.consumable)

    def _fitting(self, need: ShopperNeed, vectors: list[np.ndarray]) -> dict[str, float]:
        """SKU → how well it fits the need's words (1 = every word in its name, tags or category)."""
        if not need.stems:
            return {}
        similarity: dict[str, float] = {}
        for vector in vectors:
            for sku, value in self.vectors.similarity(vector).items():
                similarity[sku] = max(similarity.get(sku, -1.0), value)
        best = max(similarity.values(), default=0.0)
        fits: dict[str, float] = {}
        for sku, (strong, weak) in self._words.items():
            meaning = similarity.get(sku, 0.0)
            # A word only in the description ("knit upper" for "knitting") counts when the meaning agrees.
            weak_credit = DESCRIPTION_CREDIT if meaning >= NEED_DESCRIPTION_FLOOR else 0.0
            share = sum(1.0 if s in strong else weak_credit if s in weak else 0.0 for s in need.stems) / len(need.stems)
            close = meaning >= NEED_SEMANTIC_FLOOR and meaning >= best - NEED_SEMANTIC_SPREAD
            if share >= NEED_LEXICAL_FLOOR or close:
                fits[sku] = max(share, meaning if close else 0.0) + NEED_MEANING_WEIGHT * max(meaning, 0.0)
        # The category most of the fitting products share leads ("cooking": kitchen before the camp stove).
        categories = Counter(self._catalog.products[sku].category for sku in fits)
        if categories:
            top, count = categories.most_common(1)[0]
            if count > 1:
                fits = {sku: v + (CATEGORY_BONUS if self._catalog.products[sku].category == top else 0.0)
                        for sku, v in fits.items()}
        return fits

    async def _rank(self, customer_id: int, fit: Mapping[str, float], query: np.ndarray | None) -> list[Scored]:
        """Best first by fit; the hybrid recommender's score (history, popularity) breaks near-ties."""
        assert self._model is not None
        scored = await asyncio.to_thread(self._model.recommend, customer_id, k=len(fit), query_vector=query,
                                         allowed=set(fit), exclude_owned=False)
        top = max((s.score for s in scored), default=0.0) or 1.0
        boosts = self._rules.boosts
        def order(s: Scored) -> float:
            return (fit[s.item_id] + HISTORY_WEIGHT * s.score / top) * boosts.get(s.item_id, 1.0)
        return sorted(scored, key=order, reverse=True)

    def _explain_need(self, scored: Scored, owned: Collection[str], need: ShopperNeed, fit: float) -> Recommendation:
        base = self._explain(scored, owned, 0.0)
        if need.topic:
            reason = f"fits what you asked for: {need.describe()}"
        elif (need.recipient or need.gift) and GIFT_TAG in self._catalog.products[scored.item_id].tags:
            reason = "one of our gift picks" + (f", {need.budget.describe()}" if need.budget else "")
        else:
            reason = base.reason + (f" ({need.budget.describe()})" if need.budget else "")
        return Recommendation(sku=base.sku, name=base.name, price=base.price, reason=reason, score=base.score,
                              similarity=round(min(fit, 1.0), 4))

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


def _product_words(product: Product) -> tuple[frozenset[str], frozenset[str]]:
    """Stems of a product's name, tags and category (strong), and of its description (weak)."""
    strong = [product.name, product.category, *product.tags]
    return (frozenset(stem_word(w) for text in strong for w in text_words(text)),
            frozenset(stem_word(w) for w in text_words(product.description)))
