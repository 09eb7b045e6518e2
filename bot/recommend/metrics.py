"""Offline evaluation protocol: leave-last-out splits and top-K ranking metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.recommend.types import Interaction, ItemId, UserId


@dataclass(frozen=True, slots=True)
class LeaveOneOutSplit:
    """``train``: every interaction but each user's last; ``held_out``: that last item."""

    train: list[Interaction]
    held_out: dict[UserId, ItemId]


def leave_last_out(interactions: Iterable[Interaction], min_train: int = 1) -> LeaveOneOutSplit:
    """Hold out each user's last interaction by timestamp (ties: the one given last).

    Users with fewer than ``min_train + 1`` interactions keep all of them in ``train`` and get
    no held-out item. Applying this twice gives a validation split carved from training data.
    """
    per_user: dict[UserId, list[tuple[float, int, Interaction]]] = {}
    for seq, ev in enumerate(interactions):
        per_user.setdefault(ev.user_id, []).append((ev.timestamp, seq, ev))
    held_out: dict[UserId, ItemId] = {}
    held_seq: set[int] = set()
    for user_id, events in per_user.items():
        if len(events) < min_train + 1:
            continue
        _, seq, last = max(events, key=lambda e: (e[0], e[1]))
        held_out[user_id] = last.item_id
        held_seq.add(seq)
    train = [ev for user_events in per_user.values() for _, seq, ev in user_events if seq not in held_seq]
    return LeaveOneOutSplit(train=train, held_out=held_out)


def rank_of(ranked: Sequence[ItemId], target: ItemId) -> int | None:
    """0-based position of ``target`` in ``ranked``, or ``None``."""
    for pos, item in enumerate(ranked):
        if item == target:
            return pos
    return None


def hit_rate_at_k(ranked: Sequence[ItemId], target: ItemId, k: int = 10) -> float:
    """1.0 if the single relevant item is among the first ``k``, else 0.0."""
    pos = rank_of(ranked[:k], target)
    return 0.0 if pos is None else 1.0


def ndcg_at_k(ranked: Sequence[ItemId], target: ItemId, k: int = 10) -> float:
    """NDCG@k with one relevant item: ``1 / log2(rank + 2)`` for a 0-based rank below ``k``
    (the ideal DCG is 1), else 0."""
    pos = rank_of(ranked[:k], target)
    return 0.0 if pos is None else 1.0 / math.log2(pos + 2)


def evaluate_rankings(
    rankings: Mapping[UserId, Sequence[ItemId]], held_out: Mapping[UserId, ItemId], k: int = 10
) -> dict[str, float]:
    """Mean NDCG@k and HR@k over the users in ``held_out`` (a user without a ranking scores 0)."""
    if not held_out:
        raise ValueError("no held-out users to evaluate")
    ndcg = hr = 0.0
    for user_id, target in held_out.items():
        ranked = rankings.get(user_id, ())
        ndcg += ndcg_at_k(ranked, target, k)
        hr += hit_rate_at_k(ranked, target, k)
    n = len(held_out)
    return {f"ndcg@{k}": ndcg / n, f"hr@{k}": hr / n}
