"""Which of a customer's orders a message is about, using the conversation so far."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.customers.insights import OrderSummary

_ORDER_NUMBER = re.compile(r"#?\b([A-Z]{0,3}-?\d{3,10})\b", re.I)
_STOP = {"the", "a", "an", "my", "and", "of", "for", "with", "set", "pack", "men's", "women's", "-", "&"}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP and len(w) > 2}


def _singular(words: set[str]) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}


def mentioned_order(text: str, orders: Sequence[OrderSummary]) -> OrderSummary | None:
    """An order this text names by number or by one of its products, if any."""
    numbers = {m.group(1).lstrip("#").upper() for m in _ORDER_NUMBER.finditer(text)}
    for order in orders:
        if order.order_id.upper() in numbers:
            return order
    said = _singular(_words(text))
    best, best_overlap = None, 0
    for order in orders:  # newest first: ties go to the most recent order
        for item in order.items:
            name = _singular(_words(item.name))
            shared = said & name
            head = _singular(_words(item.name.split(",")[0].split()[-1]))  # "Halo LED Desk Lamp" -> lamp
            # Two shared words ("desk lamp"), or the product's head noun ("my lamp").
            if len(shared) > best_overlap and (len(shared) >= 2 or shared & head):
                best, best_overlap = order, len(shared)
    return best


def named_earlier(earlier: Sequence[str], orders: Sequence[OrderSummary]) -> OrderSummary | None:
    """The order named last by earlier messages of the conversation (oldest first in ``earlier``)."""
    for previous in reversed(earlier):
        named = mentioned_order(previous, orders)
        if named is not None:
            return named
    return None
