"""The knowledge pages answer the question: the best section, when it really answers (it leads the
runner-up and clears the threshold), with its source."""

from __future__ import annotations

import re

from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt, plain, source_of
from bot.knowledge.lexical import STOPWORDS
from bot.knowledge.search import KnowledgeHit
from bot.knowledge.verdicts import asks_whether_offered, is_about, leading_verdict, offered_thing
from bot.types import Suggestion

RELATED_MIN_SIMILARITY = 0.4
# How the customer likes to be reached says nothing about a policy: a gift card "sent by email" is no
# reason to add "your preferred channel is email".
_NOT_ABOUT_ANSWERS = frozenset({"preferred_channel", "channel", "contact_channel"})
_DETERMINERS = frozenset({"every", "each", "all", "any", "both"})


def answers(hit: KnowledgeHit | None, floor: float) -> bool:
    """Whether the section really answers: above the threshold, and (when the retrieval module says)
    clearly ahead of the next section."""
    return hit is not None and hit.similarity >= floor and bool(getattr(hit, "confident", True))


class Answer(Handler):
    name = "answer"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        best = situation.best
        if situation.understanding.command is not None or best is None:
            return None
        floor = self.services.thresholds
        overview = overview_for(situation.text, situation.context.knowledge, floor.clarify_min_similarity)
        # "do you have a loyalty program?": the page about it says what it is, however close its sections are.
        # When the best section is on that same page ("do you do returns": how to start one, the policy), the
        # sections compete only among themselves; which one was meant does not matter to "do you have it?".
        if overview is not None and (overview.source == best.source or answers(best, floor.answer_min_similarity)):
            return self.decision(f"asked whether we have {overview.title} ({best.similarity:.2f})", answer=overview)
        if not answers(best, floor.answer_min_similarity):
            return None
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
        body = said(situation.text, hit)
        facts = _facts_in(body, situation.customer.attributes or {})
        note = f"\n\n{facts}" if facts else ""
        text = f"{lead}{body}{note}\n\nSource: {hit.title} — {hit.section or hit.title}"
        shown = tuple(r for r in situation.products if r.similarity >= self.services.thresholds.product_min_similarity)
        return Draft(text, sources=(source_of(hit),), suggestions=_related(hit, situation.context.knowledge),
                     recommendations=shown)


def said(question: str, hit: KnowledgeHit) -> str:
    """The section's text as the answer to ``question``. Asked whether we have or offer a thing, the
    section's own "Yes."/"No." is dropped unless its heading asks the same kind of question, and the first
    section of a page about that very thing is a "Yes" ("do you have gift cards?" -> "Yes — Northwind gift
    cards are digital…", never "No." from "Do gift cards expire?")."""
    body = plain(hit.text)
    thing = offered_thing(question)
    if not thing:
        return body
    verdict, rest = leading_verdict(body)
    if verdict and asks_whether_offered(hit.section):
        return body
    # Only the page's first section says what the thing is: "Yes — " before "gift cards can't be returned"
    # would answer another question again.
    return f"Yes — {_lowered(rest)}" if hit.chunk == 0 and is_about(thing, hit.title) else rest


def _lowered(text: str) -> str:
    """The text going on after a dash: "Every product…" -> "every product…"; a name ("Northwind…") stays."""
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first.lower() in STOPWORDS | _DETERMINERS else text


def overview_for(question: str, hits: list[KnowledgeHit], floor: float) -> KnowledgeHit | None:
    """Asked whether we have or offer a thing ("do u sell giftcards"), the first section of a page about
    that thing among the close hits: a page's first section says what its topic is (knowledge/README.md).
    None for any other question, or when no close hit is on such a page."""
    thing = offered_thing(question)
    if not thing:
        return None
    return next((h for h in hits if h.chunk == 0 and h.similarity >= floor and is_about(thing, h.title)), None)


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
        if key in _NOT_ABOUT_ANSWERS:
            continue
        if isinstance(value, str) and len(value) >= 3 and re.search(rf"\b{re.escape(value)}\b", body, re.I):
            notes.append(f"your {key.replace('_', ' ')} is {value}")
    return f"For you: {'; '.join(notes)}." if notes else ""
