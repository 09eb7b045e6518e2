"""Casual misspellings corrected before a message is embedded (bot/nlp/spelling.py)."""

from __future__ import annotations

import pytest

from bot.nlp.spelling import EnglishRespeller


@pytest.fixture(scope="module")
def respeller() -> EnglishRespeller:
    return EnglishRespeller(known_words=["Pourpoint", "TrailCharge", "Yirgacheffe", "powerbank"])


@pytest.mark.parametrize(("typed", "meant"), [
    ("my lamp arived brokn!!!", "my lamp arrived broken!!!"),  # "broken", not the commoner "brown"
    ("ur delivery is sooo slow, im realy anoyed", "ur delivery is so slow, im really annoyed"),
    ("the charger stoped workng after a week, so dissapointed",
     "the charger stopped working after a week, so disappointed"),
    ("i recieved the wrong item", "i received the wrong item"),
    ("this is rediculous, thrid time asking", "this is ridiculous, third time asking"),
    ("where is my ordr", "where is my order"),
])
def test_dropped_swapped_and_stretched_letters_become_the_word_meant(respeller: EnglishRespeller, typed: str,
                                                                     meant: str) -> None:
    assert respeller.respell(typed) == meant


@pytest.mark.parametrize("written", [
    "is the pourpoint kettle dishwasher safe",  # a product's name, not "powerpoint"
    "my trailcharge powerbank wont charge",  # chat spellings ("wont") are meant
    "order 1042 hasnt arrived yet, Ana here",  # numbers, names
    "lol ok nvm thx",
    "do you people ever answer?",  # nothing misspelt: nothing to look up at all
    "Yirgacheffe beans, 2 bags",
    "the lamp is flickring",  # two edits and another first letter ("clicking") is another word, not a slip
])
def test_names_products_chat_words_and_correct_text_stay_as_written(respeller: EnglishRespeller,
                                                                    written: str) -> None:
    assert respeller.respell(written) is None


def test_only_messages_with_a_word_in_no_dictionary_need_a_lookup(respeller: EnglishRespeller) -> None:
    assert not respeller.needs_lookup("where is my order?")
    assert respeller.needs_lookup("where is my ordr?")
