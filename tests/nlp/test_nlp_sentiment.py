"""The shipped sentiment model: support-language polarity, neutral questions, the embedding path."""

from __future__ import annotations

import numpy as np
import pytest

from bot.embedder import load_embedder
from bot.nlp.sentiment import (
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
        assert data["weights"].shape == (3, 384 + 5)
