from __future__ import annotations

import math

import numpy as np
import pytest

from bot.recommend import Interaction, ItemInfo
from bot.recommend.evaluation import MovieLens, PopularityBaseline, run_movielens
from bot.recommend.metrics import evaluate_rankings, hit_rate_at_k, leave_last_out, ndcg_at_k


def test_ndcg_and_hit_rate_of_known_rankings():
    ranked = ["a", "b", "c", "d"]
    assert ndcg_at_k(ranked, "a", 10) == 1.0
    assert ndcg_at_k(ranked, "b", 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(ranked, "d", 10) == pytest.approx(1 / math.log2(5))
    assert ndcg_at_k(ranked, "d", 3) == 0.0  # past the cut-off
    assert ndcg_at_k(ranked, "z", 10) == 0.0
    assert hit_rate_at_k(ranked, "c", 3) == 1.0
    assert hit_rate_at_k(ranked, "d", 3) == 0.0
    metrics = evaluate_rankings(
        {"u1": ["x", "t1"], "u2": ["t2"], "u3": ["y"]}, {"u1": "t1", "u2": "t2", "u3": "t3", "u4": "t4"}, k=10
    )
    assert metrics["hr@10"] == pytest.approx(2 / 4)
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1.0) / 4)


def test_leave_last_out_holds_out_the_latest_event_and_nests():
    events = [
        Interaction("u", "a", timestamp=3),
        Interaction("u", "b", timestamp=1),
        Interaction("u", "c", timestamp=3),  # ties with "a": the later one given is last
        Interaction("u", "d", timestamp=2),
        Interaction("v", "a", timestamp=5),  # a single event: kept for training, nothing held out
    ]
    test = leave_last_out(events)
    assert test.held_out == {"u": "c"}
    assert {(e.user_id, e.item_id) for e in test.train} == {("u", "a"), ("u", "b"), ("u", "d"), ("v", "a")}
    validation = leave_last_out(test.train)
    assert validation.held_out == {"u": "a"}
    assert "c" not in {e.item_id for e in validation.train}


def test_popularity_baseline_skips_seen_items():
    train = [Interaction(f"u{i}", "hit") for i in range(5)] + [
        Interaction("u0", "b"),
        Interaction("u1", "b"),
        Interaction("u2", "c"),
    ]
    model = PopularityBaseline().fit(train, ["c", "b", "hit", "cold"])
    assert model.recommend("u9", 3) == ["hit", "b", "c"]
    assert model.recommend("u0", 3) == ["c", "cold"]


def tiny_movielens(seed: int = 0) -> MovieLens:
    """Users follow item chains (0->1->2..., so the next item is learnable) in 4 genres."""
    rng = np.random.default_rng(seed)
    n_items, n_users = 40, 60
    items = [ItemInfo(i, f"g{i % 4}") for i in range(n_items)]
    vectors = np.eye(4, dtype=np.float32)[[i % 4 for i in range(n_items)]]
    events = []
    for u in range(n_users):
        start = int(rng.integers(0, n_items))
        for t in range(int(rng.integers(5, 9))):
            events.append(Interaction(u, (start + t) % n_items, "purchase", float(t)))
    return MovieLens(events, items, vectors, ["g0", "g1", "g2", "g3"])


def test_evaluation_pipeline_on_tiny_data_has_the_promised_shape():
    pytest.importorskip("implicit")
    report = run_movielens(
        seed=0,
        rapport_grid={
            "ease_l2": (1.0, 10.0),
            "recency_half_life": (None, 1.0),
            "content": (0.0, 0.1),
            "popularity": (0.0, 0.1),
            "category_prior_smoothing": (1.0,),
        },
        als_grid={"factors": (8,), "regularization": (0.1,), "alpha": (1.0,), "iterations": (5, 10)},
        data=tiny_movielens(),
    )
    out = report.as_dict()
    assert set(out) == {"dataset", "protocol", "results", "fit_seconds", "latency_ms_p50"}
    assert out["dataset"] == "movielens-100k"
    assert set(out["results"]) == {"rapport", "popularity", "als"}
    for metrics in out["results"].values():
        assert set(metrics) == {"ndcg@10", "hr@10"}
        assert 0.0 <= metrics["ndcg@10"] <= metrics["hr@10"] <= 1.0
    assert set(out["fit_seconds"]) == set(out["latency_ms_p50"]) == {"rapport", "popularity", "als"}
    # the chain is learnable: the item-item model with recency should find it
    assert out["results"]["rapport"]["hr@10"] > out["results"]["popularity"]["hr@10"]
    assert report.rapport_params.recency_half_life == 1.0


def test_movielens_loader_reads_the_files_shipped_in_recbole():
    from bot.recommend.evaluation import load_movielens_100k, movielens_100k_dir

    try:
        movielens_100k_dir()
    except RuntimeError:
        pytest.skip("recbole (which ships MovieLens-100K) is not installed")
    data = load_movielens_100k()
    assert len(data.interactions) == 100_000
    assert len(data.items) == 1682
    assert len({e.user_id for e in data.interactions}) == 943
    assert data.item_vectors.shape == (1682, len(data.genres))
    assert data.items[0].item_id == 1 and data.items[0].category == "Animation"  # Toy Story
