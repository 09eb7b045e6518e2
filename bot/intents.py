"""Intent routing: which flow a message belongs to, trained at start-up from ``knowledge/intents.csv``.

Admins add examples to that file (``text,label``); the fitted router is exported to plain arrays
and cached in the data directory under the file's digest, so a restart with unchanged examples
loads it in milliseconds instead of retraining, and predicting never imports scikit-learn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.embedder import Embedder
from bot.errors import ConfigError, KnowledgeError, RapportError

if TYPE_CHECKING:
    from bot.nlp.intent_model import LinearIntentModel


class IntentLabel(StrEnum):
    """The labels of knowledge/intents.csv that code compares with. Admins may add and rename other
    intents freely; these must stay, which :func:`check_intent_labels` makes sure of at start-up."""

    HUMAN_AGENT = "human_agent"
    ORDER_STATUS = "order_status"
    PRODUCT_SEARCH = "product_search"
    LINK_ACCOUNT = "link_account"
    PRIVACY = "privacy"
    # Never in the file: the router's answer when no intent fits well enough.
    OUT_OF_SCOPE = "oos"


OUT_OF_SCOPE = IntentLabel.OUT_OF_SCOPE

# What each relied-on label does, for the error an admin sees after renaming one.
_ROUTES = {
    IntentLabel.HUMAN_AGENT: "hands the conversation to a person with",
    IntentLabel.ORDER_STATUS: "routes order questions with",
    IntentLabel.PRODUCT_SEARCH: "routes product and gift questions to recommendations with",
    IntentLabel.LINK_ACCOUNT: "offers to link accounts across platforms with",
    IntentLabel.PRIVACY: "answers privacy and data requests (/export, /forget) with",
}


def check_intent_labels(examples: Path, handoff_intents: Sequence[str], shown: str = "") -> None:
    """Raise ConfigError when ``examples`` (knowledge/intents.csv) lacks a label the code routes with or
    one that config ``handoff.intents`` names; a renamed intent would otherwise be a silent miss.
    No file is a fresh install: nothing is routed by intent then, so there is nothing to check.
    ``shown``: how to name the file in the message (default: its path)."""
    if not examples.exists():
        return
    from bot.nlp.intents import read_examples_csv  # numpy only; the classifier is not needed to read labels

    shown = shown or str(examples)
    try:
        labels = set(read_examples_csv(examples)[1])
    except RapportError as error:
        raise ConfigError(error.message, fix=error.fix) from error
    findings: list[str] = []
    fixes: list[str] = []
    for label, route in _ROUTES.items():
        if label not in labels:
            findings.append(f"{shown} has no intent '{label}', which Rapport {route}")
            fixes.append(f"restore the label '{label}' in {shown} (rename your own intents freely, not this one)")
    known = ", ".join(sorted(labels))
    for label in handoff_intents:
        if label not in labels:
            findings.append(f"handoff.intents names '{label}', which {shown} does not have (its intents: {known})")
            fixes.append(f"in config.yaml, change '{label}' under handoff.intents to one of those, "
                         f"or add examples labelled '{label}' to {shown}")
    if findings:
        raise ConfigError("\n".join(findings), fix="; ".join(fixes))


@dataclass(frozen=True, slots=True)
class Intent:
    label: str  # OUT_OF_SCOPE below the confidence threshold
    confidence: float
    best: str  # the best guess even when out of scope


class IntentRouter:
    """Routes a message with the :class:`~bot.nlp.intent_model.LinearIntentModel` trained on the
    examples file; predicting needs numpy alone (training runs in a child process)."""

    def __init__(self, model: LinearIntentModel | None) -> None:
        self._model = model

    @classmethod
    def load(cls, examples: Path, data_dir: Path, embedder: Embedder, threshold: float) -> IntentRouter:
        """The router for ``examples``: from the data directory's cache when the file, the
        embedder and the threshold are unchanged, else trained (and cached) now."""
        if not examples.exists():
            return cls(None)  # no examples: every message goes by knowledge search alone
        from bot.nlp.intent_model import LinearIntentModel
        from bot.nlp.intents import read_examples_csv
        from bot.nlp.router_training import train_router

        digest = hashlib.sha256(examples.read_bytes() + f"|{embedder.name}|{threshold}".encode()).hexdigest()[:16]
        cache = data_dir / f"intents-{digest}.npz"
        if not cache.exists():
            try:
                texts, labels = read_examples_csv(examples)
                train_router(texts, labels, embedder.embed(texts), threshold, cache)
            except RapportError as exc:
                raise KnowledgeError(str(examples), f"cannot train the intent router: {exc.message}") from exc
        return cls(LinearIntentModel.load(cache, embedder=embedder))

    def route(self, text: str, embedding: np.ndarray) -> Intent:
        if self._model is None or not text.strip():
            return Intent(OUT_OF_SCOPE, 0.0, "")
        prediction = self._model.predict_one(text, embedding=embedding)
        return Intent(prediction.label, round(float(prediction.confidence), 4), prediction.best)
