"""7. compose: the reply's words. The offline composer only says what knowledge and data support:
each handler writes its own content (``Handler.compose``); this stage adds the tone, the offer of a
person, feedback buttons and who may see it."""

from __future__ import annotations

from typing import Protocol

from bot.config import Brand, Templates, Thresholds
from bot.customers.preferences import facts_of
from bot.store.statuses import HandoffStatus
from bot.handlers.base import PERSON, Decision, Outcome, Registry, Situation, when
from bot.store.records import CustomerRecord
from bot.types import HandoffNotice, Reply, SentimentLabel, Tone

__all__ = ["Composer", "OfflineComposer", "template_fields", "when"]


class Composer(Protocol):
    async def __call__(self, situation: Situation, decision: Decision, outcome: Outcome) -> Reply | None: ...


class OfflineComposer:
    """Templates + retrieved knowledge + the customer's own data. Never invents a policy, price or order."""

    def __init__(self, brand: Brand, templates: Templates, registry: Registry, thresholds: Thresholds) -> None:
        self._thresholds = thresholds
        self._brand = brand
        self._t = templates
        self._registry = registry

    async def __call__(self, situation: Situation, decision: Decision, outcome: Outcome) -> Reply | None:
        handler = self._registry.get(decision.action)
        fill = template_fields(outcome.customer or situation.customer, self._brand)
        draft = handler.compose(situation, decision, outcome, fill)
        if draft is None:
            return None
        inbound, understanding = situation.inbound, situation.understanding
        suggestions = draft.suggestions
        text = draft.text
        if decision.offer_person and PERSON not in suggestions:
            text = f"{text}\n\n{self._t.offer_person.format(**fill)}"
            suggestions = (*suggestions, PERSON)
        return Reply(
            conversation=inbound.conversation,
            in_reply_to=inbound.message_id,
            text=text,
            sources=draft.sources,
            suggestions=suggestions,
            recommendations=draft.recommendations,
            tone=draft.tone or (Tone.EMPATHETIC if situation.upset(self._thresholds) else _tone(understanding.sentiment.label)),
            sentiment=understanding.sentiment,
            handoff=HandoffNotice(reason=decision.reason, status=HandoffStatus.PENDING) if decision.opens_handoff else None,
            ask_feedback=handler.ask_feedback,
            files=draft.files,
            intent=understanding.intent.label,
            intent_confidence=understanding.intent.confidence,
            # A link code, an export, a forget warning: for the asker's eyes only, even in a shared channel.
            private=handler.private,
            recipient=inbound.user_id if handler.private else "",
        )


def template_fields(customer: CustomerRecord | None, brand: Brand) -> dict[str, str]:
    """The fields every reply template may use: {name}, {name_suffix}, {name_comma}, {bot}, {brand}."""
    first = ""
    if customer is not None:
        preferred = facts_of(customer.preferences).get("preferred_name")
        first = preferred.value if preferred else customer.first_name
    return {
        "name": first,
        "name_suffix": f", {first}" if first else "",
        "name_comma": f"{first}, " if first else "",
        "bot": brand.bot_name,
        "brand": brand.name,
    }


def _tone(label: SentimentLabel) -> Tone:
    match label:
        case SentimentLabel.POSITIVE:
            return Tone.WARM
        case _:
            return Tone.NEUTRAL
