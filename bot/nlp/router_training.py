"""Train the intent router in a child process, so the serving process never imports scikit-learn.

:func:`train_router` hands the examples and their embeddings (computed by the caller's embedder,
so the child loads no model) to ``python -m bot.nlp.router_training IN OUT``; the child fits an
:class:`~bot.nlp.intents.IntentClassifier`, exports it and writes the
:class:`~bot.nlp.intent_model.LinearIntentModel` to ``OUT``. scikit-learn's ~72 MB stay in the
child and are given back when it exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.errors import RapportError

_ROOT = Path(__file__).resolve().parent.parent.parent  # the directory holding the bot package


class _NoEmbedder:
    """The child gets every embedding it needs; asking for more is a bug, not a model download."""

    name = "none"

    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("router training was handed no embeddings for these texts")


def train_router(
    texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray | None, threshold: float, out: Path
) -> None:
    """Fit on ``texts``/``labels`` (``embeddings``: one row per text, or None for TF-IDF alone) in
    a child process and write the exported model to ``out``. Raises RapportError with the
    child's last error line when training fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rapport-router-") as scratch:
        given = Path(scratch) / "examples.npz"
        np.savez(given, texts=np.array([str(t) for t in texts]), labels=np.array([str(label) for label in labels]),
                 embeddings=np.zeros((0, 0), np.float32) if embeddings is None else np.asarray(embeddings, np.float32),
                 uses_embeddings=np.array(embeddings is not None), threshold=np.array(float(threshold)))
        written = Path(scratch) / "model.npz"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])))
        done = subprocess.run([sys.executable, "-m", "bot.nlp.router_training", str(given), str(written)],
                              capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise RapportError(f"intent router training failed: {lines[-1] if lines else f'exit {done.returncode}'}",
                               fix="check the examples file (text,label rows, at least two labels)")
        os.replace(written, out)  # a whole file or none, even with two processes starting at once


def main(argv: list[str]) -> int:
    from bot.nlp.intents import IntentClassifier

    given, out = argv
    with np.load(given, allow_pickle=False) as data:
        texts, labels = data["texts"].tolist(), data["labels"].tolist()
        uses_embeddings = bool(data["uses_embeddings"])
        embeddings = data["embeddings"] if uses_embeddings else None
        threshold = float(data["threshold"])
    classifier = IntentClassifier(threshold=threshold, embedder=_NoEmbedder() if uses_embeddings else False)
    try:
        classifier.fit(texts, labels, embeddings=embeddings).export().save(out)
    except RapportError as error:  # the parent shows the last stderr line: make it the message
        print(error.message, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
