"""A problem that sorted itself out is recognised; one that is still there is not."""

from __future__ import annotations

import pytest

from bot.handlers.settled import settled


@pytest.mark.parametrize("text", ["nvm it just arrived lol", "found it, all good", "never mind, figured it out",
                                  "my lamp finally arrived", "works now!", "ignore my last message"])
def test_sorted_out(text: str) -> None:
    assert settled(text)


@pytest.mark.parametrize("text", ["it arrived broken", "nvm where is my refund?", "the kettle arrived but the lid is cracked",
                                  "never mind, the refund is still missing", "ok", "my order is late",
                                  "it arrived brokn!!!", "it came in pieces", "it arrived damagd"])
def test_still_a_problem_or_nothing_said(text: str) -> None:
    assert not settled(text)
