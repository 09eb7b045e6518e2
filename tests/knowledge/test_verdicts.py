"""Whether a section's leading "Yes."/"No." answers the question asked, and whether a page is about the
thing a customer asks we have."""

from __future__ import annotations

import pytest

from bot.knowledge.product_words import ProductWords
from bot.knowledge.verdicts import asks_whether_offered, is_about, leading_verdict, offered_thing


@pytest.mark.parametrize("question, thing", [
    ("do you have gift cards?", "gift cards"),
    ("thanks! do you sell gift cards", "gift cards"),
    ("do u sell giftcards", "giftcards"),
    ("can I buy a gift card", "a gift card"),
    ("is there a loyalty program?", "a loyalty program"),
    ("do gift cards expire?", ""),  # a question about gift cards, not whether we have them
    ("do you price match?", ""),
])
def test_a_question_whether_we_have_a_thing_names_it(question: str, thing: str) -> None:
    assert offered_thing(question) == thing


def test_a_page_is_about_the_thing_its_title_names_written_either_way() -> None:
    assert is_about("gift cards", "Gift cards") and is_about("giftcards", "Gift cards")
    assert is_about("a loyalty program", "Trail Rewards loyalty program")
    assert not is_about("price adjustments", "Refunds") and not is_about("gift cards for the EU store", "Gift cards")


def test_a_bare_verdict_is_split_from_what_follows() -> None:
    assert leading_verdict("No. Northwind gift cards never expire.") == ("no", "Northwind gift cards never expire.")
    assert leading_verdict("Yes, you can use up to 5 gift cards.") == ("yes", "You can use up to 5 gift cards.")
    assert leading_verdict("Northwind gift cards are digital.") == ("", "Northwind gift cards are digital.")
    assert leading_verdict("Nothing is due.")[0] == ""  # "No" only as a word of its own


def test_only_a_heading_asking_whether_something_is_offered_keeps_its_verdict_for_such_a_question() -> None:
    assert asks_whether_offered("Do you price match other stores?") and asks_whether_offered("Do you have physical stores?")
    assert not asks_whether_offered("Do gift cards expire?")
    assert not asks_whether_offered("Can I use more than one gift card on an order?")


def test_product_nouns_are_said_as_item() -> None:
    words = ProductWords(["Pourpoint Gooseneck Electric Kettle", "Merino Running Socks 3-Pack", "Halo LED Desk Lamp"])
    assert words.generalised("my kettle got cheaper") == ("my item got cheaper", "my got cheaper")
    assert words.generalised("the socks i got are on sale") == ("the items i got are on sale", "the i got are on sale")
    assert words.generalised("how long does shipping take?") is None
