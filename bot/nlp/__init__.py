"""Offline NLP models on top of the shared MiniLM embedder: sentiment and intent classification.

* :class:`EmbeddingSentimentScorer` (``bot.nlp.sentiment``): a ``SentimentScorer`` with
  ``score(text)``, ``score_embedding(text, embedding)`` and ``score_batch(texts, embeddings)``;
  weights ship in ``sentiment_model.npz`` (trained by ``scripts/train_sentiment.py``).
* :class:`IntentClassifier` (``bot.nlp.intents``): trained from ``text,label`` CSVs or example
  lists, predicts ``(label, confidence)`` with ``oos`` below a confidence threshold;
  :func:`evaluate_intents` trains on one CSV and tests on another.

Heavy imports (scikit-learn, torch) happen only inside the functions that need them.
"""

from bot.nlp.intents import (
    OOS,
    IntentClassifier,
    IntentPrediction,
    evaluate_intents,
    read_examples_csv,
)
from bot.nlp.sentiment import EmbeddingSentimentScorer, load_sentiment_scorer

__all__ = [
    "OOS",
    "EmbeddingSentimentScorer",
    "IntentClassifier",
    "IntentPrediction",
    "evaluate_intents",
    "load_sentiment_scorer",
    "read_examples_csv",
]
