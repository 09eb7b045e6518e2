"""Where an order is: only when its status or whereabouts is asked, and only this customer's orders."""

from __future__ import annotations

import re

from bot.config import Templates
from bot.customers.insights import OrderSummary
from bot.customers.orders import only_names_an_order
from bot.handlers.base import ORDER_SOURCE, PERSON, Decision, Draft, Handler, Outcome, Situation, fmt
from bot.intents import IntentLabel
from bot.types import Tone
from bot.handlers.base import when

_ASKS_STATUS = re.compile(
    r"\b(where('s| is| are)\s+(it|they|that|my (order|package|parcel|delivery|shipment|stuff|lamp|\w+))\b|"
    r"has (it|my order|my package|my parcel|it) (shipped|arrived|been (sent|shipped|delivered))|"
    r"did (it|my order|my package) (ship|arrive|go out)|order status|status of (my |the )?(order|package)|"
    r"when (will|does|do|is) (it|they|my (order|package|parcel|delivery)) (arrive|ship|come|get here|be delivered|coming)|"
    r"(status|update) (of|on|for) (my|the|order)|is (it|my order) (on (its|the) way|coming)|track(ing)? (my|the|it|order|package)|"
    r"\bwhere'?s? my\b|any (news|update) on|shipped yet|arrived yet)",
    re.I,
)


def asks_status(situation: Situation) -> bool:
    return (bool(_ASKS_STATUS.search(situation.text)) or situation.understanding.intent.label == IntentLabel.ORDER_STATUS
            or _refers_to_another_order(situation))


def _refers_to_another_order(situation: Situation) -> bool:
    text = situation.text
    return (situation.state.last_action == OrderStatus.name and situation.context.order_in_text
            and only_names_an_order(text))


def default_order(situation: Situation) -> OrderSummary | None:
    """The order a message is about: named or under discussion, else the newest open one, else the newest."""
    insights = situation.context.insights
    if situation.context.order is not None:
        return situation.context.order
    orders = insights.orders or insights.recent_orders
    return next(iter(insights.open_orders), orders[0] if orders else None)


def order_fields(order: OrderSummary) -> dict[str, str]:
    return {"order_id": order.order_id, "items": order.item_names or "no items recorded", "status": order.status,
            "ordered": when(order.ordered_at), "shipped": when(order.shipped_at), "tracking": order.tracking,
            "total": f"{order.total:,.2f}"}


def status_text(order: OrderSummary, t: Templates) -> str:
    fields = order_fields(order)
    template = {
        "processing": t.order_processing, "shipped": t.order_shipped, "delivered": t.order_delivered,
        "cancelled": t.order_cancelled, "returned": t.order_returned,
    }.get(order.status, "Your order {order_id} ({items}) has the status '" + order.status + "'.")
    text = template.format(**fields)
    if order.tracking and order.status in {"shipped", "delivered"}:
        text += " " + t.order_tracking.format(**fields)
    return text


class OrderStatus(Handler):
    name = "order_status"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None or not asks_status(situation):
            return None
        order = default_order(situation)
        if order is None:
            return self.decision("asked about an order, none on this account", detail="none")
        return self.decision("question about the customer's order", order=order)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        order = decision.order
        upset = situation.upset(self.services.thresholds)
        if order is None:
            lead = fmt(self.t.empathy_lead, fill).split(".")[0] + ". " if upset else ""
            return Draft(lead + fmt(self.t.no_orders, fill) + " If you have the order number, tell me and I'll look again.",
                         suggestions=(PERSON,) if upset else (), tone=Tone.EMPATHETIC if upset else None)
        text = status_text(order, self.t)
        if upset:
            text = f"{fmt(self.t.empathy_order, fill)} {text}"
        # Cross-sell only once the order question is settled and the customer is not upset.
        shown = tuple(situation.products) if order.status in {"shipped", "delivered"} and not upset else ()
        return Draft(text, sources=(ORDER_SOURCE,), recommendations=shown, tone=Tone.EMPATHETIC if upset else None)
