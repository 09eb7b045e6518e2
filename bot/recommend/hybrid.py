"""The hybrid recommender: collaborative + content + popularity, bent by feedback.

Per request, for one customer:

1. *collaborative*: their history (recency-weighted, each event weighted by its kind) times a
   learned item-item matrix (EASE^R, or sparse cosine neighbours for large catalogs);
2. *content*: cosine of each item's embedding with the query vector of the conversation, or,
   without a query, with the customer's profile (the weighted mean embedding of their history);
3. *popularity*: item popularity, scaled by the customer's smoothed affinity for the item's
   category once they have a history (plain popularity for a newcomer: the cold-start prior).

Each signal is scaled to [0, 1] over the candidates, the three are blended with the configured
weights, and the result is multiplied by what feedback has taught (:mod:`bot.recommend.feedback`).
The biggest weighted signal of an item names its reason.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bot.recommend.collaborative import EASE, ItemItemModel, ItemKNN
from bot.recommend.feedback import FeedbackModel
from bot.recommend.types import (
    Interaction,
    ItemId,
    ItemInfo,
    ReasonKind,
    RecommenderConfig,
    Scored,
    UserId,
)

#: Settings that take effect without refitting (see :meth:`HybridRecommender.with_settings`).
QUERY_TIME_SETTINGS = frozenset({"weights", "recency_half_life", "category_prior_smoothing", "feedback"})


class NotFittedError(RuntimeError):
    pass


@dataclass(slots=True)
class _History:
    """One customer's events in time order."""

    items: np.ndarray  # int64 item indices
    weights: np.ndarray  # float64 kind weight of each event
    owned: np.ndarray  # bool: an owned kind (e.g. purchase)
    timestamps: np.ndarray  # float64, non-decreasing


@dataclass(frozen=True, slots=True)
class FitStats:
    users: int
    items: int
    interactions: int
    dropped_unknown_items: int
    collaborative_model: str
    seconds: float


