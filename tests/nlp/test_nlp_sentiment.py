"""The shipped sentiment model: support-language polarity, neutral questions, the embedding path."""

from __future__ import annotations

import numpy as np
import pytest

from bot.embedder import load_embedder
from bot.nlp.sentiment import (
    EXTRA_FEATURES,
    MODEL_PATH,
    EmbeddingSentimentScorer,
    load_sentiment_scorer,
)
from bot.types import Sentiment, SentimentLabel

REFUND = "My refund still hasn't arrived, terrible service"


@pytest.fixture(scope="module")
def scorer() -> EmbeddingSentimentScorer:
    return load_sentiment_scorer()


def test_refund_complaint_is_negative(scorer):
    result = scorer.score(REFUND)
    assert result.label is SentimentLabel.NEGATIVE
    assert result.score < -0.3


@pytest.mark.parametrize(
    "text",
    [
        "I was charged twice for the same order and nobody answers my emails.",
        "The package arrived broken and support keeps ignoring me.",
    ],
)
def test_complaints_are_negative(scorer, text):
    assert scorer.score(text).label is SentimentLabel.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "This blender is fantastic: it crushes ice in seconds and is easy to clean.",
        "Thanks so much, the issue is fixed and your agent was lovely.",
    ],
)
def test_clear_praise_is_positive(scorer, text):
    result = scorer.score(text)
    assert result.label is SentimentLabel.POSITIVE
    assert result.score > 0.3


@pytest.mark.parametrize("text", ["How do I change the email address on my account?", "What are your opening hours?"])
def test_plain_questions_are_neutral(scorer, text):
    assert scorer.score(text).label is SentimentLabel.NEUTRAL


def test_precomputed_embedding_gives_the_same_answer(scorer):
    texts = [REFUND, "Great service, thank you!"]
    vectors = load_embedder().embed(texts)
    batch = scorer.score_batch(texts, vectors)
    assert [scorer.score_embedding(t, v) for t, v in zip(texts, vectors)] == batch
    assert [b.label for b in batch] == [SentimentLabel.NEGATIVE, SentimentLabel.POSITIVE]


def test_values_are_in_range(scorer):
    for result in scorer.score_batch(["ok", "!!!", "", "I hate waiting but the fix worked"]):
        assert isinstance(result, Sentiment)
        assert -1.0 <= result.score <= 1.0
        assert 0.0 <= result.confidence <= 1.0
    assert scorer.score_batch([]) == []


def test_wrong_embedding_size_is_refused(scorer):
    with pytest.raises(Exception, match="384"):
        scorer.score_embedding("hello", np.zeros(128, dtype=np.float32))


def test_model_file_is_small_and_pickle_free():
    assert MODEL_PATH.stat().st_size < 2 * 1024 * 1024
    with np.load(MODEL_PATH, allow_pickle=False) as data:
        assert data["weights"].shape == (3, 384 + len(EXTRA_FEATURES))


@pytest.mark.parametrize("text", ["this is the second time, im really fed up with this",
                                  "your products are junk and support is useless"])
def test_issue_13_frustration_scores_negative(scorer, text):
    assert scorer.score(text).score < 0


def test_issue_13_open_question_is_not_negative(scorer):
    # Held out: the sentence is in the support test set, which training drops; requests for
    # suggestions in other words are in the training sentences.
    result = scorer.score("any other suggestions?")
    assert result.score > -0.2 and result.label is not SentimentLabel.NEGATIVE


def test_labels_follow_scores(scorer):
    """A higher score never carries a less positive label (the label is read off the score)."""
    texts = ["hi", "hello", "ok", "thanks", "terrible", "where is my order?", "I love it", "meh", "it broke again"]
    rank = {SentimentLabel.NEGATIVE: 0, SentimentLabel.NEUTRAL: 1, SentimentLabel.POSITIVE: 2}
    results = sorted(scorer.score_batch(texts), key=lambda r: r.score)
    assert [rank[r.label] for r in results] == sorted(rank[r.label] for r in results)
    assert {scorer.score(t).label for t in ("hi", "hello")} == {SentimentLabel.NEUTRAL}


