"""The vector-store interface, the same tests on embedded Chroma and on a real Chroma server.

The server is the ``chroma run`` that the ``chromadb`` package ships (a Rust binary behind
``chromadb.cli.cli``), started once per session on a free loopback port in a temporary directory.
Under CI (``CI=true``) a server that cannot start fails these tests instead of skipping them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import Config
from bot.errors import EmbedderMismatchError, StoreError
from bot.knowledge.ingest import PAGES
from bot.runtime import Runtime
from bot.store.vectors import VectorCollection, VectorStore
from tests.recording import RecordingAdapter

IN_CI = os.environ.get("CI", "").lower() == "true"
SERVER_START_SECONDS = 30.0
DIM = 8
EMBEDDER = "test-embedder"
RACE_DIM = 384
RACE_COLLECTIONS = 40

# `python -c` rather than the `chroma` console script: the script's location depends on how the venv
# was made, the module does not. The Rust CLI reads argv[0] as its own name.
CHROMA_RUN = "import sys; sys.argv[0] = 'chroma'; from chromadb.cli.cli import app; app()"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[str]:
    """The URL of a real Chroma server on loopback, for the whole session.

    Its files live in a directory of its own, not under pytest's basetemp: a pytest session started
    meanwhile (another terminal, another engineer) prunes old basetemps, and a server whose segment files
    vanish answers "Error creating hnsw segment reader: Nothing found on disk".
    """
    path = Path(tempfile.mkdtemp(prefix="rapport-chroma-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", CHROMA_RUN, "run", "--path", str(path / "data"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not heartbeat(url):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                problem = (f"chroma run did not answer on {url} within {SERVER_START_SECONDS:.0f}s "
                           f"(exit code {process.poll()}): {(path / 'server.log').read_text(errors='replace')[-2000:]}")
                if IN_CI:
                    pytest.fail(problem)
                pytest.skip(problem)
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def chroma_never_embeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's default embedding function downloads a model: any call to it fails the test."""
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    # Chroma checks an embedding function's signature before accepting it: keep (self, input).
    def refuse(self: Any, input: Any) -> Any:
        raise AssertionError("Chroma's default embedding function ran")

    def refuse_download(self: Any) -> None:
        raise AssertionError("Chroma's default embedding model was to be downloaded")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "_download_model_if_not_exists", refuse_download)


@pytest.fixture(params=["embedded", "server"])
def chroma_url(request: pytest.FixtureRequest) -> str:
    """'' for the embedded store (PersistentClient), else the running server's URL (HttpClient)."""
    if request.param == "embedded":
        return ""
    return str(request.getfixturevalue("chroma_server"))


@pytest.fixture
def store(chroma_url: str, tmp_path: Path) -> VectorStore:
    return VectorStore.open(chroma_url, tmp_path, EMBEDDER, DIM)


@pytest.fixture
async def collection(store: VectorStore) -> AsyncIterator[VectorCollection]:
    # The server outlives each test: a unique name keeps tests apart, the drop keeps it small.
    name = f"t-{uuid.uuid4().hex[:12]}"
    yield await store.collection(name)
    await store.drop(name)


