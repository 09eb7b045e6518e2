"""Someone asks about another person's order or account ("can you check ana@example.com's order?", "my
husband ordered a tent, where is it?", "what did Ben order?"): say plainly that only the account
holder's own orders can be looked at, and how the other person can get help — never whether that
order exists, never a word of it."""

from __future__ import annotations

import re

from bot.customers.orders import find_order, order_numbers
from bot.handlers.base import PERSON, Decision, Draft, Handler, Outcome, Situation, fmt

_PEOPLE = (r"(?:husband|wife|partner|boyfriend|girlfriend|fianc[ée]e?|friend|mom|mum|mother|dad|father|son|"
           r"daughter|brother|sister|boss|colleague|coworker|neighbou?r|roommate|flatmate|grandma|grandpa|aunt|uncle|"
           r"cousin|client|customer)")
_ORDER_WORDS = r"(?:orders?|account|package|parcel|purchases?|delivery|tracking|refund|return|shipment)"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ABOUT_OTHERS = re.compile(
    # "my husband's order", "my friend Priya's package", "Ben's order", "his account"; typed without the
    # apostrophe too ("its my husbands order")
    rf"\b(?:my\s+{_PEOPLE}(?:\s+[A-Z][a-z]+)?)(?:'s|’s|s'|s)\s+(?:\w+\s+)?{_ORDER_WORDS}\b|"
    # "Ben's order", but not "Northwind's return policy": a name's own order, account or parcel only
    r"\b[A-Z][a-z]{2,}(?:'s|’s)\s+(?:orders?|account|package|parcel|purchases?|tracking|shipment)\b|"
    rf"\b(?:his|her|their)\s+{_ORDER_WORDS}\b|"
    # "my husband ordered a tent", "my wife placed an order"
    rf"\bmy\s+{_PEOPLE}\s+(?:ordered|bought|placed|purchased|paid for)\b|"
    # "what did Ben order?", "what has she bought?"
    r"\bwhat\s+(?:did|has)\s+(?:he|she|they|[A-Z][a-z]{2,})\s+(?:order|ordered|buy|bought|purchase)\b")
_BOUGHT_FOR = re.compile(r"\b(?:I|we)\s+(?:ordered|bought)\b.*\bfor\s+(?:my|a)\b", re.I)  # "I ordered it for my wife"


# An email the customer gives as their own ("it's me (ana.private@…)", "my other email is …") is theirs.
_OWN_EMAIL_BEFORE = re.compile(r"(?:\bmy\b[^.?!@]{0,25}|\b(?:it'?s|this is|i'?m|i am)\s+(?:me\b)?[\s(:,-]*)$", re.I)
# ... one asked about is another's: "ben@….com's order", "what ben@… ordered", "check ben@…".
_OTHERS_EMAIL_AFTER = re.compile(r"^(?:'s|’s|\s+(?:\w+\s+){0,2}?(?:ordered|bought|purchased|orders?|account|package|parcel)\b)", re.I)
_OTHERS_EMAIL_BEFORE = re.compile(r"\b(?:check|look up|look at|find|track|for|of)\s+$", re.I)


def _asks_about_another_email(text: str, own_email: str | None) -> bool:
    own = (own_email or "").lower()
    for match in _EMAIL.finditer(text):
        if match.group(0).lower() == own:
            continue
        before, after = text[:match.start()], text[match.end():]
        if _OWN_EMAIL_BEFORE.search(before):
            continue
        if _OTHERS_EMAIL_AFTER.match(after) or _OTHERS_EMAIL_BEFORE.search(before):
            return True
    return False


def about_someone_else(text: str, own_email: str | None) -> bool:
    """Whether ``text`` asks about another person's order or account."""
    if _asks_about_another_email(text, own_email):
        return True
    return bool(_ABOUT_OTHERS.search(text)) and not _BOUGHT_FOR.search(text)


class OthersOrder(Handler):
    name = "others_order"

    def decide(self, situation: Situation) -> Decision | None:
        if situation.understanding.command is not None:
            return None
        if not about_someone_else(situation.text, situation.customer.email):
            return None
        insights = situation.context.insights
        orders = insights.orders or insights.recent_orders
        # An order number on this account is theirs to ask about, whoever they say it is for.
        numbers = order_numbers(situation.text)
        if any(find_order(number, orders) is not None for number in numbers):
            return None
        return self.decision("asked about another person's order or account", order_ref=numbers[0] if numbers else "")

    def compose(self, situation: Situation, decision: Decision, outcome: Outcome, fill: dict[str, str]) -> Draft:
        if decision.order_ref:
            return Draft(fmt(self.t.others_order_ref, fill, order_ref=decision.order_ref), suggestions=(PERSON,))
        return Draft(fmt(self.t.others_order, fill), suggestions=(PERSON,))
