"""Which messages are votes on the last answer, and when words count as one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.learning.answers import explicit_vote, last_answer, last_reply_answered
from bot.stages.understand import answer_vote
from bot.store.records import TurnRecord
from bot.store.statuses import TurnRole


@pytest.mark.parametrize(("text", "vote"), [
    ("👍", 1), ("👎", -1), ("👍🏽", 1), ("/helpful", 1), ("/unhelpful", -1), ("that didn't help", -1),
    ("not helpful", -1), ("that's wrong", -1), ("wrong answer", -1), ("that answered it, thanks", 1),
    ("That helped, thanks!", 1),
    ("that's wrong, I ordered two", 0), ("how long does shipping take?", 0), ("thanks", 0),
    ("it didn't help that the box was wet", 0),
])
def test_only_whole_verdicts_are_votes(text: str, vote: int) -> None:
    assert answer_vote(text) == vote


def turn(i: int, role: TurnRole, text: str, action: str, sources: tuple[str, ...] = ()) -> TurnRecord:
    return TurnRecord(i, 1, "c", "test", role, text, f"m{i}", None, action, sources, datetime.now(UTC))


def test_words_count_only_after_a_knowledge_answer_thumbs_always() -> None:
    answered = [turn(1, TurnRole.CUSTOMER, "how do I return an item?", "answer"),
                turn(2, TurnRole.BOT, "… Source: Returns — How do I start a return?", "answer", ("returns.md",))]
    order = [*answered, turn(3, TurnRole.CUSTOMER, "where is my order?", "order_status"),
             turn(4, TurnRole.BOT, "Your order 1042 shipped", "order_status")]
    assert last_reply_answered(answered) and not last_reply_answered(order)
    assert explicit_vote("👎") and explicit_vote("/unhelpful") and not explicit_vote("that's wrong")


def test_the_question_rated_skips_earlier_votes() -> None:
    turns = [turn(1, TurnRole.CUSTOMER, "how do I return an item?", "answer"),
             turn(2, TurnRole.BOT, "A few items cannot be returned", "answer", ("returns.md",)),
             turn(3, TurnRole.CUSTOMER, "👎", "unhelpful"),
             turn(4, TurnRole.BOT, "Sorry… Source: Returns — How do I start a return?", "unhelpful", ("returns.md",))]
    answered = last_answer(turns)
    assert answered is not None
    assert answered.question == "how do I return an item?" and "start a return" in answered.reply
