"""7. compose: the reply's words. The offline composer only says what knowledge and data support."""

from __future__ import annotations

import re
from typing import Protocol

from bot.config import Brand, Templates, Thresholds
from bot.knowledge.search import KnowledgeHit
from bot.stages.decide import Action, Decision
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.tables import Customer
from bot.types import HandoffNotice, Inbound, Recommendation, Reply, SentimentLabel, Source, Suggestion, Tone

RELATED_MIN_SIMILARITY = 0.4


class Composer(Protocol):
    async def __call__(
        self,
        inbound: Inbound,
        customer: Customer,
        understanding: Understanding,
        context: Context,
        decision: Decision,
        recommendations: list[Recommendation],
    ) -> Reply | None: ...


class OfflineComposer:
    """Templates + retrieved knowledge + the customer's own data. Never invents a policy, price or order."""

    def __init__(self, brand: Brand, templates: Templates, thresholds: Thresholds) -> None:
        self._brand = brand
        self._templates = templates
        self._thresholds = thresholds

    async def __call__(
        self,
        inbound: Inbound,
        customer: Customer,
        understanding: Understanding,
        context: Context,
        decision: Decision,
        recommendations: list[Recommendation],
    ) -> Reply | None:
        if decision.action is Action.SILENT:
            return None
        fill = self._fields(customer)
        tone = _tone(understanding)
        sources: tuple[Source, ...] = ()
        suggestions: tuple[Suggestion, ...] = ()
        shown: list[Recommendation] = []
        handoff = None
        match decision.action:
            case Action.GREET:
                template = self._templates.greeting_returning if context.returning else self._templates.greeting
                text = template.format(**fill)
            case Action.THANK:
                text = self._templates.thanks.format(**fill)
            case Action.HANDOFF:
                text = self._templates.handoff.format(**fill)
                handoff = HandoffNotice(reason=decision.reason, status="pending")
            case Action.ANSWER:
                assert decision.answer is not None
                text = self._answer(decision.answer, customer, tone, fill)
                sources = (_source(decision.answer),)
                suggestions = _related(decision.answer, context.knowledge)
                shown = recommendations
            case Action.CLARIFY:
                text = self._templates.clarify.format(**fill)
                suggestions = _close_matches(context.knowledge, self._thresholds.clarify_min_similarity)
            case Action.PRODUCTS:
                text = self._products(recommendations, tone, fill)
                shown = recommendations
            case _:
                text = self._templates.no_answer.format(**fill)
                suggestions = (Suggestion("Talk to a person", "I'd like to talk to a person"),)
        return Reply(
            conversation=inbound.conversation,
            in_reply_to=inbound.message_id,
            text=text,
            sources=sources,
            suggestions=suggestions,
            recommendations=tuple(shown),
            tone=tone,
            sentiment=understanding.sentiment,
            handoff=handoff,
            ask_feedback=decision.action in {Action.ANSWER, Action.PRODUCTS, Action.CLARIFY, Action.UNKNOWN},
        )

    def _fields(self, customer: Customer) -> dict[str, str]:
        first = customer.first_name
        return {
            "name": first,
            "name_suffix": f", {first}" if first else "",
            "name_comma": f"{first}, " if first else "",
            "bot": self._brand.bot_name,
            "brand": self._brand.name,
        }

    def _answer(self, hit: KnowledgeHit, customer: Customer, tone: Tone, fill: dict[str, str]) -> str:
        lead = ""
        if tone is Tone.EMPATHETIC:
            lead = f"I'm sorry about the trouble{fill['name_suffix']}. Here's what applies:\n\n"
        elif fill["name"]:
            lead = f"{fill['name_comma']}here's what I found.\n\n"
        body = _plain(hit.text, hit.section)
        facts = _facts_in(body, customer)
        note = f"\n\n{facts}" if facts else ""
        return f"{lead}{body}{note}\n\nSource: {hit.title} — {hit.section or hit.title}"

    def _products(self, picks: list[Recommendation], tone: Tone, fill: dict[str, str]) -> str:
        lines = [self._templates.product_intro.format(**fill)]
        lines += [f"• {p.name} ({p.sku}) — ${p.price:,.2f}, in stock" for p in picks]
        return "\n".join(lines)


def _tone(understanding: Understanding) -> Tone:
    match understanding.sentiment.label:
        case SentimentLabel.NEGATIVE:
            return Tone.EMPATHETIC
        case SentimentLabel.POSITIVE:
            return Tone.WARM
        case _:
            return Tone.NEUTRAL


def _plain(text: str, section: str) -> str:
    """The section's text without its own heading lines (the splitter keeps none, but pages may repeat it)."""
    lines = [ln for ln in text.splitlines() if not re.match(r"^\s*#{1,6}\s", ln)]
    body = "\n".join(lines).strip()
    return body if body else text.strip()


def _source(hit: KnowledgeHit) -> Source:
    return Source(title=hit.title, section=hit.section, path=hit.source, score=round(hit.similarity, 4))


def _related(best: KnowledgeHit, hits: list[KnowledgeHit]) -> tuple[Suggestion, ...]:
    seen = {best.section}
    related = []
    for hit in hits[1:]:
        if hit.section and hit.section not in seen and hit.similarity >= RELATED_MIN_SIMILARITY:
            seen.add(hit.section)
            related.append(Suggestion(hit.section, hit.section))
    return tuple(related[:2])


def _close_matches(hits: list[KnowledgeHit], floor: float) -> tuple[Suggestion, ...]:
    sections = []
    for hit in hits:
        if hit.similarity >= floor and hit.section and hit.section not in sections:
            sections.append(hit.section)
    return tuple(Suggestion(s, s) for s in sections[:3])


def _facts_in(body: str, customer: Customer) -> str:
    """Known facts about the customer that the answer's own text mentions (e.g. their membership tier)."""
    notes = []
    for key, value in sorted((customer.attributes or {}).items()):
        if isinstance(value, str) and len(value) >= 3 and re.search(rf"\b{re.escape(value)}\b", body, re.I):
            notes.append(f"your {key.replace('_', ' ')} is {value}")
    return f"For you: {'; '.join(notes)}." if notes else ""