def raw_client(chroma_url: str, data_dir: Path) -> Any:
    """A second, plain chromadb client on the same store: reads what it holds, bypassing our interface."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if chroma_url:
        port = int(chroma_url.rsplit(":", 1)[1])
        return chromadb.HttpClient(host="127.0.0.1", port=port, settings=settings)
    return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=settings)


def unit(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    return array / np.linalg.norm(array)


def basis(index: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vector = np.zeros(DIM, dtype=np.float32)
    vector[index] = 1.0
    return unit(list(vector + noise * rng.standard_normal(DIM).astype(np.float32)))


async def test_customer_filter_is_applied_inside_the_query(collection: VectorCollection) -> None:
    # Customer 2's fifty vectors sit right on the query; customer 1's three are far from it. A filter applied
    # after ranking would find none of customer 1's in the top three.
    near = [basis(0, 0.05, seed) for seed in range(50)]
    far = [basis(3, 0.05, 100 + seed) for seed in range(3)]
    await collection.upsert([f"c2-{n}" for n in range(50)], np.stack(near), None,
                            [{"customer_id": 2, "n": n} for n in range(50)])
    await collection.upsert(["c1-a", "c1-b", "c1-c"], np.stack(far), None, [{"customer_id": 1, "n": n} for n in range(3)])

    hits = await collection.query(basis(0), limit=3, where={"customer_id": 1})
    assert sorted(h.id for h in hits) == ["c1-a", "c1-b", "c1-c"]
    assert all(h.metadata["customer_id"] == 1 for h in hits)
    assert all(h.similarity < 0.5 for h in hits)  # far from the query, found anyway: filtered before ranking

    unfiltered = await collection.query(basis(0), limit=3)
    assert all(h.id.startswith("c2-") and h.similarity > 0.9 for h in unfiltered)
    assert await collection.count() == 53


async def test_query_ranks_by_cosine_and_returns_stored_documents(collection: VectorCollection) -> None:
    await collection.upsert(["a", "b"], np.stack([basis(1), unit([1, 1, 0, 0, 0, 0, 0, 0])]),
                            ["page about returns", "page about shipping"], [{"kind": "page"}, {"kind": "page"}])
    hits = await collection.query(basis(1), limit=2)
    assert [h.id for h in hits] == ["a", "b"]
    assert hits[0].document == "page about returns"
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert hits[1].similarity == pytest.approx(2 ** -0.5, abs=1e-5)


async def test_delete_by_filter_removes_only_that_customer(collection: VectorCollection) -> None:
    await collection.upsert([f"v{n}" for n in range(6)], np.stack([basis(n % DIM) for n in range(6)]), None,
                            [{"customer_id": 1 if n < 4 else 2} for n in range(6)])
    await collection.delete(where={"customer_id": 1})
    assert await collection.metadatas({"customer_id": 1}) == {}
    assert set(await collection.metadatas({"customer_id": 2})) == {"v4", "v5"}
    assert await collection.count() == 2
    assert await collection.query(basis(0), limit=5, where={"customer_id": 1}) == []


async def test_memories_are_stored_without_text(collection: VectorCollection, chroma_url: str, tmp_path: Path) -> None:
    await collection.upsert(["turn-1"], basis(2).reshape(1, -1), None, [{"customer_id": 7, "at": "2024-05-01"}])
    held = raw_client(chroma_url, tmp_path).get_collection(collection.name, embedding_function=None).get(
        include=["documents", "metadatas"])
    assert held["ids"] == ["turn-1"]
    assert held["documents"] == [None]  # nothing of what the customer wrote reaches the vector store
    assert held["metadatas"] == [{"customer_id": 7, "at": "2024-05-01"}]
    assert [(i, d) for i, d, _ in await collection.documents()] == [("turn-1", "")]


async def test_reassign_and_vectors_round_trip(collection: VectorCollection) -> None:
    await collection.upsert(["m1", "m2"], np.stack([basis(4), basis(5)]), None, [{"customer_id": 1}] * 2)
    assert await collection.reassign({"customer_id": 1}, {"customer_id": 9}) == 2
    rows = await collection.vectors({"customer_id": 9})
    assert sorted(r[0] for r in rows) == ["m1", "m2"]
    by_id = {r[0]: r[1] for r in rows}
    np.testing.assert_allclose(by_id["m1"], basis(4), atol=1e-6)
    assert await collection.metadatas({"customer_id": 1}) == {}


async def test_reads_racing_a_write_on_a_fresh_collection_all_succeed(chroma_url: str, tmp_path: Path) -> None:
    """One writer and two readers on each fresh collection (MiniLM-sized vectors): Chroma 1.5 fails some such
    reads with "Nothing found on disk" (4 of 800 queries on loopback); the interface retries, so none escapes."""
    store = VectorStore.open(chroma_url, tmp_path, EMBEDDER, RACE_DIM)
    rng = np.random.default_rng(7)
    names = [f"t-race-{uuid.uuid4().hex[:8]}" for _ in range(RACE_COLLECTIONS)]
    try:
        for name in names:
            collection = await store.collection(name)

            async def write() -> None:
                for k in range(5):
                    await collection.upsert([f"w{k}"], rng.standard_normal((1, RACE_DIM)).astype(np.float32), None,
                                            [{"customer_id": 1}])

            async def read() -> list[int]:
                return [len(await collection.query(rng.standard_normal(RACE_DIM).astype(np.float32), 5,
                                                   where={"customer_id": 1})) for _ in range(10)]

            _, first, second = await asyncio.gather(write(), read(), read())
            assert all(0 <= n <= 5 for n in first + second)
            assert len(await collection.query(rng.standard_normal(RACE_DIM).astype(np.float32), 5,
                                              where={"customer_id": 1})) == 5
    finally:
        for name in names:
            await store.drop(name)


async def test_only_the_transient_segment_error_is_retried(store: VectorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from chromadb.errors import InternalError

    import bot.store.vectors as vectors

    monkeypatch.setattr(vectors, "READ_RETRY_SECONDS", 0.001)
    name = f"t-{uuid.uuid4().hex[:12]}"
    real = await store.collection(name)
    await real.upsert(["a"], basis(1).reshape(1, -1), None, [{"customer_id": 1}])
    failures = [InternalError("Error executing plan: Internal error: Error creating hnsw segment reader: "
                              "Nothing found on disk")] * 2

    class FlakyOnce:
        """The real collection, whose first two queries fail the way Chroma's race does."""
        name = real.name

        def query(self, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return real._collection.query(**kwargs)

        def get(self, **kwargs: Any) -> Any:
            raise InternalError("Error executing plan: something else")

    try:
        flaky = VectorCollection(FlakyOnce())
        assert [h.id for h in await flaky.query(basis(1), 3, where={"customer_id": 1})] == ["a"]
        assert failures == []
        with pytest.raises(InternalError, match="something else"):
            await flaky.metadatas({"customer_id": 1})
    finally:
        await store.drop(name)


async def test_a_collection_built_by_another_embedder_is_refused(store: VectorStore, chroma_url: str,
                                                                tmp_path: Path) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    built = await store.collection(name)
    await built.upsert(["x"], basis(0).reshape(1, -1), None, [{"customer_id": 1}])
    try:
        other = VectorStore.open(chroma_url, tmp_path, "another-embedder", DIM)
        with pytest.raises(EmbedderMismatchError) as refused:
            await other.collection(name)
        assert "test-embedder" in str(refused.value) and "rapport ingest --reindex" in str(refused.value)
        assert await built.count() == 1  # refused, not rebuilt
        assert name in await other.names()
    finally:
        await store.drop(name)
    assert name not in await store.names()


async def test_an_unreachable_server_is_a_store_error_that_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as failed:
        store = VectorStore.open(f"http://127.0.0.1:{free_port()}", tmp_path, EMBEDDER, DIM)
        await store.collection("pages")
    assert "stores.chroma_url" in str(failed.value)


async def test_runtime_on_the_server_answers_and_forget_removes_the_vectors(
    chroma_server: str, repo_config: Config, tmp_path: Path
) -> None:
    config = repo_config.model_copy(update={"stores": repo_config.stores.model_copy(update={"chroma_url": chroma_server})})
    data_dir = tmp_path / "data"
    async with Runtime.open(config, data_dir) as runtime:
        report = await runtime.ingest()
        assert not report.problems, report.problems
        adapter = RecordingAdapter(runtime.engine.handle)
        reply = await adapter.say("how long does shipping take?", user="U-srv", name="Sam Server")
        assert reply is not None and "3–5 business days" in reply.text
        assert [s.path for s in reply.sources] == ["knowledge/pages/shipping.md"]

        await adapter.say("my kayak paddle arrived cracked", user="U-srv", name="Sam Server")
        await runtime.memory.flush()
        sam = await runtime.customers.identify(adapter.inbound("x", user="U-srv", name="Sam Server"))
        assert sam.id is not None
        shard = runtime.memory.shard(sam.id).name
        server = raw_client(chroma_server, data_dir)
        before = server.get_collection(shard, embedding_function=None).get(where={"customer_id": sam.id},
                                                                            include=["documents"])
        assert before["ids"] and before["documents"] == [None] * len(before["ids"])

        ask = await adapter.say("/forget", user="U-srv", name="Sam Server")
        assert ask is not None and "permanently deletes" in ask.text
        done = await adapter.say("/forget confirm", user="U-srv", name="Sam Server")
        assert done is not None and "has been deleted" in done.text
        await runtime.memory.flush()

        after = server.get_collection(shard, embedding_function=None).get(where={"customer_id": sam.id})
        assert after["ids"] == []
        assert server.get_collection(PAGES, embedding_function=None).count() > 0  # knowledge stays
    # Everything vector went to the server: nothing Chroma was written to the local data directory.
    assert not (data_dir / "chroma").exists()
