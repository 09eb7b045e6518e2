"""The knowledge pages answer the question: the best section, when it really answers (it leads the
runner-up and clears the threshold), with its source."""

from __future__ import annotations

import re

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt, plain, source_of
from bot.knowledge.search import KnowledgeHit
from bot.types import Suggestion

RELATED_MIN_SIMILARITY = 0.4


def answers(hit: KnowledgeHit | None, floor: float) -> bool:
    """Whether the section really answers: above the threshold, and (when the retrieval module says)
    clearly ahead of the next section."""
    return hit is not None and hit.similarity >= floor and bool(getattr(hit, "confident", True))


class Answer(Handler):
    name = "answer"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        best = situation.best
        if situation.understanding.command is not None or not answers(best, self.services.thresholds.answer_min_similarity):
            return None
        assert best is not None
        return self.decision(f"knowledge match {best.similarity:.2f}", answer=best)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        hit = decision.answer
        assert hit is not None
        label = situation.understanding.sentiment.label.value
        match "negative" if situation.upset(self.services.thresholds) else ("neutral" if label == "negative" else label):
            case "negative":
                lead = fmt(self.t.empathy_lead, fill) + "\n\n"
            case "positive":
                lead = fmt(self.t.warm_lead, fill) + "\n\n"
            case _:
                lead = fmt(self.t.neutral_lead, fill) + "\n\n" if fill["name"] else ""
        body = plain(hit.text)
        facts = _facts_in(body, situation.customer.attributes or {})
        note = f"\n\n{facts}" if facts else ""
        text = f"{lead}{body}{note}\n\nSource: {hit.title} — {hit.section or hit.title}"
        shown = tuple(r for r in situation.products if r.similarity >= self.services.thresholds.product_min_similarity)
        return Draft(text, sources=(source_of(hit),), suggestions=_related(hit, situation.context.knowledge),
                     recommendations=shown)


def _related(best: KnowledgeHit, hits: list[KnowledgeHit]) -> tuple[Suggestion, ...]:
    seen = {best.section}
    related = []
    for hit in hits[1:]:
        if hit.section and hit.section not in seen and hit.similarity >= RELATED_MIN_SIMILARITY:
            seen.add(hit.section)
            related.append(Suggestion(hit.section, hit.section))
    return tuple(related[:2])


def _facts_in(body: str, attributes: dict[str, object]) -> str:
    """Known facts about the customer that the answer's own text mentions (e.g. their membership tier)."""
    notes = []
    for key, value in sorted(attributes.items()):
        if isinstance(value, str) and len(value) >= 3 and re.search(rf"\b{re.escape(value)}\b", body, re.I):
            notes.append(f"your {key.replace('_', ' ')} is {value}")
    return f"For you: {'; '.join(notes)}." if notes else ""
