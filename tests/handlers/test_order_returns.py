"""A return of one of the customer's items gets the returns section for its case: the catalog's note
on the item (consumables are non-returnable once opened) and what the customer says of its state."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import pytest

from bot.customers.insights import OrderItem, OrderSummary
from bot.handlers.order_problem import _item_meant, _problem
from bot.runtime import Runtime
from bot.types import Reply
from tests.recording import RecordingAdapter

RETURNS = "knowledge/pages/returns.md"


async def _say(runtime: Runtime, ref: str, text: str) -> Reply:
    customer = await runtime.customers.find(ref)
    user = f"U-{ref}"
    await runtime.customers.attach(customer, "test", "W1", user)
    # A channel per message: each is the first of its conversation, with nothing under discussion.
    reply = await RecordingAdapter(runtime.engine.handle).say(text, user=user, channel=f"D{zlib.crc32(text.encode())}")
    assert reply is not None
    return reply


@pytest.mark.parametrize(("ref", "text", "order", "section"), [
    ("ana.silva@example.com", "can I send back the coffee beans I got with the kettle? I opened the bag already",
     "1022", "Which items can't be returned?"),
    ("ana.silva@example.com", "can I send back the running socks? I've worn them once", "999",
     "Which items can't be returned?"),
    ("ana.silva@example.com", "can I return the kettle? I used it once", "1022", "What is your return policy?"),
    ("ana.silva@example.com", "I want to return my trail shoes, I only ran in them twice", "999",
     "Can I return running shoes I've already worn?"),
    ("ben.okafor@example.com", "I want to send back the training treats from order 1013, the seal is broken", "1013",
     "Which items can't be returned?"),
    # A consumable's return gets the rules for opened and unopened ones, whatever the words say.
    ("ana.silva@example.com", "can I return the coffee beans? they're still sealed", "1022",
     "Which items can't be returned?"),
    # Ordinary returns keep the general answer.
    ("ana.silva@example.com", "I want to return the kettle", "1022", "How do I start a return?"),
    ("ana.silva@example.com", "how do i send back the socks", "999", "How do I start a return?"),
])
async def test_a_return_gets_the_section_for_its_case(sampled: Runtime, ref: str, text: str, order: str,
                                                      section: str) -> None:
    reply = await _say(sampled, ref, text)
    assert order in reply.text
    assert (reply.sources[0].path, reply.sources[0].section) == (RETURNS, section)


def _order(*names: str) -> OrderSummary:
    items = tuple(OrderItem(sku=f"SKU-{i}", name=n, quantity=1) for i, n in enumerate(names))
    return OrderSummary("1", "delivered", datetime(2026, 1, 1, tzinfo=UTC), None, "", 10.0, items)


def test_the_item_meant_is_the_one_named_first() -> None:
    order = _order("Pourpoint Gooseneck Electric Kettle", "Yirgacheffe Single-Origin Coffee Beans, 12 oz")
    assert _item_meant("can I send back the coffee beans I got with the kettle?", order) == order.items[1]
    assert _item_meant("can I return the kettle I got with the beans?", order) == order.items[0]
    assert _item_meant("can I return it?", order) is None  # two items, neither named
    single = _order("Trailmix Grain-Free Dog Food, 24 lb")
    assert _item_meant("can I return it?", single) == single.items[0]


def test_a_broken_seal_on_a_return_is_a_return_not_a_warranty_claim() -> None:
    seal = _problem("can I send the treats back? the seal is broken")
    assert seal is not None and seal.kind == "return"
    lamp = _problem("my lamp is broken")
    assert lamp is not None and lamp.kind == "warranty"
