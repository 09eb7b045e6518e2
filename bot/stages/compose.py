"""7. compose: the reply's words. The offline composer only says what knowledge and data support."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

from bot.config import Brand, Templates, Thresholds
from bot.customers.insights import OrderSummary
from bot.knowledge.search import KnowledgeHit
from bot.stages.act import Outcome
from bot.stages.decide import Action, Decision
from bot.stages.recall import Context
from bot.stages.understand import Understanding
from bot.store.tables import Customer, utcnow
from bot.types import HandoffNotice, Inbound, Recommendation, Reply, SentimentLabel, Source, Suggestion, Tone

RELATED_MIN_SIMILARITY = 0.4
ORDER_SOURCE = Source(title="Your order history", section="", path="orders", score=1.0)
# Replies about the customer's account (codes, results, exports, deletions) go to the asker only.
_ACCOUNT_ACTIONS = frozenset({Action.LINK, Action.EXPORT, Action.FORGET})


class Composer(Protocol):
    async def __call__(
        self,
        inbound: Inbound,
        customer: Customer,
        understanding: Understanding,
        context: Context,
        decision: Decision,
        recommendations: list[Recommendation],
        outcome: Outcome,
    ) -> Reply | None: ...


class OfflineComposer:
    """Templates + retrieved knowledge + the customer's own data. Never invents a policy, price or order."""

    def __init__(self, brand: Brand, templates: Templates, thresholds: Thresholds) -> None:
        self._brand = brand
        self._t = templates
        self._thresholds = thresholds

    async def __call__(
        self,
        inbound: Inbound,
        customer: Customer,
        understanding: Understanding,
        context: Context,
        decision: Decision,
        recommendations: list[Recommendation],
        outcome: Outcome,
    ) -> Reply | None:
        if decision.action is Action.SILENT:
            return None
        fill = template_fields(outcome.customer or customer, self._brand)
        tone = _tone(understanding)
        sources: tuple[Source, ...] = ()
        suggestions: tuple[Suggestion, ...] = ()
        shown: list[Recommendation] = []
        files = ()
        handoff = None
        match decision.action:
            case Action.GREET:
                news = _news(context, self._t)
                text = (self._t.greeting_returning.format(news=news, **fill) if context.returning
                        else self._t.greeting.format(**fill))
            case Action.THANK:
                text = self._t.thanks.format(**fill)
            case Action.HANDOFF:
                text = self._t.handoff.format(**fill)
                handoff = HandoffNotice(reason=decision.reason, status="pending")
            case Action.ORDER_STATUS:
                order = context.order or _default_order(context)
                text = _order_status(order, self._t) if order else self._t.no_answer.format(**fill)
                if tone is Tone.EMPATHETIC:
                    text = f"{self._t.empathy_order.format(**fill)} {text}"
                sources = (ORDER_SOURCE,) if order else ()
                # Cross-sell only once the order question is settled and the customer is not upset.
                if order and order.status in {"shipped", "delivered"} and tone is not Tone.EMPATHETIC:
                    shown = recommendations
            case Action.ANSWER:
                assert decision.answer is not None
                text = self._answer(decision.answer, customer, tone, fill)
                sources = (_source(decision.answer),)
                suggestions = _related(decision.answer, context.knowledge)
                # Upsell only when the question was about products.
                shown = [r for r in recommendations if r.similarity >= self._thresholds.product_min_similarity]
            case Action.CLARIFY:
                text = self._t.clarify.format(**fill)
                suggestions = _close_matches(context.knowledge, self._thresholds.clarify_min_similarity)
            case Action.PRODUCTS:
                text = self._products(recommendations, fill)
                shown = recommendations
            case Action.LINK:
                if outcome.link_code:
                    text = self._t.link_code.format(code=outcome.link_code, **fill)
                elif outcome.linked:
                    text = self._t.link_done.format(**fill)
                else:
                    text = self._t.link_failed.format(reason=outcome.link_problem, **fill)
            case Action.EXPORT:
                text = self._t.export_ready.format(**fill)
                files = (outcome.export,) if outcome.export else ()
            case Action.FORGET:
                text = self._t.forget_done.format(**fill) if outcome.forgotten else self._t.forget_ask.format(**fill)
                if not outcome.forgotten:
                    suggestions = (Suggestion("Yes, delete everything", "/forget confirm"),)
            case Action.HELP:
                text = self._t.help.format(**fill)
            case Action.CSAT:
                text = self._t.csat_thanks.format(**fill) if outcome.csat else self._t.help.format(**fill)
            case Action.NOTED:
                facts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in understanding.preferences.items())
                text = self._t.noted.format(facts=facts, **fill)
            case _:
                text = self._t.no_answer.format(**fill)
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
            ask_feedback=decision.action in {Action.ANSWER, Action.PRODUCTS, Action.CLARIFY, Action.UNKNOWN,
                                             Action.ORDER_STATUS},
            files=files,
            intent=understanding.intent.label,
            intent_confidence=understanding.intent.confidence,
            # A link code, an export, a forget warning: for the asker's eyes only, even in a shared channel.
            private=decision.action in _ACCOUNT_ACTIONS,
            recipient=inbound.user_id if decision.action in _ACCOUNT_ACTIONS else "",
        )

    def _answer(self, hit: KnowledgeHit, customer: Customer, tone: Tone, fill: dict[str, str]) -> str:
        lead = ""
        if tone is Tone.EMPATHETIC:
            lead = self._t.empathy_lead.format(**fill) + "\n\n"
        elif tone is Tone.WARM:
            lead = self._t.warm_lead.format(**fill) + "\n\n"
        elif fill["name"]:
            lead = self._t.neutral_lead.format(**fill) + "\n\n"
        body = _plain(hit.text)
        facts = _facts_in(body, customer)
        note = f"\n\n{facts}" if facts else ""
        return f"{lead}{body}{note}\n\nSource: {hit.title} — {hit.section or hit.title}"

    def _products(self, picks: list[Recommendation], fill: dict[str, str]) -> str:
        query_driven = any(p.similarity >= self._thresholds.product_min_similarity for p in picks)
        lines = [(self._t.product_intro if query_driven else self._t.picks_intro).format(**fill)]
        lines += [f"• {p.name} ({p.sku}) — ${p.price:,.2f}, in stock: {p.reason}" for p in picks]
        return "\n".join(lines)


