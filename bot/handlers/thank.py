"""Thanks or praise: you're welcome."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class Thank(Handler):
    name = "thank"

    def decide(self, situation: Situation) -> Decision | None:
        understanding = situation.understanding
        return self.decision("thanks") if understanding.command is None and understanding.is_thanks else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.thanks, fill))
