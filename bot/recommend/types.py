"""Typed inputs and outputs of the recommender core.

Everything here is plain data: the caller (the bot's stores, an evaluation script, a test)
builds these from whatever it keeps, and the recommender never touches a database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

UserId = str | int
ItemId = str | int

#: Default strength of each kind of implicit interaction. A purchase is the clearest signal.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = MappingProxyType({"purchase": 1.0, "cart": 0.5, "view": 0.2})


@dataclass(frozen=True, slots=True)
class Interaction:
    """One implicit event: a customer bought, carted or viewed an item.

    ``timestamp`` orders a customer's events (any monotonic number: epoch seconds, a counter);
    events with equal timestamps keep the order they were given in. ``weight`` overrides the
    weight of ``kind`` for this one event.
    """

    user_id: UserId
    item_id: ItemId
    kind: str = "purchase"
    timestamp: float = 0.0
    weight: float | None = None


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """One catalog item. Unavailable items (out of stock, retired) are never recommended."""

    item_id: ItemId
    category: str | None = None
    available: bool = True


class ReasonKind(StrEnum):
    """Why an item was suggested: the signal that contributed most to its score."""

    #: Customers who bought/carted/viewed ``because_item`` (which you did) also took this one.
    CO_INTERACTION = "co_interaction"
    #: Its content embedding is close to the query of this conversation.
    SIMILAR_TO_QUERY = "similar_to_query"
    #: Its content embedding is close to ``because_item`` from your history.
    SIMILAR_TO_HISTORY = "similar_to_history"
    #: Popular in a category (``category``) that you buy from.
    POPULAR_IN_CATEGORY = "popular_in_category"
    #: Popular overall: the cold-start fallback.
    POPULAR = "popular"


@dataclass(frozen=True, slots=True)
class Scored:
    """One suggestion. ``score`` is comparable within one call only."""

    item_id: ItemId
    score: float
    reason_kind: ReasonKind
    because_item: ItemId | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class BlendWeights:
    """How much each signal counts; each signal is scaled to [0, 1] per request first."""

    collaborative: float = 1.0
    content: float = 0.3
    popularity: float = 0.1

    def __post_init__(self) -> None:
        for name in ("collaborative", "content", "popularity"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"blend weight {name} must be a finite number >= 0, got {value!r}")
        if self.collaborative + self.content + self.popularity <= 0:
            raise ValueError("at least one blend weight must be positive")

    @classmethod
    def from_mapping(cls, data: Mapping[str, float]) -> BlendWeights:
        """Build from a config mapping such as ``{"collaborative": 1, "content": 0.3}``."""
        unknown = set(data) - {"collaborative", "content", "popularity"}
        if unknown:
            raise ValueError(f"unknown blend weight(s): {', '.join(sorted(unknown))}")
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class FeedbackConfig:
    """How accepted/rejected suggestions turn into score multipliers.

    Each scope keeps counts of accepts and rejects. Its multiplier is the smoothed acceptance
    rate ``(accepts + prior_strength * prior_accept_rate) / (shown + prior_strength)`` divided by
    ``prior_accept_rate``, raised to the scope's exponent: 1.0 with no feedback, below 1 after
    rejections, above 1 after acceptances. The pooled scopes (item, category) use
    ``global_prior_strength`` instead, so one customer's rejections barely move them. The
    product over scopes is clipped to [``min_multiplier``, ``max_multiplier``].
    """

    prior_accept_rate: float = 0.5
    prior_strength: float = 3.0
    #: the item and category scopes pool every customer's feedback, so they need more of it
    global_prior_strength: float = 20.0
    user_item: float = 1.5
    user_category: float = 0.8
    item: float = 0.5
    category: float = 0.25
    min_multiplier: float = 0.02
    max_multiplier: float = 3.0

    def __post_init__(self) -> None:
        if not 0 < self.prior_accept_rate < 1:
            raise ValueError("prior_accept_rate must be in (0, 1)")
        if self.prior_strength <= 0 or self.global_prior_strength <= 0:
            raise ValueError("prior_strength and global_prior_strength must be > 0")
        if not 0 < self.min_multiplier <= 1 <= self.max_multiplier:
            raise ValueError("need 0 < min_multiplier <= 1 <= max_multiplier")
        for name in ("user_item", "user_category", "item", "category"):
            if getattr(self, name) < 0:
                raise ValueError(f"feedback exponent {name} must be >= 0")


@dataclass(frozen=True, slots=True)
class RecommenderConfig:
    """Settings of :class:`~bot.recommend.hybrid.HybridRecommender`.

    ``collaborative_model``: ``"ease"`` (EASE^R, a closed-form item-item model; best quality, needs
    an items x items dense matrix), ``"itemknn"`` (sparse cosine item-item neighbours from
    ``implicit``; for large catalogs) or ``"auto"`` (EASE^R up to ``ease_max_items`` items).

    ``recency_half_life``: a customer's events count half as much every this many newer events
    (``None``: all events count alike). ``owned_kinds``: kinds of interaction after which the
    item is never suggested again to that customer (by default: bought).
    """

    weights: BlendWeights = field(default_factory=BlendWeights)
    kind_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    collaborative_model: str = "auto"
    ease_l2: float = 250.0
    ease_max_items: int = 8000
    knn_neighbours: int = 100
    recency_half_life: float | None = 8.0
    category_prior_smoothing: float = 1.0
    owned_kinds: frozenset[str] = frozenset({"purchase"})
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)

    def __post_init__(self) -> None:
        if self.collaborative_model not in {"auto", "ease", "itemknn"}:
            raise ValueError(f"collaborative_model must be auto, ease or itemknn, not {self.collaborative_model!r}")
        if self.ease_l2 <= 0:
            raise ValueError("ease_l2 must be > 0")
        if self.knn_neighbours < 1:
            raise ValueError("knn_neighbours must be >= 1")
        if self.recency_half_life is not None and self.recency_half_life <= 0:
            raise ValueError("recency_half_life must be > 0 or None")
        if self.category_prior_smoothing < 0:
            raise ValueError("category_prior_smoothing must be >= 0")
        for kind, weight in self.kind_weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"kind weight for {kind!r} must be a finite number >= 0")
