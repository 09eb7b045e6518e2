"""Feedback replay: does the recommender learn from customers who keep saying no?

A small synthetic shop is made from a seed: categories of items with embeddings clustered by
category, and customers whose purchase and view histories lean towards the category that they
will go on to reject. Over several rounds each customer is shown ``k`` suggestions; every
suggestion from the rejected category is turned down, any other is accepted (and bought) with
``accept_probability`` and otherwise ignored. The report gives that category's share of all
suggestions per round, with feedback learning on and, as a control, off (same customers, same
random draws), so the fall can be put down to the feedback and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.recommend.hybrid import HybridRecommender
from bot.recommend.types import BlendWeights, FeedbackConfig, Interaction, ItemInfo, RecommenderConfig

CATEGORIES = ("camping", "lighting", "kitchen", "garden", "apparel", "tools")
#: share of a customer's events in the favourite category; the rest go to one or two others
FAVOURITE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class SyntheticShop:
    items: list[ItemInfo]
    item_vectors: np.ndarray
    interactions: list[Interaction]
    customers: list[str]


def synthetic_shop(
    seed: int = 0,
    n_customers: int = 60,
    items_per_category: int = 12,
    favourite: str = "camping",
    dim: int = 16,
) -> SyntheticShop:
    """A deterministic toy catalog and history. Every customer leans to ``favourite`` plus one
    or two other categories; within a category, items follow a skewed popularity."""
    rng = np.random.default_rng(seed)
    if favourite not in CATEGORIES:
        raise ValueError(f"favourite must be one of {CATEGORIES}")
    centroids = rng.normal(size=(len(CATEGORIES), dim))
    items: list[ItemInfo] = []
    vectors = []
    members: dict[str, list[str]] = {}
    for c, category in enumerate(CATEGORIES):
        for j in range(items_per_category):
            item_id = f"{category}-{j:02d}"
            items.append(ItemInfo(item_id, category))
            vectors.append(centroids[c] + 0.5 * rng.normal(size=dim))
            members.setdefault(category, []).append(item_id)
    within = 1.0 / np.arange(1, items_per_category + 1) ** 0.8
    within /= within.sum()
    others = [c for c in CATEGORIES if c != favourite]
    interactions: list[Interaction] = []
    customers = [f"customer-{i:03d}" for i in range(n_customers)]
    for customer in customers:
        liked = [favourite, *rng.choice(others, size=int(rng.integers(1, 3)), replace=False)]
        leaning = np.array([FAVOURITE_SHARE] + [(1 - FAVOURITE_SHARE) / (len(liked) - 1)] * (len(liked) - 1))
        t = 0.0
        for _ in range(int(rng.integers(6, 12))):
            category = liked[int(rng.choice(len(liked), p=leaning))]
            item_id = members[category][int(rng.choice(items_per_category, p=within))]
            kind = str(rng.choice(["purchase", "cart", "view"], p=[0.4, 0.2, 0.4]))
            t += 1.0
            interactions.append(Interaction(customer, item_id, kind, t))
    return SyntheticShop(items, np.asarray(vectors, dtype=np.float32), interactions, customers)


def replay_rejections(
    seed: int = 0,
    rounds: int = 6,
    k: int = 5,
    n_customers: int = 60,
    rejected_category: str = "camping",
    accept_probability: float = 0.3,
    weights: BlendWeights | None = None,
    feedback: FeedbackConfig | None = None,
) -> dict[str, Any]:
    """Replay ``rounds`` rounds of ``k`` suggestions to ``n_customers`` synthetic customers who
    reject every ``rejected_category`` suggestion; report its share of suggestions per round.

    Returns ``{"rejected_category", "customers", "rounds", "k", "catalog_share",
    "share_by_round" (learning on), "control_share_by_round" (learning off),
    "rejections_by_round", "accepted_by_round"}``.
    """
    shop = synthetic_shop(seed, n_customers=n_customers, favourite=rejected_category)
    config = RecommenderConfig(weights=weights or BlendWeights(1.0, 0.3, 0.1), feedback=feedback or FeedbackConfig())
    learning = _run(shop, config, rounds, k, rejected_category, accept_probability, seed, learn=True)
    control = _run(shop, config, rounds, k, rejected_category, accept_probability, seed, learn=False)
    catalog_share = sum(1 for it in shop.items if it.category == rejected_category) / len(shop.items)
    return {
        "rejected_category": rejected_category,
        "customers": n_customers,
        "rounds": rounds,
        "k": k,
        "catalog_share": round(catalog_share, 4),
        "share_by_round": learning["share"],
        "control_share_by_round": control["share"],
        "rejections_by_round": learning["rejected"],
        "accepted_by_round": learning["accepted"],
    }


def _run(
    shop: SyntheticShop,
    config: RecommenderConfig,
    rounds: int,
    k: int,
    rejected_category: str,
    accept_probability: float,
    seed: int,
    learn: bool,
) -> dict[str, list[Any]]:
    rec = HybridRecommender(config).fit(shop.interactions, shop.items, shop.item_vectors)
    rng = np.random.default_rng([seed, 1])  # same draws in both arms
    share: list[float] = []
    rejected: list[int] = []
    accepted: list[int] = []
    clock = 1e6
    for _ in range(rounds):
        shown = in_category = n_rejected = n_accepted = 0
        answers: list[tuple[str, str, str | None, bool]] = []
        for customer in shop.customers:
            suggestions = rec.recommend(customer, k)
            draws = rng.random(k)
            for s, draw in zip(suggestions, draws, strict=False):
                shown += 1
                if s.category == rejected_category:
                    in_category += 1
                    answers.append((customer, str(s.item_id), s.category, False))
                elif draw < accept_probability:
                    answers.append((customer, str(s.item_id), s.category, True))
        # the round's answers arrive after everyone has been shown their suggestions
        for customer, item_id, category, positive in answers:
            if positive:
                n_accepted += 1
                clock += 1.0
                rec.record_interaction(Interaction(customer, item_id, "purchase", clock))
            else:
                n_rejected += 1
            if learn:
                rec.record_feedback(customer, item_id, category, positive=positive)
        share.append(round(in_category / shown, 4) if shown else 0.0)
        rejected.append(n_rejected)
        accepted.append(n_accepted)
    return {"share": share, "rejected": rejected, "accepted": accepted}
