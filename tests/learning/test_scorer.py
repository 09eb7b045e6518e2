"""The answer-vote scorer on its own: who is moved, by how much, and when not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from bot.learning.scorer import LearningRules, Vote, VoteBook

NOW = datetime(2026, 12, 1, tzinfo=UTC)
WRONG, RIGHT = ("pages/returns.md", 3), ("pages/returns.md", 0)


def unit(*values: float) -> np.ndarray:
    v = np.zeros(8, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


QUESTION = unit(1, 0.1)
PARAPHRASE = unit(1, 0.2)  # cosine ≈ 0.99 with QUESTION
UNRELATED = unit(0, 0, 1)
RULES = LearningRules(agree=3, half_life_days=30, similarity=0.7, shift=0.15, own_shift=0.5)


def book(*votes: Vote) -> VoteBook:
    b = VoteBook(RULES, dimension=8)
    b.replace_all(votes)
    return b


def down(customer: int, question: np.ndarray = QUESTION, age_days: float = 0.0) -> Vote:
    return Vote(customer, WRONG, -1, question, NOW - timedelta(days=age_days))


def shift_for(b: VoteBook, customer: int | None, query: np.ndarray = PARAPHRASE) -> float:
    return float(b.adjustments(query, [WRONG, RIGHT], customer, NOW)[0])


def test_a_voters_own_downvote_applies_to_them_at_once_and_to_nobody_else() -> None:
    b = book(down(1))
    assert shift_for(b, 1) == -0.5
    assert shift_for(b, 2) == 0.0 and shift_for(b, None) == 0.0


def test_one_customer_however_many_votes_never_moves_anyone_else() -> None:
    b = VoteBook(RULES, dimension=8)
    for i in range(50):  # the same customer, again and again, on similar questions
        b.add(down(7, unit(1, 0.01 * i)))
    assert len(b) == 1  # one vote per customer and section: later ones replace it
    assert shift_for(b, 8) == 0.0


def test_agreement_of_enough_different_customers_moves_the_section_for_everyone() -> None:
    assert shift_for(book(down(1), down(2)), 9) == 0.0  # two is not three
    assert shift_for(book(down(1), down(2), down(3)), 9) < -0.1
    # ... and a dissent cancels one: net two
    upvote = Vote(4, WRONG, +1, QUESTION, NOW)
    assert shift_for(book(down(1), down(2), down(3), upvote), 9) == 0.0


def test_votes_count_only_for_questions_of_similar_meaning() -> None:
    b = book(down(1), down(2), down(3))
    assert shift_for(b, 9, query=UNRELATED) == 0.0
    assert shift_for(b, 1, query=UNRELATED) == 0.0
    assert b.adjustments(PARAPHRASE, [RIGHT], 9, NOW)[0] == 0.0  # other sections stay where they were


def test_old_votes_fade() -> None:
    fresh = shift_for(book(down(1), down(2), down(3)), 9)
    month = shift_for(book(down(1, age_days=30), down(2, age_days=30), down(3, age_days=30)), 9)
    assert month == fresh / 2
    assert shift_for(book(down(1, age_days=100), down(2, age_days=100), down(3, age_days=100)), 9) == 0.0


def test_rerank_moves_the_downvoted_section_below_the_next() -> None:
    b = book(down(1), down(2), down(3))
    ranked = b.rerank(PARAPHRASE, [(0.62, WRONG), (0.55, RIGHT)], 9, NOW)
    assert [key for _, key in ranked] == [RIGHT, WRONG]


def test_forget_drops_a_customers_votes() -> None:
    b = book(down(1), down(2), down(3))
    b.forget(3)
    assert shift_for(b, 9) == 0.0 and shift_for(b, 3) == 0.0
