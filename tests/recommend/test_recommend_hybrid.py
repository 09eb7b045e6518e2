from __future__ import annotations

import numpy as np
import pytest

from bot.recommend import (
    BlendWeights,
    HybridRecommender,
    Interaction,
    ItemInfo,
    NotFittedError,
    ReasonKind,
    RecommenderConfig,
)


def fit(interactions, catalog, vectors=None, **config):
    return HybridRecommender(RecommenderConfig(**config)).fit(interactions, catalog, vectors)


def ids(scored):
    return [s.item_id for s in scored]


def test_co_purchase_drives_suggestions(interactions, catalog, vectors):
    events = [*interactions, Interaction("new-camper", "tent", "purchase", 10)]
    rec = fit(events, catalog, vectors)
    top = rec.recommend("new-camper", k=3)
    assert top[0].item_id == "stakes"
    assert top[0].reason_kind is ReasonKind.CO_INTERACTION
    assert top[0].because_item == "tent"
    # the lamp buyer gets the bulb, not the (more popular) mug
    events = [*interactions, Interaction("new-reader", "lamp", "purchase", 10)]
    rec = fit(events, catalog, vectors)
    first = rec.recommend("new-reader", k=1)[0]
    assert (first.item_id, first.because_item) == ("bulb", "lamp")


def test_itemknn_model_also_follows_co_purchase(interactions, catalog):
    pytest.importorskip("implicit")
    events = [*interactions, Interaction("new-camper", "tent", "purchase", 10)]
    rec = fit(events, catalog, collaborative_model="itemknn", knn_neighbours=5)
    assert rec.stats.collaborative_model == "itemknn"
    top = rec.recommend("new-camper", k=1)[0]
    assert (top.item_id, top.reason_kind, top.because_item) == ("stakes", ReasonKind.CO_INTERACTION, "tent")


def test_owned_excluded_unavailable_and_disallowed_items_never_appear(interactions, catalog, vectors):
    rec = fit(interactions, catalog, vectors)
    users = ["camper0", "camper1", "reader3", "drinker0", "drinker10", "stranger"]
    for user in users:
        owned = rec.owned_items(user)
        for k in (1, 3, len(catalog)):
            got = ids(rec.recommend(user, k=k, exclude={"kettle"}))
            assert not owned & set(got)
            assert "kettle" not in got
            assert "old-stove" not in got  # unavailable
            assert len(got) == len(set(got))
        got = ids(rec.recommend(user, k=5, allowed={"lantern", "mug", "tent", "unknown-sku"}))
        assert set(got) <= {"lantern", "mug", "tent"} - owned
    assert rec.owned_items("camper0") == {"tent", "stakes"}  # a cart is not ownership


def test_viewed_items_stay_candidates_but_bought_ones_do_not(interactions, catalog, vectors):
    rec = fit(interactions, catalog, vectors)
    # drinker0 viewed the kettle and bought the mug
    got = ids(rec.recommend("drinker0", k=len(catalog)))
    assert "kettle" in got and "mug" not in got
    # the caller can still ask for bought items (a consumable, say)
    assert "mug" in ids(rec.recommend("drinker0", k=len(catalog), exclude_owned=False))


def test_cold_start_falls_back_to_popular_items(interactions, catalog, vectors):
    rec = fit(interactions, catalog, vectors)
    top = rec.recommend("never-seen", k=3)
    assert ids(top) == ["mug", "tent", "stakes"]  # 45, 30, 30 buyers (ties: catalog order)
    assert all(s.reason_kind is ReasonKind.POPULAR for s in top)
    assert not rec.known_user("never-seen")


def test_cold_start_with_a_query_follows_the_query(interactions, catalog, vectors):
    rec = fit(interactions, catalog, vectors)
    query = np.array([0, 1, 0, 0, 0, 0], dtype=np.float32)  # "lighting"
    top = rec.recommend("never-seen", k=3, query_vector=query)
    assert {s.category for s in top} == {"lighting"}
    assert top[0].reason_kind is ReasonKind.SIMILAR_TO_QUERY