def test_support_test_set_is_never_trained_on_and_mostly_right(scorer):
    from bot.nlp import datasets

    train = {" ".join(e.text.lower().split()) for e in datasets.support_examples()}
    test = datasets.support_test_examples()
    assert len(test) >= 200 and not train & {" ".join(e.text.lower().split()) for e in test}
    polar = [e for e in test if e.label != "neutral"]
    right = [(s.score > 0) == (e.label == "positive") for e, s in zip(polar, scorer.score_batch([e.text for e in polar]))]
    assert sum(right) / len(right) >= 0.85  # loose: the measured figure is in bot/nlp/README.md


@pytest.mark.parametrize("text", ["WHERE IS MY LAMP??? this is the third time im asking",
                                  "how many times do i have to ask for my refund",
                                  "this is the 4th time I've emailed about this"])
def test_shouting_and_repeat_contact_are_negative(scorer, text):
    # The first was neutral at +0.07: shouting and "third time" weighed almost nothing against
    # words with no polarity. None of the three is a training sentence.
    result = scorer.score(text)
    assert result.label is SentimentLabel.NEGATIVE and result.score < -0.3


@pytest.mark.parametrize("text", ["are the merino socks itchy?", "does the water bottle leak?",
                                  "is the backpack heavy?"])
def test_product_attribute_questions_are_neutral(scorer, text):
    # "are the merino socks itchy?" was negative at -0.50: VADER and the embedding read the
    # attribute word as a complaint. A plain question about it is not one.
    assert scorer.score(text).label is SentimentLabel.NEUTRAL


def test_the_parcel_turning_up_is_positive(scorer):
    result = scorer.score("nvm it just arrived lol")
    assert result.label is SentimentLabel.POSITIVE and result.score > 0.3


def test_cue_features():
    from bot.nlp.sentiment import extra_features

    column = {name: i for i, name in enumerate(EXTRA_FEATURES)}
    rows = extra_features(["WHERE IS MY LAMP??? this is the third time im asking", "are the socks itchy?",
                           "I asked for the invoice three times now", "take it three times a day",
                           "Why is my parcel late?", "I ordered it on Monday"])
    shout, socks, asked, dosage, why, monday = rows
    assert shout[column["repeated_question"]] == 1 and shout[column["frustration"]] == 1
    assert shout[column["caps"]] == pytest.approx(13 / 39)  # WHERE IS MY LAMP: 13 of 39 letters
    assert socks[column["plain_question"]] == 1 and socks[column["repeated_question"]] == 0
    assert asked[column["frustration"]] == 1 and dosage[column["frustration"]] == 0
    assert why[column["plain_question"]] == 0 and shout[column["plain_question"]] == 0
    assert monday[column["caps"]] == 0  # ordinary capitals are not shouting


def test_told_facts_and_unmarked_questions_are_cue_features():
    from bot.nlp.sentiment import extra_features

    column = {name: i for i, name in enumerate(EXTRA_FEATURES)}
    rows = extra_features(["my dog is allergic to chicken btw", "I am allergic to wool", "my dog hates your food",
                           "is there a warranty", "have been waiting three weeks for my order",
                           "do you people ever answer"])
    dog, wool, food, warranty, waiting, ever = rows
    assert dog[column["told_fact"]] == 1 and wool[column["told_fact"]] == 1
    assert food[column["told_fact"]] == 0  # addressed to us: a complaint, not a fact about them
    assert warranty[column["plain_question"]] == 1  # no "?", but only a question opens so
    assert waiting[column["plain_question"]] == 0  # "have been…" opens statements too
    assert ever[column["frustration"]] == 1 and ever[column["plain_question"]] == 0


@pytest.mark.parametrize("text", ["my dog is allergic to chicken btw", "my daughter hates the color pink",
                                  "I am allergic to wool", "is there a warranty", "do you ship to canada"])
def test_facts_told_and_questions_without_a_question_mark_are_not_complaints(scorer, text):
    # Facts a customer tells about themselves or their family read as complaints to the embedding
    # ("allergic", "hates"): three in a row once handed a customer to a person.
    assert scorer.score(text).label is SentimentLabel.NEUTRAL


@pytest.mark.parametrize("text", ["my dog hates your food", "my son is allergic and you still sent nuts"])
def test_the_same_words_aimed_at_us_stay_negative(scorer, text):
    assert scorer.score(text).label is SentimentLabel.NEGATIVE
