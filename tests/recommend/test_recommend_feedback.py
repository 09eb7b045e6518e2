from __future__ import annotations

import json

import pytest

from bot.recommend import FeedbackConfig, FeedbackModel, HybridRecommender, Interaction, ItemInfo, RecommenderConfig


def shop() -> tuple[list[Interaction], list[ItemInfo]]:
    """Two equally liked categories: each customer bought a little of both."""
    items = [ItemInfo(f"camp-{i}", "camping") for i in range(6)] + [ItemInfo(f"lite-{i}", "lighting") for i in range(6)]
    events = []
    for u in range(40):
        for j in range(6):
            if (u + j) % 3 == 0:
                events.append(Interaction(f"u{u}", f"camp-{j}", "purchase", j))
                events.append(Interaction(f"u{u}", f"lite-{j}", "purchase", j))
    return events, items


def share(rec: HybridRecommender, user: str, category: str, k: int = 4) -> float:
    top = rec.recommend(user, k=k)
    return sum(s.category == category for s in top) / len(top)


def test_rejecting_a_category_lowers_its_share_for_that_customer_only():
    events, items = shop()
    rec = HybridRecommender().fit(events, items)
    before = share(rec, "u1", "camping")
    assert before >= 0.25
    shares = [before]
    for _ in range(3):
        for s in rec.recommend("u1", k=4):
            if s.category == "camping":
                rec.record_feedback("u1", s.item_id, positive=False)  # category looked up from the catalog
        shares.append(share(rec, "u1", "camping"))
    assert shares[-1] < before
    assert shares[-1] == 0.0
    # another customer is barely affected: only the pooled scopes, with one vote per item, reach them
    rejected = next(
        s.item_id for s in HybridRecommender().fit(events, items).recommend("u1", k=4) if s.category == "camping"
    )
    assert rec.feedback.multiplier("u1", rejected, "camping") < 0.5
    assert 0.9 < rec.feedback.multiplier("u4", rejected, "camping") < 1.0
    assert 0.95 < rec.feedback.multiplier("u4", "camp-5", "camping") < 1.0


def test_multipliers_move_the_right_way_and_stay_bounded():
    fb = FeedbackModel(FeedbackConfig())
    assert fb.multiplier("u", "a", "c") == 1.0
    fb.record("u", "a", "c", positive=False)
    one = fb.multiplier("u", "a", "c")
    fb.record("u", "a", "c", positive=False)
    two = fb.multiplier("u", "a", "c")
    assert 0 < two < one < 1
    assert fb.multiplier("u", "b", "c") < 1  # same category, other item
    assert fb.multiplier("u", "b", "d") > fb.multiplier("u", "b", "c")  # other category
    for _ in range(500):
        fb.record("u", "a", "c", positive=False)
    assert fb.multiplier("u", "a", "c") == FeedbackConfig().min_multiplier
    fb.record("v", "z", "e", positive=True)
    assert fb.multiplier("v", "z", "e") > 1
    # other customers feel the pooled scopes only a little
    assert 0.5 < fb.multiplier("w", "b", "c") < 1.0


def test_acceptance_lifts_an_item():
    events, items = shop()
    rec = HybridRecommender().fit(events, items)
    ranked = [s.item_id for s in rec.recommend("u2", k=12)]
    last = ranked[-1]
    for _ in range(10):
        rec.record_feedback("u2", last, positive=True)
    lifted = [s.item_id for s in rec.recommend("u2", k=12)]
    assert lifted.index(last) < ranked.index(last)


def test_feedback_state_round_trips_through_json():
    fb = FeedbackModel()
    fb.record("u1", "a", "c", positive=False)
    fb.record("u1", "b", None, positive=True)
    fb.record(7, 9, "c", positive=False)
    restored = FeedbackModel.from_dict(json.loads(json.dumps(fb.to_dict())))
    for args in [("u1", "a", "c"), ("u1", "b", None), (7, 9, "c"), ("x", "a", "c")]:
        assert restored.multiplier(*args) == pytest.approx(fb.multiplier(*args))


def test_feedback_config_is_validated():
    with pytest.raises(ValueError):
        FeedbackConfig(prior_accept_rate=1.0)
    with pytest.raises(ValueError):
        FeedbackConfig(min_multiplier=2.0)
    with pytest.raises(ValueError):
        RecommenderConfig(collaborative_model="bpr")
