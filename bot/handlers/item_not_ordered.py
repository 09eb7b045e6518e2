"""Something the customer calls theirs that none of their orders holds ("where is my jacket?", "my jacket
arrived torn", "i want to return my jacket" with no jacket ever ordered): say so and name what they did
order, never another order's status or problem as if it were that thing."""

from __future__ import annotations

from bot.customers.orders import order_numbers, problem_in, unordered_item
from bot.handlers.base import Decision, Draft, Handler, Outcome, Situation, fmt
from bot.handlers.order_status import asks_status

LISTED = 3  # the newest orders named in the reply


class ItemNotOrdered(Handler):
    name = "item_not_ordered"

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None or situation.context.order_named_now \
                or order_numbers(situation.text):
            return None
        if not (asks_status(situation) or problem_in(situation.understanding.as_read)):
            return None
        insights = situation.context.insights
        item = unordered_item(situation.text, insights.orders or insights.recent_orders)
        return self.decision(f"asked about a {item} that no order of theirs holds", detail=item) if item else None

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        insights = situation.context.insights
        orders = (insights.orders or insights.recent_orders)[:LISTED]
        listed = ", ".join(f"{o.order_id} ({o.item_names})" for o in orders)
        return Draft(fmt(self.t.item_not_ordered, fill, item=_with_article(decision.detail), orders=listed))


def _with_article(word: str) -> str:
    """ "a jacket", "an umbrella"; a plural as it is ("shoes")."""
    if word.endswith("s") and not word.endswith("ss"):
        return word
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"