def test_popularity_within_the_customers_categories(catalog, vectors):
    # one customer bought a lantern; nobody co-bought anything with it
    events = [Interaction(f"r{u}", "lamp", "purchase", 1) for u in range(10)]
    events += [Interaction(f"m{u}", "mug", "purchase", 1) for u in range(40)]
    events.append(Interaction("solo", "lantern", "purchase", 1))
    weights = BlendWeights(collaborative=1.0, content=0.0, popularity=1.0)
    rec = fit(events, catalog, weights=weights, category_prior_smoothing=0.1)
    top = rec.recommend("solo", k=1)[0]
    assert (top.item_id, top.reason_kind, top.category) == ("lamp", ReasonKind.POPULAR_IN_CATEGORY, "lighting")
    # heavy smoothing towards the shop-wide mix: the 4x more popular mug wins again
    rec = fit(events, catalog, weights=weights, category_prior_smoothing=10.0)
    assert rec.recommend("solo", k=1)[0].item_id == "mug"


def test_purchases_outweigh_views_and_recent_events_outweigh_old_ones(interactions, catalog):
    # viewed a tent, bought a lamp: the lamp's partner comes first
    events = [*interactions, Interaction("x", "tent", "view", 1), Interaction("x", "lamp", "purchase", 2)]
    rec = fit(events, catalog, recency_half_life=None)
    assert rec.recommend("x", k=1)[0].item_id == "bulb"
    # bought both; the lamp long ago and the tent just now
    events = [*interactions, Interaction("y", "lamp", "purchase", 1)]
    events += [Interaction("y", "mug", "view", t) for t in range(2, 8)]
    events.append(Interaction("y", "tent", "purchase", 9))
    rec = fit(events, catalog, recency_half_life=2.0)
    assert rec.recommend("y", k=1)[0].item_id == "stakes"


def test_record_interaction_updates_suggestions_without_refit(interactions, catalog):
    rec = fit(interactions, catalog)
    assert rec.recommend("newcomer", k=1)[0].reason_kind is ReasonKind.POPULAR
    rec.record_interaction(Interaction("newcomer", "lamp", "purchase", 5))
    top = rec.recommend("newcomer", k=1)[0]
    assert (top.item_id, top.because_item) == ("bulb", "lamp")
    assert "lamp" in rec.owned_items("newcomer")


def test_scores_are_sorted_and_k_is_respected(interactions, catalog, vectors):
    rec = fit(interactions, catalog, vectors)
    top = rec.recommend("camper1", k=4)
    assert len(top) == 4
    assert [s.score for s in top] == sorted((s.score for s in top), reverse=True)
    assert rec.recommend("camper1", k=0) == []
    available_not_owned = len([c for c in catalog if c.available]) - 2
    assert len(rec.recommend("camper1", k=100)) == available_not_owned


def test_with_settings_shares_the_model_and_rejects_fit_time_settings(interactions, catalog):
    rec = fit(interactions, catalog)
    lean = rec.with_settings(weights=BlendWeights(collaborative=0.0, content=0.0, popularity=1.0))
    assert lean.recommend("camper2", k=1)[0].reason_kind is ReasonKind.POPULAR_IN_CATEGORY
    assert rec.recommend("camper2", k=1)[0].reason_kind is ReasonKind.CO_INTERACTION  # original untouched
    assert rec.config.weights == BlendWeights()
    with pytest.raises(ValueError, match="refit"):
        rec.with_settings(ease_l2=10.0)


def test_input_validation(interactions, catalog):
    with pytest.raises(NotFittedError):
        HybridRecommender().recommend("u", k=1)
    with pytest.raises(ValueError, match="unknown interaction kind"):
        fit([Interaction("u", "tent", "wishlist")], catalog)
    with pytest.raises(ValueError, match="item_vectors"):
        fit(interactions, catalog, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="duplicate"):
        fit(interactions, [ItemInfo("a"), ItemInfo("a")])
    with pytest.raises(ValueError):
        BlendWeights(collaborative=-1)
    with pytest.raises(ValueError, match="unknown blend weight"):
        BlendWeights.from_mapping({"collab": 1.0})
    assert BlendWeights.from_mapping({"collaborative": 2, "popularity": 0.5}) == BlendWeights(2.0, 0.3, 0.5)
    rec = fit([*interactions, Interaction("u", "not-in-catalog")], catalog)
    assert rec.stats.dropped_unknown_items == 1
