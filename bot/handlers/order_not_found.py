"""An order number that is not on this customer's account: say so plainly. Never another customer's
order, never a silent swap to one of theirs."""

from __future__ import annotations

from bot.customers.orders import numbers_not_theirs
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt


class OrderNotFound(Handler):
    name = "order_not_found"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        insights = situation.context.insights
        orders = insights.orders or insights.recent_orders
        unknown = numbers_not_theirs(situation.text, orders)
        if not unknown:
            return None
        return self.decision(f"order {unknown[0]} is not on this customer's account", order_ref=unknown[0])

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        insights = situation.context.insights
        mine = [o.order_id for o in (insights.orders or insights.recent_orders)[:5]]
        if not mine:
            return Draft(fmt(self.t.order_not_found_none, fill, order_ref=decision.order_ref))
        return Draft(fmt(self.t.order_not_found, fill, order_ref=decision.order_ref, orders=", ".join(mine)))
