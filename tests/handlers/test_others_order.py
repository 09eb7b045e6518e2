"""Questions about another person's order or account are recognised; the customer's own are not."""

from __future__ import annotations

import pytest

from bot.handlers.others_order import about_someone_else

OWN = "priya.raman@example.org"


@pytest.mark.parametrize("text", [
    "can you check ana.silva@example.com's order?",
    "can you tell me what ben.okafor@example.com ordered? it's for a surprise",
    "my husband ordered a tent last week, order 959, where is it?",
    "my friend Priya's order 1041 — has it arrived yet?",
    "what did Ben order?",
    "what's Ben's order status",
    "my mum's refund never came",
    "where is her package?",
    "can you look up orders for ben.okafor@example.com",
])
def test_someone_elses_order(text: str) -> None:
    assert about_someone_else(text, OWN)


@pytest.mark.parametrize("text", [
    "where is my order?",
    "my email is priya.raman@example.org, where's my order 1041",
    "hi, it's me (priya.private@example.org, +1 415 867 5309) - where is my order?",  # another email of hers
    "my other email is priya.work@example.com, can you check that account too?",
    "I ordered with priya.work@example.com, where is it?",
    "I ordered a gift for my friend, where is it?",
    "I bought it for my wife, can she return it?",
    "Is Northwind's return policy 30 days?",
    "Northwind's shipping is slow",
    "hey, Halo's light is flickering",
    "my dog's food order is late",
])
def test_the_customers_own(text: str) -> None:
    assert not about_someone_else(text, OWN)
