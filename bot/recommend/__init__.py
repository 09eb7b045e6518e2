"""Rapport's recommender core: a plain library, no database code.

Build :class:`Interaction` and :class:`ItemInfo` lists from the stores, fit a
:class:`HybridRecommender`, ask it for suggestions, and tell it which were accepted.
"""

from bot.recommend.feedback import FeedbackModel
from bot.recommend.hybrid import FitStats, HybridRecommender, NotFittedError
from bot.recommend.types import (
    DEFAULT_KIND_WEIGHTS,
    BlendWeights,
    FeedbackConfig,
    Interaction,
    ItemId,
    ItemInfo,
    ReasonKind,
    RecommenderConfig,
    Scored,
    UserId,
)

__all__ = [
    "DEFAULT_KIND_WEIGHTS",
    "BlendWeights",
    "FeedbackConfig",
    "FeedbackModel",
    "FitStats",
    "HybridRecommender",
    "Interaction",
    "ItemId",
    "ItemInfo",
    "NotFittedError",
    "ReasonKind",
    "RecommenderConfig",
    "Scored",
    "UserId",
]
