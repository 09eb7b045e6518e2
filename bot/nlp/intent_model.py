"""The fitted intent router as plain arrays: what the running bot predicts with, numpy alone.

:class:`bot.nlp.intents.IntentClassifier` trains with scikit-learn (two TF-IDF vectorizers and a
linear SVM); :meth:`~bot.nlp.intents.IntentClassifier.export` copies what prediction needs —
each vectorizer's vocabulary and idf weights, the SVM's coefficients and intercepts, the
confidence calibration — into a :class:`LinearIntentModel`, saved as one ``.npz`` without
pickle. Loading and predicting with it never imports scikit-learn or scipy (72 MB of resident
memory for the router's scikit-learn, measured in ``bot/nlp/README.md``).

The TF-IDF transforms below reproduce scikit-learn 1.x's ``TfidfVectorizer`` for the settings
the classifier uses (lowercase, default token pattern, ``char_wb`` analyzer, sublinear tf, l2
norm); :meth:`IntentClassifier.export` refuses any other setting, so the two cannot drift
apart silently. ``tests/nlp/test_intent_model.py`` checks they give the same decision values.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import RapportError
from bot.nlp.intents import IntentPrediction, _confidences, predictions

FORMAT = 1
# scikit-learn's default token_pattern and its char_wb whitespace normaliser.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")


def word_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Lowercased word n-grams of ``text``, as ``TfidfVectorizer(analyzer="word")`` makes them."""
    tokens = _TOKEN.findall(text.lower())
    low, high = ngram_range
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """Character n-grams inside space-padded words, as ``TfidfVectorizer(analyzer="char_wb")`` makes them.

    A word shorter than n (padded) yields one n-gram, and then no longer ones: that is
    scikit-learn's loop, kept as it is so that both give the same features."""
    low, high = ngram_range
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        word = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(word[offset : offset + n])
            while offset + n < len(word):
                offset += 1
                grams.append(word[offset : offset + n])
            if offset == 0:
                break
    return grams