def template_fields(customer: Customer | None, brand: Brand) -> dict[str, str]:
    """The fields every reply template may use: {name}, {name_suffix}, {name_comma}, {bot}, {brand}."""
    first = ""
    if customer is not None:
        first = (customer.preferences or {}).get("preferred_name") or customer.first_name
    return {
        "name": first,
        "name_suffix": f", {first}" if first else "",
        "name_comma": f"{first}, " if first else "",
        "bot": brand.bot_name,
        "brand": brand.name,
    }


def _tone(understanding: Understanding) -> Tone:
    match understanding.sentiment.label:
        case SentimentLabel.NEGATIVE:
            return Tone.EMPATHETIC
        case SentimentLabel.POSITIVE:
            return Tone.WARM
        case _:
            return Tone.NEUTRAL


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """'today', 'yesterday', '3 days ago' or 'on 17 Nov': how people say dates in chat."""
    if moment is None:
        return ""
    days = ((now or utcnow()).date() - moment.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if 1 < days < 7:
        return f"{days} days ago"
    return f"on {moment.day} {moment:%b}" + (f" {moment.year}" if moment.year != (now or utcnow()).year else "")


def _order_status(order: OrderSummary, t: Templates) -> str:
    fields = {"order_id": order.order_id, "items": order.item_names or "no items recorded",
              "ordered": when(order.ordered_at), "shipped": when(order.shipped_at), "tracking": order.tracking}
    template = {
        "processing": t.order_processing, "shipped": t.order_shipped, "delivered": t.order_delivered,
        "cancelled": t.order_cancelled, "returned": t.order_returned,
    }.get(order.status, "Your order {order_id} ({items}) has the status '" + order.status + "'.")
    text = template.format(**fields)
    if order.tracking and order.status in {"shipped", "delivered"}:
        text += " " + t.order_tracking.format(**fields)
    return text


def _default_order(context: Context) -> OrderSummary | None:
    """No order named: the newest open one, else the newest."""
    orders = context.insights.recent_orders
    return next(iter(context.insights.open_orders), orders[0] if orders else None)


def _news(context: Context, t: Templates) -> str:
    """For a returning customer: what changed that they care about — an open order, or an open issue."""
    for order in context.insights.open_orders:
        return _order_status(order, t) + " "
    if context.insights.open_tickets:
        return f"I can see your open request about “{context.insights.open_tickets[0]}”. "
    return ""


def _plain(text: str) -> str:
    """The section's text without heading lines (pages may repeat their heading in the body)."""
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
    sections: list[str] = []
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
