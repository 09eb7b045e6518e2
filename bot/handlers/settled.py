"""The customer's problem sorted itself out ("nvm it just arrived lol", "found it, all good", "never mind,
figured it out"): be glad with them and leave the door open — not "I don't know the answer to that"."""

from __future__ import annotations

import re

from bot.customers.orders import with_problem_words_respelt
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt

_SETTLED = re.compile(
    r"\b(?:nvm|nevermind|never mind|all good(?: now)?|it'?s (?:fine|ok|okay|all good) now|no worries|"
    r"(?:i )?found it|(?:i )?figured it out|(?:it|they|the \w+|my \w+) (?:just |finally )?(?:arrived|came|showed up|got here)|"
    r"got it (?:now|sorted)|(?:it'?s |all )?sorted(?: now)?|ignore (?:that|me|my last message)|problem solved|"
    r"works now|working now)\b", re.I)
# ... unless something is still wrong ("it arrived broken", "never mind, the refund is still missing").
_STILL_WRONG = re.compile(
    r"\b(?:broken|damaged|wrong|missing|late|not working|doesn'?t work|defective|cracked|leak\w*|refund|return|but)\b", re.I)


# "it arrived" settles it only when nothing but filler follows: "it arrived brokn!!!" goes on to say how.
_ARRIVED_AND_MORE = re.compile(
    r"\b(?:arrived|came|showed up|got here)\s+(?!(?:just now|now|today|yesterday|this morning|after all|finally|"
    r"safely|at last|ok|okay|lol|haha|yay|thanks?|thx|ty|and|all good|fine)\b)[a-z]", re.I)


def settled(text: str) -> bool:
    """Whether ``text`` says the customer's problem is solved and asks nothing more."""
    respelt = with_problem_words_respelt(text)
    return ("?" not in text and len(text) <= 120 and bool(_SETTLED.search(respelt)) and not _STILL_WRONG.search(respelt)
            and not _ARRIVED_AND_MORE.search(respelt))


class Settled(Handler):
    name = "settled"

    def decide(self, situation: Situation) -> Decision | None:
        # An upset customer's "it arrived!!!" is not glad news.
        if situation.understanding.command is not None or not settled(situation.text) \
                or situation.upset(self.services.thresholds):
            return None
        return self.decision("their problem sorted itself out")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.settled, fill))
