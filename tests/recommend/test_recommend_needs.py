"""Reading what a shopper asked for: the need, who it is for and the budget."""

from __future__ import annotations

import pytest

from bot.recommend.needs import Budget, read_budget, read_need


@pytest.mark.parametrize(("text", "topic", "recipient"), [
    ("any gift ideas for my dad who loves cooking?", "cooking", "dad"),
    ("something for my new puppy", "puppy", ""),
    ("anything for a coffee lover", "coffee", ""),
    ("what should I get my son who runs marathons", "runs marathons", "son"),
    ("I need a gift for my boss", "", "boss"),
    ("cooking", "cooking", ""),
])
def test_the_need_is_what_is_left_after_the_framing(text: str, topic: str, recipient: str) -> None:
    need = read_need(text)
    assert (need.topic, need.recipient) == (topic, recipient)
    assert need.stated


@pytest.mark.parametrize(("text", "budget"), [
    ("a gift under $50", Budget(high=50)),
    ("less than 30 dollars please", Budget(high=30)),
    ("up to $25 for my dad", Budget(high=25)),
    ("$40 or less", Budget(high=40)),
    ("something between $20 and $40", Budget(20, 40)),
    ("camping stuff $30-60", Budget(30, 60)),
    ("around $100", Budget(75, 125)),
    ("over $200", Budget(low=200)),
    ("what's good for order 1042?", None),
])
def test_budgets(text: str, budget: Budget | None) -> None:
    assert read_budget(text) == budget


def test_plain_requests_state_nothing() -> None:
    for text in ("what do you recommend?", "what else do you recommend?", "any suggestions?"):
        assert not read_need(text).stated, text


def test_budget_bounds_and_description() -> None:
    assert Budget(high=50).allows(49.95) and not Budget(high=50).allows(50.01)
    assert Budget(20, 40).describe() == "between $20 and $40"
    assert read_need("cooking gift under $20").describe() == "cooking under $20"