class TfidfBlock:
    """One fitted vectorizer: its terms (column order), idf per column, and how it cuts a text."""

    def __init__(self, terms: np.ndarray, idf: np.ndarray, analyzer: str, ngram_range: tuple[int, int]) -> None:
        if analyzer not in ("word", "char_wb"):
            raise RapportError(f"no TF-IDF analyzer {analyzer!r} here", fix="use 'word' or 'char_wb'")
        self.terms = np.asarray(terms)
        self.index = {term: column for column, term in enumerate(self.terms.tolist())}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.analyzer = analyzer
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))

    def __len__(self) -> int:
        return len(self.terms)

    def transform(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of the text's l2-normalised sublinear TF-IDF row."""
        grams = word_ngrams(text, self.ngram_range) if self.analyzer == "word" else char_wb_ngrams(
            text, self.ngram_range)
        counts = Counter(self.index[gram] for gram in grams if gram in self.index)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (np.log(tf) + 1.0) * self.idf[columns]
        norm = math.sqrt(float(values @ values))
        return columns, (values / norm if norm > 0 else values)


class LinearIntentModel:
    """Predicts like the :class:`~bot.nlp.intents.IntentClassifier` it was exported from.

    Features are ``[word TF-IDF | char TF-IDF | embedding x embedding_weight]`` (the embedding
    block only when ``uses_embeddings``); ``coef`` is labels x features, as scikit-learn's
    ``LinearSVC.coef_`` (one row for two labels). ``embedder`` as for the classifier: anything
    with ``embed(list[str])``, used only when a prediction is asked without the message's
    embedding. Build with :meth:`IntentClassifier.export` or :meth:`load`.
    """

    def __init__(
        self,
        *,
        labels: np.ndarray,
        word: TfidfBlock,
        char: TfidfBlock,
        coef: np.ndarray,
        intercept: np.ndarray,
        calibration: np.ndarray,
        threshold: float,
        embedding_weight: float,
        uses_embeddings: bool,
        embedder: Any = None,
    ) -> None:
        self.labels_ = np.asarray(labels)
        self._word, self._char = word, char
        self.calibration = np.asarray(calibration, dtype=np.float64)
        self.threshold = float(threshold)
        self.embedding_weight = float(embedding_weight)
        self.uses_embeddings = bool(uses_embeddings)
        self._coef = np.asarray(coef, dtype=np.float64)
        # Columns as rows, so a message's few non-zero features gather contiguous rows.
        self._weights = np.ascontiguousarray(self._coef.T)
        self._intercept = np.asarray(intercept, dtype=np.float64)
        self._embedder = embedder

    # ----------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        """One ``.npz`` of plain arrays (strings as fixed-width unicode): no pickle to trust."""
        arrays = {
            "format": np.array(FORMAT), "labels": self.labels_, "calibration": self.calibration,
            "threshold": np.array(self.threshold), "embedding_weight": np.array(self.embedding_weight),
            "uses_embeddings": np.array(self.uses_embeddings), "coef": self._coef, "intercept": self._intercept,
        }
        for name, block in (("word", self._word), ("char", self._char)):
            arrays.update({f"{name}_terms": block.terms, f"{name}_idf": block.idf,
                           f"{name}_ngrams": np.array(block.ngram_range)})
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path, embedder: Any = None) -> LinearIntentModel:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or int(data["format"]) != FORMAT:
                raise RapportError(f"{path} is not an intent model this version reads",
                                   fix="delete it; the router is trained again at the next start")
            return cls(
                labels=data["labels"],
                word=TfidfBlock(data["word_terms"], data["word_idf"], "word", tuple(data["word_ngrams"].tolist())),
                char=TfidfBlock(data["char_terms"], data["char_idf"], "char_wb", tuple(data["char_ngrams"].tolist())),
                coef=data["coef"], intercept=data["intercept"], calibration=data["calibration"],
                threshold=float(data["threshold"]), embedding_weight=float(data["embedding_weight"]),
                uses_embeddings=bool(data["uses_embeddings"]), embedder=embedder,
            )

    # ----------------------------------------------------------------------------- prediction
    def _embeddings(self, texts: Sequence[str], embeddings: np.ndarray | None) -> np.ndarray | None:
        if not self.uses_embeddings:
            return None
        if embeddings is None:
            if self._embedder is None:
                from bot.embedder import load_embedder

                self._embedder = load_embedder()
            embeddings = self._embedder.embed(list(texts))
        return np.asarray(np.asarray(embeddings, dtype=np.float32), dtype=np.float64) * self.embedding_weight

    def decision_scores(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """The SVM's decision values, one column per label in ``labels_``."""
        texts = [str(text) for text in texts]
        scores = np.tile(self._intercept, (len(texts), 1))
        dense = self._embeddings(texts, embeddings) if texts else None
        offset = len(self._word) + len(self._char)
        for row, text in enumerate(texts):
            for block, start in ((self._word, 0), (self._char, len(self._word))):
                columns, values = block.transform(text)
                if len(columns):
                    scores[row] += values @ self._weights[start + columns]
            if dense is not None:
                scores[row] += dense[row] @ self._weights[offset:]
        if scores.shape[1] == 1:  # two classes: one column for the second, as scikit-learn gives it
            scores = np.hstack([-scores / 2, scores / 2])
        return scores

    def confidences(self, scores: np.ndarray) -> np.ndarray:
        return _confidences(self.calibration, scores)

    def predict(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None, threshold: float | None = None
    ) -> list[IntentPrediction]:
        """Predict a batch; ``embeddings`` lets the engine reuse the vectors it already computed."""
        threshold = self.threshold if threshold is None else threshold
        scores = self.decision_scores(texts, embeddings)
        return predictions(self.labels_, scores, self.confidences(scores), threshold)

    def predict_one(self, text: str, embedding: np.ndarray | None = None) -> IntentPrediction:
        embeddings = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return self.predict([text], embeddings)[0]
