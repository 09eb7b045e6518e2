"""What the LLM composer is given for one turn: plain frozen records, built from this turn's own objects.

Nothing here is looked up: the compose stage hands over the Situation it already holds (this customer's
recall, orders and picks), so another customer's data cannot reach the brief through a shared cache.
:func:`request_from_turn` is the one place that reads the engine's types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.types import Reply, SentimentLabel, Tone

if TYPE_CHECKING:
    from bot.handlers.base import Decision, Situation

__all__ = ["ComposeRequest", "CustomerInsights", "DialogueFocus", "KnowledgeSection", "OrderFacts", "OrderLine",
           "Pick", "Remembered", "TurnText", "request_from_turn"]


@dataclass(frozen=True, slots=True)
class KnowledgeSection:
    title: str
    section: str
    text: str
    source: str  # the page's path, e.g. "knowledge/returns.md"
    internal: bool = False  # staff-only: never enters an external user's brief
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class OrderFacts:
    order_id: str
    status: str
    items: tuple[OrderLine, ...] = ()
    total: float = 0.0
    tracking: str = ""
    ordered_at: datetime | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DialogueFocus:
    order_id: str = ""
    product_sku: str = ""
    topic: str = ""


@dataclass(frozen=True, slots=True)
class TurnText:
    role: str  # "customer" | "bot" | "agent"
    text: str


@dataclass(frozen=True, slots=True)
class Remembered:
    text: str
    when: str = ""  # "2026-11-17" or "" when unknown


@dataclass(frozen=True, slots=True)
class Pick:
    sku: str
    name: str
    price: float
    reason: str


@dataclass(frozen=True, slots=True)
class CustomerInsights:
    stage: str = ""
    order_count: int = 0
    lifetime_value: float = 0.0
    favourite_categories: tuple[str, ...] = ()
    recurring_issue: str = ""


@dataclass(frozen=True, slots=True)
class ComposeRequest:
    """One turn for the LLM composer. ``draft`` is the offline composer's reply: the fallback, and the
    source of everything that is not text (buttons, files, handoff, privacy)."""

    inbound_text: str
    draft: Reply
    first_name: str = ""
    knowledge: tuple[KnowledgeSection, ...] = ()  # most relevant first
    orders: tuple[OrderFacts, ...] = ()  # the order under discussion first
    dialogue: DialogueFocus = field(default_factory=DialogueFocus)
    turns: tuple[TurnText, ...] = ()  # oldest first
    memories: tuple[Remembered, ...] = ()  # most relevant first; profile facts included
    recommendations: tuple[Pick, ...] = ()
    insights: CustomerInsights = field(default_factory=CustomerInsights)
    sentiment: SentimentLabel = SentimentLabel.NEUTRAL
    tone: Tone = Tone.NEUTRAL
    external: bool = True  # a customer (the safe default): internal sections stay out
    staff: bool = False  # an admin of this deployment writing from inside the organisation
    language: str = "en"
    customer_ref: str = ""  # an id for logs, never a name


def request_from_turn(situation: Situation, decision: Decision, draft: Reply, *, staff: bool = False,
                      first_name: str = "") -> ComposeRequest:
    """The request for this turn from the objects the compose stage holds. Only this customer's recall
    is read; ``staff`` says whether the recall may have included internal sections."""
    context, understanding = situation.context, situation.understanding
    insights = context.insights
    orders = list(insights.orders or insights.recent_orders)
    focus = decision.order or context.order
    if focus is not None:
        orders = [focus, *(o for o in orders if o.order_id != focus.order_id)]
    return ComposeRequest(
        inbound_text=situation.inbound.text,
        draft=draft,
        first_name=first_name,
        knowledge=tuple(KnowledgeSection(h.title, h.section, h.text, h.source, internal=staff, score=h.similarity)
                        for h in sorted(context.knowledge, key=lambda h: -h.similarity)),
        orders=tuple(OrderFacts(o.order_id, o.status, tuple(OrderLine(i.sku, i.name, i.quantity) for i in o.items),
                                o.total, o.tracking, o.ordered_at, o.shipped_at) for o in orders),
        dialogue=DialogueFocus(context.state.order_id, context.state.product_sku, context.state.topic),
        turns=tuple(TurnText(str(t.role), t.text) for t in context.recent_turns),
        memories=(*(Remembered(m.text, m.at[:10]) for m in context.memories),
                  *(Remembered(f"{f.label}: {f.value}", f"{f.said_at:%Y-%m-%d}" if f.said_at else "")
                    for f in insights.facts)),
        recommendations=tuple(Pick(r.sku, r.name, r.price, r.reason) for r in situation.products),
        insights=CustomerInsights(insights.stage, insights.order_count, insights.lifetime_value,
                                  tuple(insights.favourite_categories), insights.recurring_issue),
        sentiment=understanding.sentiment.label,
        tone=draft.tone,
        external=situation.inbound.external or not staff,
        staff=staff,
        language=understanding.language.code,
        customer_ref=str(situation.customer.id or ""),
    )
