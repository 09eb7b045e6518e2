"""Nothing fits: admit it rather than guess, and offer a person. Always applies (the last handler)."""

from __future__ import annotations

from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation, fmt


class Unknown(Handler):
    name = "unknown"
    ask_feedback = True
    miss = True

    def decide(self, situation: Situation) -> Decision | None:
        best = situation.best
        top = f"{best.similarity:.2f}" if best else "none"
        return self.decision(f"no knowledge above {self.services.thresholds.answer_min_similarity} (best {top})")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.no_answer, fill), suggestions=(PERSON,))