class HybridRecommender:
    """Recommend catalog items to customers; learn from their feedback::

        rec = HybridRecommender(RecommenderConfig(weights=BlendWeights(1.0, 0.3, 0.1)))
        rec.fit(interactions, items, item_vectors)
        rec.recommend("u1", k=3, query_vector=q, exclude={"sku-9"}, allowed=in_stock)
        # [Scored(item_id='sku-2', score=1.07, reason_kind=ReasonKind.CO_INTERACTION,
        #         because_item='sku-1', category='camping'), ...]
        rec.record_feedback("u1", "sku-2", positive=False)
    """

    def __init__(self, config: RecommenderConfig | None = None, feedback: FeedbackModel | None = None) -> None:
        self.config = config or RecommenderConfig()
        self.feedback = feedback or FeedbackModel(self.config.feedback)
        self._fitted = False

    # -- training ------------------------------------------------------------------------------

    def fit(
        self,
        interactions: Iterable[Interaction],
        items: Sequence[ItemInfo],
        item_vectors: np.ndarray | None = None,
    ) -> HybridRecommender:
        """Learn from all interactions; ``items`` is the catalog, ``item_vectors`` its embeddings
        (row ``i`` belongs to ``items[i]``). Interactions with items outside the catalog are
        dropped; an interaction kind without a weight in ``config.kind_weights`` is an error."""
        started = time.perf_counter()
        cfg = self.config
        if not items:
            raise ValueError("the catalog (items) is empty")
        self._item_ids: list[ItemId] = [it.item_id for it in items]
        self._item_index: dict[ItemId, int] = {}
        for idx, item_id in enumerate(self._item_ids):
            if item_id in self._item_index:
                raise ValueError(f"duplicate item id {item_id!r}")
            self._item_index[item_id] = idx
        n_items = len(self._item_ids)
        self._categories: list[str | None] = [it.category for it in items]
        self._available = np.fromiter((it.available for it in items), dtype=bool, count=n_items)
        category_members: dict[str, list[int]] = {}
        for idx, category in enumerate(self._categories):
            if category is not None:
                category_members.setdefault(category, []).append(idx)
        self._category_items = {c: np.asarray(m, dtype=np.int64) for c, m in category_members.items()}
        self._category_names = sorted(self._category_items)
        cat_lookup = {c: j for j, c in enumerate(self._category_names)}
        # category code per item; items without one get -1
        self._item_category_code = np.asarray(
            [cat_lookup[c] if c is not None else -1 for c in self._categories], dtype=np.int64
        )

        if item_vectors is not None:
            vectors = np.asarray(item_vectors, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != n_items:
                raise ValueError(f"item_vectors must have shape ({n_items}, d), got {vectors.shape}")
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            self._vectors: np.ndarray | None = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        else:
            self._vectors = None

        # Group events per user, in time order (ties keep input order).
        per_user: dict[UserId, list[tuple[float, int, int, float, bool]]] = {}
        dropped = kept = 0
        for seq, ev in enumerate(interactions):
            idx = self._item_index.get(ev.item_id)
            if idx is None:
                dropped += 1
                continue
            weight = self._event_weight(ev)
            per_user.setdefault(ev.user_id, []).append((ev.timestamp, seq, idx, weight, ev.kind in cfg.owned_kinds))
            kept += 1
        self._histories: dict[UserId, _History] = {}
        self._user_ids: list[UserId] = []
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for row, (user_id, events) in enumerate(per_user.items()):
            events.sort(key=lambda e: (e[0], e[1]))
            hist = _History(
                items=np.fromiter((e[2] for e in events), dtype=np.int64, count=len(events)),
                weights=np.fromiter((e[3] for e in events), dtype=np.float64, count=len(events)),
                owned=np.fromiter((e[4] for e in events), dtype=bool, count=len(events)),
                timestamps=np.fromiter((e[0] for e in events), dtype=np.float64, count=len(events)),
            )
            self._histories[user_id] = hist
            self._user_ids.append(user_id)
            rows.append(np.full(len(events), row, dtype=np.int64))
            cols.append(hist.items)
            vals.append(hist.weights)
        n_users = len(self._user_ids)
        if n_users:
            coo = sp.coo_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_users, n_items)
            )
            # the strongest event per (user, item): a view followed by a purchase counts as a purchase
            user_items = _max_duplicates(coo)
        else:
            user_items = sp.csr_matrix((0, n_items), dtype=np.float64)

        model_name = cfg.collaborative_model
        if model_name == "auto":
            model_name = "ease" if n_items <= cfg.ease_max_items else "itemknn"
        self._model: ItemItemModel | None
        if n_users == 0:
            self._model = None
        elif model_name == "ease":
            self._model = EASE.fit(user_items, cfg.ease_l2)
        else:
            self._model = ItemKNN.fit(user_items, cfg.knn_neighbours)

        counts = np.asarray(user_items.sum(axis=0), dtype=np.float64).ravel()
        self._popularity = counts / counts.max() if counts.max() > 0 else np.zeros(n_items)
        # catalog-wide share of each category, the prior of a customer's category affinity
        cat_mass = np.bincount(
            self._item_category_code[self._item_category_code >= 0],
            weights=counts[self._item_category_code >= 0],
            minlength=len(self._category_names),
        )
        total = cat_mass.sum()
        self._category_prior = cat_mass / total if total > 0 else np.full(len(cat_mass), 1.0 / max(len(cat_mass), 1))
        self.stats = FitStats(
            users=n_users,
            items=n_items,
            interactions=kept,
            dropped_unknown_items=dropped,
            collaborative_model=model_name if self._model is not None else "none",
            seconds=time.perf_counter() - started,
        )
        self._fitted = True
        return self

    def _event_weight(self, ev: Interaction) -> float:
        if ev.weight is not None:
            if not math.isfinite(ev.weight) or ev.weight < 0:
                raise ValueError(f"interaction weight must be a finite number >= 0, got {ev.weight!r}")
            return float(ev.weight)
        try:
            return float(self.config.kind_weights[ev.kind])
        except KeyError:
            known = ", ".join(sorted(self.config.kind_weights))
            raise ValueError(f"unknown interaction kind {ev.kind!r} (known: {known})") from None

    def with_settings(self, **changes: object) -> HybridRecommender:
        """A recommender sharing this one's fitted model and customer histories, with other
        query-time settings (``weights``, ``recency_half_life``, ``category_prior_smoothing``,
        ``feedback``). It starts with its own, empty feedback state."""
        unknown = set(changes) - QUERY_TIME_SETTINGS
        if unknown:
            raise ValueError(f"these settings need a refit: {', '.join(sorted(unknown))}")
        clone = object.__new__(HybridRecommender)
        for name in _state_names(self):
            setattr(clone, name, getattr(self, name))
        clone.config = dataclasses.replace(self.config, **changes)  # type: ignore[arg-type]
        clone.feedback = FeedbackModel(clone.config.feedback)
        return clone

    # -- online updates --------------------------------------------------------------------------

    def record_interaction(self, interaction: Interaction) -> None:
        """Add one event to a customer's history without refitting (the learned item-item model
        stays as it is; the customer's own suggestions change at once)."""
        self._require_fitted()
        idx = self._item_index.get(interaction.item_id)
        if idx is None:
            raise KeyError(f"unknown item {interaction.item_id!r}")
        weight = self._event_weight(interaction)
        owned = interaction.kind in self.config.owned_kinds
        hist = self._histories.get(interaction.user_id)
        if hist is None:
            empty = np.empty(0, np.float64)
            hist = _History(np.empty(0, np.int64), empty, np.empty(0, bool), empty)
            self._histories[interaction.user_id] = hist
        # after every event at the same or an earlier time
        pos = int(np.searchsorted(hist.timestamps, interaction.timestamp, side="right"))
        hist.items = np.insert(hist.items, pos, idx)
        hist.weights = np.insert(hist.weights, pos, weight)
        hist.owned = np.insert(hist.owned, pos, owned)
        hist.timestamps = np.insert(hist.timestamps, pos, float(interaction.timestamp))

    def record_feedback(
        self, user_id: UserId, item_id: ItemId, category: str | None = None, positive: bool = False
    ) -> None:
        """A customer accepted (``positive=True``) or turned down a suggestion. ``category``
        defaults to the item's catalog category."""
        if category is None and self._fitted:
            idx = self._item_index.get(item_id)
            category = self._categories[idx] if idx is not None else None
        self.feedback.record(user_id, item_id, category, positive)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def item_ids(self) -> list[ItemId]:
        self._require_fitted()
        return list(self._item_ids)

    def known_user(self, user_id: UserId) -> bool:
        return self._fitted and user_id in self._histories and len(self._histories[user_id].items) > 0

    def owned_items(self, user_id: UserId) -> set[ItemId]:
        """Items this customer owns (interactions of an owned kind): never suggested to them."""
        self._require_fitted()
        hist = self._histories.get(user_id)
        if hist is None:
            return set()
        return {self._item_ids[i] for i in np.unique(hist.items[hist.owned])}

    def recommend(
        self,
        user_id: UserId,
        k: int = 10,
        query_vector: np.ndarray | None = None,
        exclude: Collection[ItemId] = frozenset(),
        allowed: Collection[ItemId] | None = None,
        exclude_owned: bool = True,
    ) -> list[Scored]:
        """The ``k`` best items for this customer, best first.

        ``query_vector``: an embedding of what they are asking about (same space as the item
        vectors), which then drives the content signal. ``exclude``: never suggest these.
        ``allowed``: suggest only these (e.g. in stock and in the conversation's scope).
        Owned items (see :meth:`owned_items`) and unavailable items are never suggested.
        Fewer than ``k`` come back when fewer candidates are left.
        """
        self._require_fitted()
        if k <= 0:
            return []
        n = len(self._item_ids)
        candidates = self._available.copy()
        if allowed is not None:
            allowed_mask = np.zeros(n, dtype=bool)
            allowed_mask[[self._item_index[i] for i in allowed if i in self._item_index]] = True
            candidates &= allowed_mask
        for item_id in exclude:
            idx = self._item_index.get(item_id)
            if idx is not None:
                candidates[idx] = False
        hist = self._histories.get(user_id)
        if exclude_owned and hist is not None and hist.owned.any():
            candidates[hist.items[hist.owned]] = False
        if not candidates.any():
            return []

        hist_idx, hist_w = self._profile(hist)
        cfg = self.config
        w = cfg.weights
        collab = content = None
        if hist_idx.size and self._model is not None and w.collaborative > 0:
            collab = _unit_scale(self._model.score(hist_idx, hist_w), candidates)
        use_query = query_vector is not None and self._vectors is not None
        if self._vectors is not None and w.content > 0 and (use_query or hist_idx.size):
            if use_query:
                q = np.asarray(query_vector, dtype=np.float32).ravel()
                if q.shape[0] != self._vectors.shape[1]:
                    raise ValueError(f"query_vector has {q.shape[0]} dimensions, item vectors {self._vectors.shape[1]}")
            else:
                q = hist_w.astype(np.float32) @ self._vectors[hist_idx]
            norm = float(np.linalg.norm(q))
            if norm > 0:
                content = _unit_scale(self._vectors @ (q / norm), candidates)
        cold = collab is None and content is None
        if hist_idx.size and self._category_names:
            affinity = self._category_affinity(hist_idx, hist_w)
            pop = self._popularity * affinity
        else:
            affinity = None
            pop = self._popularity
        popularity = _unit_scale(pop, candidates)
        if popularity is None:
            popularity = np.zeros(n, dtype=np.float64)

        parts: list[tuple[ReasonKind, np.ndarray]] = []
        if collab is not None:
            parts.append((ReasonKind.CO_INTERACTION, w.collaborative * collab))
        if content is not None:
            kind = ReasonKind.SIMILAR_TO_QUERY if use_query else ReasonKind.SIMILAR_TO_HISTORY
            parts.append((kind, w.content * content))
        pop_weight = 1.0 if cold else w.popularity
        pop_kind = ReasonKind.POPULAR if affinity is None else ReasonKind.POPULAR_IN_CATEGORY
        parts.append((pop_kind, pop_weight * popularity))

        score = np.sum([p for _, p in parts], axis=0)
        # a faint popularity term breaks ties among items no signal separates
        score = score + 1e-6 * self._popularity
        multipliers = self.feedback.multiplier_vector(user_id, self._item_index, self._category_items, n)
        if multipliers is not None:
            score = score * multipliers
        score = np.where(candidates, score, -np.inf)

        n_candidates = int(candidates.sum())
        k = min(k, n_candidates)
        top = np.argpartition(-score, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-score[top], kind="stable")][:k]

        stacked = np.stack([p[top] for _, p in parts])  # signals x top
        winner = stacked.argmax(axis=0)
        because = self._because(parts, winner, top, hist_idx, hist_w)
        out = []
        for pos, idx in enumerate(top):
            reason = parts[winner[pos]][0]
            out.append(
                Scored(
                    item_id=self._item_ids[idx],
                    score=float(score[idx]),
                    reason_kind=reason,
                    because_item=because[pos],
                    category=self._categories[idx],
                )
            )
        return out

    # -- internals -------------------------------------------------------------------------------

    def _profile(self, hist: _History | None) -> tuple[np.ndarray, np.ndarray]:
        """Distinct history items and their weights: the strongest recency-discounted event."""
        if hist is None or hist.items.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        weights = hist.weights
        half_life = self.config.recency_half_life
        if half_life is not None:
            age = np.arange(hist.items.size - 1, -1, -1, dtype=np.float64)  # 0 = newest event
            weights = weights * np.power(0.5, age / half_life)
        items, inverse = np.unique(hist.items, return_inverse=True)
        best = np.zeros(items.size, dtype=np.float64)
        np.maximum.at(best, inverse, weights)
        keep = best > 0
        return items[keep], best[keep]

    def _category_affinity(self, hist_idx: np.ndarray, hist_w: np.ndarray) -> np.ndarray:
        """Per item: the customer's smoothed share of weight in the item's category, max 1."""
        codes = self._item_category_code[hist_idx]
        known = codes >= 0
        mass = np.bincount(codes[known], weights=hist_w[known], minlength=len(self._category_names))
        s = self.config.category_prior_smoothing
        share = (mass + s * self._category_prior) / (mass.sum() + s)
        share = share / share.max() if share.max() > 0 else np.ones_like(share)
        per_item = np.where(self._item_category_code >= 0, share[np.maximum(self._item_category_code, 0)], share.mean())
        return per_item

    def _because(
        self,
        parts: list[tuple[ReasonKind, np.ndarray]],
        winner: np.ndarray,
        top: np.ndarray,
        hist_idx: np.ndarray,
        hist_w: np.ndarray,
    ) -> list[ItemId | None]:
        because: list[ItemId | None] = [None] * len(top)
        kinds = [parts[w][0] for w in winner]
        co = [i for i, r in enumerate(kinds) if r is ReasonKind.CO_INTERACTION]
        if co and self._model is not None:
            contrib = self._model.contributions(hist_idx, hist_w, top[co])
            for j, pos in enumerate(co):
                because[pos] = self._item_ids[hist_idx[int(np.argmax(contrib[:, j]))]]
        sim = [i for i, r in enumerate(kinds) if r is ReasonKind.SIMILAR_TO_HISTORY]
        if sim and self._vectors is not None:
            cos = self._vectors[hist_idx] @ self._vectors[top[sim]].T
            cos[hist_idx[:, None] == top[sim][None, :]] = -np.inf  # an item is not "similar to itself"
            for j, pos in enumerate(sim):
                best = int(np.argmax(cos[:, j]))
                if np.isfinite(cos[best, j]):
                    because[pos] = self._item_ids[hist_idx[best]]
        return because

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError("call fit() first")


def _unit_scale(values: np.ndarray, candidates: np.ndarray) -> np.ndarray | None:
    """Scale to [0, 1] by the largest candidate value (negatives become 0); ``None`` if no
    candidate has a positive value, so a signal that says nothing gets no say."""
    top = float(values[candidates].max()) if candidates.any() else 0.0
    if not top > 0:
        return None
    return np.clip(values / top, 0.0, None)


def _max_duplicates(coo: sp.coo_matrix) -> sp.csr_matrix:
    """COO -> CSR keeping the maximum, not the sum, of duplicate entries."""
    n_cols = coo.shape[1]
    keys = coo.row.astype(np.int64) * n_cols + coo.col
    order = np.lexsort((-coo.data, keys))
    keys_sorted = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys_sorted[1:] != keys_sorted[:-1]
    pick = order[first]
    return sp.csr_matrix((coo.data[pick], (coo.row[pick], coo.col[pick])), shape=coo.shape)


def _state_names(obj: object) -> list[str]:
    return [name for name in vars(obj) if name not in {"config", "feedback"}]
