"""What customers tell about themselves in their own words, and the questions asking it back."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.customers.spelling import respelt_towards
from bot.customers.told import (asked_what_they_told, best_told, in_their_words, said_back, told_about_themselves,
                                whom_about)


@pytest.mark.parametrize("text, statement", [
    ("my dog is allergic to chicken btw", "my dog is allergic to chicken"),
    ("btw my son just turned 12", "my son just turned 12"),
    ("our kids hate socks lol", "our kids hate socks"),
    ("I'm training for a marathon in March", "I'm training for a marathon in March"),
    ("i work from home", "i work from home"),
])
def test_a_statement_about_themselves_is_told(text: str, statement: str) -> None:
    assert told_about_themselves(text) == statement


@pytest.mark.parametrize("text", [
    "my order is late again",  # a support request
    "my package still hasn't been delivered",
    "my lamp is broken",
    "my daughter just started running and needs shoes",  # shopping: suggestions, not a note
    "my wife loves hiking, looking for a gift",
    "is my dog allergic to chicken?",  # a question
    "what does my dog need?",
    "I like it",  # a verdict on something here
    "i hate waiting",
    "I love you guys",
    "thanks!",
])
def test_requests_questions_and_verdicts_are_not(text: str) -> None:
    assert told_about_themselves(text) == ""


def test_it_is_said_back_in_the_second_person() -> None:
    assert in_their_words("my dog is allergic to chicken") == "your dog is allergic to chicken"
    assert in_their_words("I'm training for a marathon") == "you're training for a marathon"
    assert in_their_words("our kids hate socks") == "your kids hate socks"


@pytest.mark.parametrize("question, topic", [
    ("what did i tell you about my dog?", "my dog"),
    ("what did i tell u about my dog", "my dog"),
    ("do u remember what i told u about my wife?", "my wife"),
    ("Do you remember what I said about my wife", "my wife"),
    ("remind me what I told you about the marathon", "the marathon"),
    ("what do you know about my kids?", "my kids"),
    ("what did I order?", ""),
    ("what did my friend tell you about her dog?", ""),  # someone else's words are not theirs to ask
])
def test_questions_asking_it_back(question: str, topic: str) -> None:
    assert asked_what_they_told(question) == topic


@dataclass(frozen=True)
class Said:
    text: str
    at: str
    similarity: float


def test_the_memory_about_the_topic_is_found_and_an_unrelated_one_never_is() -> None:
    memories = [Said("where is my order 1022?", "2026-11-30T10:00:00+00:00", 0.9),
                Said("my dog is allergic to chicken", "2026-11-29T10:00:00+00:00", 0.6),
                Said("what did I tell you about my dog?", "2026-11-30T11:00:00+00:00", 0.95)]
    assert best_told("my dog", memories) == memories[1]  # plural or not, and never the question itself
    assert best_told("my dogs", memories) == memories[1]
    assert best_told("my wife", memories) is None
    assert best_told("the", memories) is None


def test_a_misspelt_pet_or_relative_is_still_told_and_said_back_respelt() -> None:
    statement = told_about_themselves("my dgo is allergic to chiken")
    assert statement == "my dgo is allergic to chiken"
    assert said_back(statement) == "my dog is allergic to chicken"
    assert whom_about(statement) == "your dog"


@pytest.mark.parametrize("statement", ["my dog is alergic to chikn",  # one slip from "chin", meant "chicken"
                                       "my wife is vegitarian"])  # a changed letter is not guessed back
def test_a_word_we_cannot_read_for_sure_is_not_said_back(statement: str) -> None:
    assert told_about_themselves(statement) and said_back(statement) == ""


def test_a_dropped_letter_is_put_back() -> None:
    assert said_back("my daugther just startd running") == "my daughter just started running"
    assert said_back("my kid plays footbal") == "my kid plays football"


def test_names_and_clean_words_are_said_back_as_they_are() -> None:
    assert said_back("my cat is called Zuzu") == "my cat is called Zuzu"


def test_a_slip_is_respelt_only_towards_one_word_and_never_over_an_english_word() -> None:
    assert respelt_towards("it arrived brokn", {"broken", "damaged"}) == "it arrived broken"
    assert respelt_towards("my cot", {"cat", "dog"}) == "my cot"  # a cot is a word of its own
    assert respelt_towards("the dgo", {"dog", "dug"}) == "the dog"
