"""The prepared ONNX graph: built once from the shipped model into a cache folder keyed by the
model's hash and the onnxruntime version, read back with optimizations off, and giving the same
vectors as the shipped file optimized in-process; a cache that cannot be written falls back."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from bot import embedder
from bot.embedder import OnnxMiniLM, _shipped_onnx, prepared_model, prepared_model_path

SENTENCES = [
    "my desk lamp arrived damaged", "where is my order?", "how long does shipping take to Spain?",
    "I was charged twice for the same headphones", "thanks!", "¿cuánto tarda el envío?",
    "can I change my delivery address after the parcel left the warehouse", "hi",
]


def test_the_cache_key_follows_the_model_bytes_and_the_runtime(tmp_path: Path) -> None:
    one, other = tmp_path / "a.onnx", tmp_path / "b.onnx"
    one.write_bytes(b"model one")
    other.write_bytes(b"model two")
    first, second = prepared_model_path(one, tmp_path / "cache"), prepared_model_path(other, tmp_path / "cache")
    assert first != second
    assert first.parent.name.endswith(f"-ort{ort.__version__}")
    one.write_bytes(b"model two")  # same bytes, same key: the name is not what counts
    assert prepared_model_path(one, tmp_path / "cache").parent.name.split("-")[1] == second.parent.name.split("-")[1]


def test_prepared_once_then_reused_and_same_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    builds: list[Path] = []
    real_build = embedder._build_in_child

    def counted(source: Path, target: Path) -> None:
        builds.append(target)
        real_build(source, target)

    monkeypatch.setattr(embedder, "_build_in_child", counted)
    with ThreadPoolExecutor(2) as pool:  # two first loads at once in one process: one build
        paths = list(pool.map(lambda _: prepared_model(cache_dir=cache), range(2)))
    path = paths[0]
    assert paths[1] == path and len(builds) == 1
    assert path == prepared_model_path(_shipped_onnx(), cache) and path.exists()
    assert (path.parent / "model.onnx.data").stat().st_size > 50_000_000  # the folded float32 weights
    assert [p.name for p in cache.iterdir()] == [path.parent.name]  # no staging folder left behind
    built = path.stat().st_mtime_ns
    assert prepared_model(cache_dir=cache) == path and path.stat().st_mtime_ns == built  # not rebuilt

    prepared = OnnxMiniLM(threads=1, cache_dir=cache)
    assert prepared.prepared == path
    shipped = OnnxMiniLM(threads=1, prepared=False)
    assert shipped.prepared is None
    cosine = (prepared.embed(SENTENCES) * shipped.embed(SENTENCES)).sum(axis=1)
    assert cosine.min() > 0.999, cosine
    # Batches of any size give each text the vector it gets alone.
    alone = np.vstack([prepared.embed([s]) for s in SENTENCES])
    assert ((alone * prepared.embed(SENTENCES)).sum(axis=1) > 0.999).all()


def test_a_cache_that_cannot_be_written_falls_back_to_the_shipped_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="rapport.embedder"):
        model = OnnxMiniLM(threads=1, cache_dir=blocked / "rapport")
    assert model.prepared is None
    assert "not prepared" in caplog.text and "RAPPORT_MODEL_CACHE" in caplog.text
    vector = model.embed(["where is my order?"])
    assert vector.shape == (1, 384) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_the_environment_names_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.embedder import model_cache_dir

    monkeypatch.setenv("RAPPORT_MODEL_CACHE", str(tmp_path / "models"))
    assert model_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("RAPPORT_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_dir() == tmp_path / "xdg" / "rapport"
