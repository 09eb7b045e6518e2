"""Close knowledge matches but none clearly answers: ask which one was meant."""

from __future__ import annotations

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.knowledge.search import KnowledgeHit
from bot.types import Suggestion


class Clarify(Handler):
    name = "clarify"
    ask_feedback = True
    miss = True

    def decide(self, situation: Situation) -> Decision | None:
        best = situation.best
        if situation.understanding.command is not None or best is None:
            return None
        if best.similarity < self.services.thresholds.clarify_min_similarity:
            return None
        return self.decision(f"close knowledge matches only (best {best.similarity:.2f})")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        return Draft(fmt(self.t.clarify, fill),
                     suggestions=_close_matches(situation.context.knowledge, self.services.thresholds.clarify_min_similarity))


def _close_matches(hits: list[KnowledgeHit], floor: float) -> tuple[Suggestion, ...]:
    sections: list[str] = []
    for hit in hits:
        if hit.similarity >= floor and hit.section and hit.section not in sections:
            sections.append(hit.section)
    return tuple(Suggestion(s, s) for s in sections[:3])
