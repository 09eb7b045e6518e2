"""What the customer bought, from their own data: the last order, when they ordered, its tracking
number, what it cost ("how much was it?" about the order under discussion), or an order they mention."""

from __future__ import annotations

import re

from bot.handlers.answer import answers
from bot.handlers.base import ORDER_SOURCE, Decision, Draft, Handler, Outcome, Situation, fmt
from bot.handlers.order_status import asks_status, default_order, order_fields

_LAST = re.compile(r"\bwhat (did|have) i (buy|bought|order|ordered|purchase|get)\b|\bmy (last|previous|latest|most recent) "
                   r"(order|purchase)\b|\bwhat was (my|the) last (thing|order|purchase)\b|\bwhat('s| is| was) in my order\b|"
                   r"\bwhat i (bought|ordered)\b", re.I)
_WHEN = re.compile(r"\bwhen did i (order|buy|place|purchase|get)\b|\bwhen was (my|the) (order|purchase)\b", re.I)
_TRACKING = re.compile(r"\btracking (number|code|no|id|link)\b", re.I)
_PRICE = re.compile(r"\bhow much (was|did|were|is) (it|that|they|this|my order|the order|i pay)\b|\bwhat did i pay\b|"
                    r"\bhow much did (it|that|they|i) (cost|pay)\b|\b(order )?total\b|\bwhat did (it|that) cost\b", re.I)
_MENTION = re.compile(r"\bi (ordered|bought|purchased)\b|\babout my\b", re.I)
_CONTENTS = re.compile(r"\bwhat(?:'s| is| was| were)? in (?:my |the )?order\b|\bwhat did (?:i get|it contain) in\b", re.I)


class Purchases(Handler):
    name = "purchases"
    ask_feedback = True

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        text, context = situation.text, situation.context
        orders = context.insights.orders or context.insights.recent_orders
        if _CONTENTS.search(text) and context.order is not None:
            kind = "contents"
        elif _LAST.search(text):
            kind = "last"
        elif _WHEN.search(text):
            kind = "when"
        elif _TRACKING.search(text):
            kind = "tracking"
        elif _PRICE.search(text) and context.order is not None and (
                context.order_named_now or (context.state.order_id and context.state.last_action != "product_info")):
            kind = "total"  # about the order under discussion; after a product question "it" is the product
        elif (_MENTION.search(text) or context.order_named_now) and context.order is not None and not asks_status(situation) \
                and not answers(situation.best, self.services.thresholds.answer_min_similarity):
            # "I ordered a desk lamp last week", "about my desk lamp order"; but "my kettle got cheaper since I
            # bought it, can I get the difference?" asks what a page answers (the price adjustment).
            kind = "mention"
        else:
            return None
        if not orders:
            return self.decision("asked about purchases, none on record", detail="none")
        order = orders[0] if kind == "last" and not context.order_named_now else default_order(situation)
        return self.decision(f"purchase history ({kind})", order=order, detail=kind)

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        order = decision.order
        if order is None:
            return Draft(fmt(self.t.no_orders, fill))
        fields = order_fields(order)
        fields = {k: v for k, v in fields.items() if k not in fill}
        match decision.detail:
            case "contents":
                text = fmt(self.t.order_facts, fill, **fields)
            case "last":
                text = fmt(self.t.last_purchase, fill, **fields)
            case "when":
                text = fmt(self.t.order_when, fill, **fields)
            case "tracking":
                text = fmt(self.t.order_tracking_only if order.tracking else self.t.order_no_tracking, fill, **fields)
            case "total":
                text = fmt(self.t.order_total, fill, **fields)
            case _:
                text = fmt(self.t.order_facts, fill, **fields) + " What would you like to know about it?"
        return Draft(text, sources=(ORDER_SOURCE,))
