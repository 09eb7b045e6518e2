"""The embedding batcher: concurrent callers share one model call, get exactly their own vectors,
and a model error fails only the callers of the batch it happened in."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from bot.embedder import EmbeddingBatcher, OnnxMiniLM, embed_async, load_embedder


class CountingModel:
    """A stand-in model: each text's vector is derived from the text alone; it records every call
    (and the thread it ran on) and fails any call that holds the text "boom"."""

    name = "counting"
    dimension = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        if "boom" in texts:
            raise RuntimeError("model failed")
        return np.array([[len(t), sum(map(ord, t)) % 97, t.count(" "), 1.0] for t in texts], dtype=np.float32)


async def test_concurrent_callers_share_one_model_call_and_get_their_own_vectors() -> None:
    model = CountingModel()
    batcher = EmbeddingBatcher(model, window_ms=20)
    texts = [["where is my order?"], ["hi"], ["two texts", "from one caller"], ["what is your return policy?"]]
    try:
        results = await asyncio.gather(*(embed_async(batcher, t) for t in texts))
    finally:
        batcher.close()
    threads, calls = set(model.threads), list(model.calls)
    assert threads == {"rapport-embed_0"}  # off the event loop, on the batcher's own thread
    assert len(calls) == 1 and sorted(calls[0]) == sorted(t for group in texts for t in group)
    for group, vectors in zip(texts, results, strict=True):
        np.testing.assert_array_equal(vectors, model.embed(group))


async def test_a_model_error_fails_only_the_callers_of_that_batch() -> None:
    model = CountingModel()
    batcher = EmbeddingBatcher(model, window_ms=20)
    try:
        first = await asyncio.gather(embed_async(batcher, ["fine"]), embed_async(batcher, ["boom"]),
                                     return_exceptions=True)
        later = await embed_async(batcher, ["still works"])
    finally:
        batcher.close()
    assert all(isinstance(r, RuntimeError) for r in first)  # both were in the failed call
    np.testing.assert_array_equal(later, model.embed(["still works"]))
    assert model.calls[:2] == [["fine", "boom"], ["still works"]]


async def test_requests_beyond_the_batch_size_wait_for_the_next_call() -> None:
    model = CountingModel()
    batcher = EmbeddingBatcher(model, window_ms=20, max_texts=3)
    try:
        results = await asyncio.gather(*(embed_async(batcher, [f"message {n}"]) for n in range(7)))
    finally:
        batcher.close()
    assert [len(c) for c in model.calls] == [3, 3, 1]
    assert [float(r[0][0]) for r in results] == [len(f"message {n}") for n in range(7)]


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    model = CountingModel()
    batcher = EmbeddingBatcher(model, window_ms=20)
    try:
        doomed = asyncio.ensure_future(embed_async(batcher, ["never mind"]))
        kept = asyncio.ensure_future(embed_async(batcher, ["keep me"]))
        await asyncio.sleep(0)
        doomed.cancel()
        vectors = await kept
    finally:
        batcher.close()
    np.testing.assert_array_equal(vectors, model.embed(["keep me"]))
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def test_the_real_model_batched_gives_the_vectors_it_gives_one_by_one() -> None:
    model = load_embedder()
    texts = ["how long does shipping take?", "hi", "my refund hasn't arrived yet and I was charged twice",
             "¿aceptan paypal?", "what is your return policy for a desk lamp that arrived damaged?"]
    alone = np.stack([model.embed([t])[0] for t in texts])
    batcher = EmbeddingBatcher(model, window_ms=20)
    try:
        results = await asyncio.gather(*(embed_async(batcher, [t]) for t in texts))
    finally:
        batcher.close()
    assert batcher.calls == 1
    np.testing.assert_allclose(np.concatenate(results), alone, atol=1e-5)


def test_model_runs_hold_at_most_16_texts_and_256_tokens_and_give_the_vectors_of_one_by_one() -> None:
    model = load_embedder()
    assert isinstance(model, OnnxMiniLM)
    lengths = [3, 250, 12, 12, 40, 9, 300, 64, 64, 64, 64, 5] + [10] * 20
    runs = model._runs(lengths)  # noqa: SLF001 - the run plan is what bounds the activations
    assert sorted(i for run in runs for i in run) == list(range(len(lengths)))
    for run in runs:
        assert len(run) <= 16 and (len(run) == 1 or len(run) * max(lengths[i] for i in run) <= 256), run
    assert [len(run) for run in runs if max(lengths[i] for i in run) <= 12][0] == 16  # short messages share a run
    assert [1] in runs and [6] in runs  # 250 and 300 tokens: each alone

    words = "my desk lamp arrived damaged and the refund for the second order has not come".split()
    texts = [" ".join(words[: 1 + n % len(words)] * (1 + n // 5)) for n in range(40)]  # 2 to ~200 tokens
    alone = np.stack([model.embed([t])[0] for t in texts])
    np.testing.assert_allclose(model.embed(texts), alone, atol=1e-5)
