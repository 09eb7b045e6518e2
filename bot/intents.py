"""Intent routing: which flow a message belongs to, trained at start-up from ``knowledge/intents.csv``.

Admins add examples to that file (``text,label``); the fitted router is cached in the data
directory under the file's digest, so a restart with unchanged examples loads it in
milliseconds instead of retraining.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.embedder import Embedder
from bot.errors import KnowledgeError

OUT_OF_SCOPE = "oos"


@dataclass(frozen=True, slots=True)
class Intent:
    label: str  # OUT_OF_SCOPE below the confidence threshold
    confidence: float
    best: str  # the best guess even when out of scope


class IntentRouter:
    def __init__(self, classifier: object | None) -> None:
        self._classifier = classifier

    @classmethod
    def load(cls, examples: Path, data_dir: Path, embedder: Embedder, threshold: float) -> IntentRouter:
        if not examples.exists():
            return cls(None)  # no examples: every message goes by knowledge search alone
        from bot.nlp.intents import IntentClassifier

        digest = hashlib.sha256(examples.read_bytes() + f"|{embedder.name}|{threshold}".encode()).hexdigest()[:16]
        cache = data_dir / f"intents-{digest}.pkl"
        if cache.exists():
            return cls(IntentClassifier.load(cache, embedder=embedder))
        try:
            classifier = IntentClassifier(threshold=threshold, embedder=embedder).fit_csv(examples)
        except (ValueError, KeyError) as exc:
            raise KnowledgeError(str(examples), f"cannot train the intent router: {exc}") from exc
        data_dir.mkdir(parents=True, exist_ok=True)
        classifier.save(cache)
        return cls(classifier)

    def route(self, text: str, embedding: np.ndarray) -> Intent:
        if self._classifier is None or not text.strip():
            return Intent(OUT_OF_SCOPE, 0.0, "")
        prediction = self._classifier.predict_one(text, embedding=embedding)  # type: ignore[attr-defined]
        return Intent(prediction.label, round(float(prediction.confidence), 4), prediction.best)
