"""A directory of already-computed MiniLM embeddings for the training and evaluation scripts.

Embedding ~60,000 sentences takes minutes on two cores (far longer on a busy machine), so the
scripts keep what they computed: each ``*.npz`` file in the directory holds ``texts`` (a unicode
array) and ``v`` (their vectors). Only texts not found there are embedded, and they are written
as a new file. Never used at bot run time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def load(directory: Path) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    for path in sorted(directory.glob("*.npz")):
        with np.load(path, allow_pickle=False) as data:
            vectors.update(zip(data["texts"].tolist(), data["v"]))
    return vectors


def embed(texts: list[str], directory: Path | None, embedder) -> np.ndarray:
    """``embedder.embed(texts)``, reusing and extending the cache in ``directory`` when given."""
    if directory is None:
        return embedder.embed(texts)
    directory.mkdir(parents=True, exist_ok=True)
    known = load(directory)
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    for start in range(0, len(missing), 1000):  # written in pieces, so an interrupted run keeps most
        chunk = missing[start : start + 1000]
        vectors = embedder.embed(chunk).astype(np.float32)
        np.savez(directory / f"{time.time_ns()}.npz", texts=np.array(chunk, dtype=str), v=vectors)
        known.update(zip(chunk, vectors))
    return np.stack([known[t] for t in texts]) if texts else np.zeros((0, embedder.dimension), np.float32)
