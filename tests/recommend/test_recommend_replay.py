from __future__ import annotations

from bot.recommend.replay import replay_rejections


def test_rejected_category_share_falls_and_the_control_does_not():
    report = replay_rejections(seed=0, rounds=4, k=5, n_customers=30)
    shares = report["share_by_round"]
    control = report["control_share_by_round"]
    assert len(shares) == len(control) == 4
    assert shares[0] == control[0]  # nothing learned before the first answers
    assert shares[0] > 0.3  # the customers' history leans to the category they reject
    assert shares[-1] < shares[0] / 3
    assert min(control) > shares[0] * 0.8  # without learning it stays high
    assert report["rejections_by_round"][0] > report["rejections_by_round"][-1]


def test_replay_is_deterministic():
    assert replay_rejections(seed=3, rounds=2, n_customers=10) == replay_rejections(seed=3, rounds=2, n_customers=10)
