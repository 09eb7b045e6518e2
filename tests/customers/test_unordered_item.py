"""A thing the customer calls theirs that none of their orders holds (bot/customers/orders.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.customers.insights import OrderItem, OrderSummary
from bot.customers.orders import unordered_item

ORDERS = [
    OrderSummary("1041", "delivered", datetime(2026, 11, 16, tzinfo=timezone.utc), None, "", 99.90,
                 (OrderItem("ELC-HUB-07", "7-in-1 USB-C Hub", 1), OrderItem("ELC-CHG-65", "65W USB-C GaN Charger", 1))),
    OrderSummary("1003", "delivered", datetime(2026, 5, 6, tzinfo=timezone.utc), None, "", 39.00,
                 (OrderItem("HOF-FTR-01", "Ridgeline Adjustable Footrest", 1),)),
]


@pytest.mark.parametrize(("text", "thing"), [
    ("where is my jacket?", "jacket"),
    ("my jacket arrived torn", "jacket"),
    ("i want to return my new shoes", "shoes"),
    ("where is my blue jacket?", "blue jacket"),  # the whole name, not "blue"
    ("i want to return my jacket, it doesnt fit", "jacket"),
])
def test_a_thing_no_order_holds_is_named(text: str, thing: str) -> None:
    assert unordered_item(text, ORDERS) == thing


@pytest.mark.parametrize("text", [
    "where is my hub?", "my chargers stopped working", "can i return my footrest",  # theirs
    "my usb-c charger is broken", "where is my last order",
    "where is my order?", "where is my refund", "my package never came", "my money back please",  # the order, money
    "my husband's parcel", "my dog hates the food",  # people and pets are not things ordered
])
def test_their_own_items_the_order_itself_money_and_people_are_not(text: str) -> None:
    assert unordered_item(text, ORDERS) is None


def test_without_orders_there_is_nothing_to_compare_with() -> None:
    assert unordered_item("where is my jacket?", []) is None
