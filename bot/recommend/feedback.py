"""Learning from accepted and rejected suggestions.

Counts of accepts and rejects are kept per (user, item), per (user, category), per item and per
category (the last two pooled over customers, one vote per customer and item). Each scope turns
its counts into a factor around 1.0 (see :class:`~bot.recommend.types.FeedbackConfig`); a
customer who keeps turning down one category sees its items pushed down for them, and an item or
category that everyone turns down sinks a little for everybody.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bot.recommend.types import FeedbackConfig, ItemId, UserId

Counts = list[int]  # [accepts, rejects]


class FeedbackModel:
    def __init__(self, config: FeedbackConfig | None = None) -> None:
        self.config = config or FeedbackConfig()
        self._user_item: dict[UserId, dict[ItemId, Counts]] = {}
        self._user_category: dict[UserId, dict[str, Counts]] = {}
        self._item: dict[ItemId, Counts] = {}
        self._category: dict[str, Counts] = {}

    def record(self, user_id: UserId, item_id: ItemId, category: str | None, positive: bool) -> None:
        """Count one answer. The pooled scopes (item, category) take one vote per customer and
        item, the first, so one customer saying no again and again cannot sink an item or a
        category for everybody; their own scopes count every answer."""
        slot = 0 if positive else 1
        per_item = self._user_item.setdefault(user_id, {})
        first_time = item_id not in per_item
        per_item.setdefault(item_id, [0, 0])[slot] += 1
        if first_time:
            self._item.setdefault(item_id, [0, 0])[slot] += 1
        if category is not None:
            self._user_category.setdefault(user_id, {}).setdefault(category, [0, 0])[slot] += 1
            if first_time:
                self._category.setdefault(category, [0, 0])[slot] += 1

    def factor(self, counts: Counts | None, exponent: float, pooled: bool = False) -> float:
        """One scope's factor from its [accepts, rejects]; ``pooled`` for the global scopes."""
        if counts is None or exponent == 0:
            return 1.0
        accepts, rejects = counts
        p = self.config.prior_accept_rate
        a = self.config.global_prior_strength if pooled else self.config.prior_strength
        rate = (accepts + a * p) / (accepts + rejects + a)
        return float((rate / p) ** exponent)

    def multiplier(self, user_id: UserId, item_id: ItemId, category: str | None) -> float:
        """The clipped product of all scopes' factors for this user and item."""
        c = self.config
        value = self.factor(self._user_item.get(user_id, {}).get(item_id), c.user_item)
        value *= self.factor(self._item.get(item_id), c.item, pooled=True)
        if category is not None:
            value *= self.factor(self._user_category.get(user_id, {}).get(category), c.user_category)
            value *= self.factor(self._category.get(category), c.category, pooled=True)
        return float(np.clip(value, c.min_multiplier, c.max_multiplier))

    def multiplier_vector(
        self,
        user_id: UserId,
        item_index: Mapping[ItemId, int],
        category_items: Mapping[str, np.ndarray],
        n_items: int,
    ) -> np.ndarray | None:
        """Multipliers for all items at once (``None`` when no feedback applies to this user).

        Only items and categories that received feedback are touched, so the cost grows with
        the feedback, not with the catalog.
        """
        c = self.config
        user_items = self._user_item.get(user_id, {})
        user_categories = self._user_category.get(user_id, {})
        if not (user_items or user_categories or self._item or self._category):
            return None
        out = np.ones(n_items, dtype=np.float64)
        for category in set(user_categories) | set(self._category):
            members = category_items.get(category)
            if members is None or members.size == 0:
                continue
            f = self.factor(user_categories.get(category), c.user_category)
            f *= self.factor(self._category.get(category), c.category, pooled=True)
            out[members] *= f
        for item_id in set(user_items) | set(self._item):
            idx = item_index.get(item_id)
            if idx is None:
                continue
            f = self.factor(user_items.get(item_id), c.user_item) * self.factor(
                self._item.get(item_id), c.item, pooled=True
            )
            out[idx] *= f
        np.clip(out, c.min_multiplier, c.max_multiplier, out=out)
        return out

    @property
    def empty(self) -> bool:
        return not (self._item or self._category)

    # -- persistence: the caller stores this where it likes ---------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly state: lists of ``[keys..., accepts, rejects]`` rows per scope."""
        return {
            "user_item": [[u, i, *n] for u, table in self._user_item.items() for i, n in table.items()],
            "user_category": [[u, k, *n] for u, table in self._user_category.items() for k, n in table.items()],
            "item": [[i, *n] for i, n in self._item.items()],
            "category": [[k, *n] for k, n in self._category.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], config: FeedbackConfig | None = None) -> FeedbackModel:
        model = cls(config)
        for u, i, acc, rej in data.get("user_item", []):
            model._user_item.setdefault(u, {})[i] = [int(acc), int(rej)]
        for u, k, acc, rej in data.get("user_category", []):
            model._user_category.setdefault(u, {})[k] = [int(acc), int(rej)]
        for i, acc, rej in data.get("item", []):
            model._item[i] = [int(acc), int(rej)]
        for k, acc, rej in data.get("category", []):
            model._category[k] = [int(acc), int(rej)]
        return model
