"""Sentiment of a customer message: label, score in [-1, 1], confidence."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from bot.types import Sentiment, SentimentLabel


class SentimentScorer(Protocol):
    def score(self, text: str) -> Sentiment: ...

    def score_embedding(self, text: str, embedding: np.ndarray) -> Sentiment:
        """Score with the message's embedding, already computed by the engine."""


class VaderScorer:
    """VADER's lexicon, shipped inside ``vaderSentiment``: fast and offline."""

    def __init__(self, neutral_band: float = 0.05) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self._band = neutral_band

    def score_embedding(self, text: str, embedding: np.ndarray) -> Sentiment:
        return self.score(text)  # a lexicon has no use for the embedding

    def score(self, text: str) -> Sentiment:
        compound = float(self._analyzer.polarity_scores(text)["compound"])
        if compound <= -self._band:
            label = SentimentLabel.NEGATIVE
        elif compound >= self._band:
            label = SentimentLabel.POSITIVE
        else:
            label = SentimentLabel.NEUTRAL
        # Confidence grows with distance from the neutral band's edge (or from zero, inside it).
        if label is SentimentLabel.NEUTRAL:
            confidence = 1.0 - abs(compound) / self._band / 2
        else:
            confidence = abs(compound)
        return Sentiment(label, round(compound, 4), round(confidence, 3))


def load_scorer(kind: str) -> SentimentScorer:
    """The configured scorer: the trained embedding classifier (default) or VADER."""
    if kind == "vader":
        return VaderScorer()
    from bot.nlp.sentiment import load_sentiment_scorer

    return load_sentiment_scorer()
