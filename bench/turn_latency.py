"""Benchmark: engine time per turn with many customers and memories (offline composer).

    python bench/turn_latency.py --customers 10000 --memories 100000 --turns 500
    python bench/turn_latency.py --concurrency 500 --turns 5000             # 500 conversations at once
    python bench/turn_latency.py --concurrency 500 --rate 150 --turns 3000  # messages arriving at 150/s
    python bench/turn_latency.py --chroma-url http://127.0.0.1:8000         # vectors in a Chroma server

Loads N synthetic customers (each with a console identity) and M semantic memories
spread over them, then replays turns from random customers through ``Engine.handle``
and prints one JSON object: p50/p99 milliseconds per turn, turns per second, peak RSS
(of the whole run, and sampled while the turns ran) and start-up time.

One turn at a time by default. ``--concurrency N`` runs N conversations side by side: without
``--rate`` each sends its next message as soon as its last is answered (the most the engine can
do; a turn's time then includes its wait behind the other N-1); with ``--rate R`` messages
arrive at R a second (Poisson) spread over the N conversations, and a turn's time runs from its
arrival to its reply. Memory vectors are real MiniLM embeddings of a pool of
synthetic support sentences, jittered so that no two are identical: embedding
100,000 distinct sentences would measure the model, not the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.embedder import EmbeddingBatcher  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.store.memory import turn_source, vector_id  # noqa: E402
from bot.store.tables import Customer, Identity, Turn  # noqa: E402
from bot.types import ConversationKey, Inbound  # noqa: E402

PRODUCTS = ["desk lamp", "trail shoes", "dog bed", "coffee beans", "tent", "headphones", "water filter", "office chair"]
PROBLEMS = ["arrived damaged", "has not arrived", "is the wrong size", "stopped working", "was charged twice",
            "is missing a part", "came without instructions", "is too loud"]
QUESTIONS = [
    "how long does shipping take?", "what is your return policy?", "where is my order?",
    "can I change my delivery address?", "do you have a dog bed?", "how do I reset my password?",
    "my refund hasn't arrived yet", "hi", "thanks!", "is there a warranty on lamps?",
    "can I pay with a gift card?", "what's the weather on Mars?",
]


RUN = time.time_ns()  # message ids unique per run: a reused inbox would take repeats for redeliveries
FAILURES: dict[str, int] = {}  # turns that raised, by exception type (concurrent runs)


def memory_pool(size: int, rng: random.Random) -> list[str]:
    return [f"My {rng.choice(PRODUCTS)} from order {rng.randint(1000, 9999)} {rng.choice(PROBLEMS)}" for _ in range(size)]


async def load(runtime: Runtime, customers: int, memories: int, seed: int) -> float:
    started = time.perf_counter()
    rng = random.Random(seed)
    async with runtime.database.session() as session:
        session.add_all(Customer(id=i, external_id=f"C{i:06d}", name=f"Customer {i}") for i in range(1, customers + 1))
        await session.flush()
        session.add_all(
            Identity(customer_id=i, platform="bench", workspace="W", platform_user_id=f"U{i}") for i in range(1, customers + 1)
        )
        await session.commit()
    pool = memory_pool(min(2000, max(1, memories)), rng)
    pool_vectors = runtime.embedder.embed(pool)
    np_rng = np.random.default_rng(seed)
    batch = 5000
    for start in range(0, memories, batch):
        count = min(batch, memories - start)
        picks = np_rng.integers(0, len(pool), size=count)
        vectors = pool_vectors[picks] + np_rng.normal(0, 0.02, size=(count, pool_vectors.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        owners = np_rng.integers(1, customers + 1, size=count)
        # Memories name their SQL turn (the vector store keeps no text): the turns first, in bulk.
        turns = [Turn(customer_id=int(owners[k]), conversation="bench", platform="bench", role="customer",
                      text=pool[picks[k]], action="answer") for k in range(count)]
        async with runtime.database.session() as session:
            session.add_all(turns)
            await session.commit()
        # Bulk load straight into each owner's shard; the engine's own writes go through the queue.
        for shard in {runtime.memory.shard(int(o)) for o in owners}:
            mine = [k for k in range(count) if runtime.memory.shard(int(owners[k])) is shard]
            await shard.upsert(
                ids=[vector_id(turn_source(turns[k].id or 0)) for k in mine],
                embeddings=vectors[mine],
                documents=None,
                metadatas=[{"customer_id": int(owners[k]), "conversation": "bench",
                            "at": "2026-01-01T00:00:00+00:00", "mentions": 1} for k in mine],
            )
    return time.perf_counter() - started


def bench_inbound(user: int, text: str, message_id: str) -> Inbound:
    return Inbound(platform="bench", conversation=ConversationKey("bench", "W", f"D{user}"), user_id=f"U{user}",
                   text=text, message_id=message_id)


async def replay_concurrent(runtime: Runtime, customers: int, turns: int, concurrency: int, rate: float | None,
                            seed: int) -> list[float]:
    """``turns`` messages over ``concurrency`` conversations of distinct customers (see the module doc)."""
    rng = random.Random(seed + 2)
    users = rng.sample(range(1, customers + 1), min(concurrency, customers))
    timings: list[float] = []

    async def one_turn(user: int, n: int, since: float) -> None:
        try:
            await runtime.engine.handle(bench_inbound(user, rng.choice(QUESTIONS), f"turn-{RUN}-{seed}-c{n}"))
        except Exception as error:  # counted and reported; the other conversations go on
            FAILURES[type(error).__name__] = FAILURES.get(type(error).__name__, 0) + 1
            return
        timings.append((time.perf_counter() - since) * 1000)

    if rate is None:  # closed loop: every conversation keeps one message in flight
        async def conversation(index: int, user: int) -> None:
            for n in range(index, turns, len(users)):
                await one_turn(user, n, time.perf_counter())

        await asyncio.gather(*(conversation(i, u) for i, u in enumerate(users)))
        return timings
    # Open loop: arrivals on a schedule, whatever the engine's pace; a busy conversation queues them.
    started, at, tasks = time.perf_counter(), 0.0, []
    for n in range(turns):
        at += rng.expovariate(rate)
        delay = started + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one_turn(users[n % len(users)], n, started + at)))
    await asyncio.gather(*tasks)
    return timings


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would keep the peak of a parent that forked us)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


class RssSampler:
    """Peak resident memory while the turns run (ru_maxrss also counts the bulk load before them),
    and the most units of work seen queued for a database place."""

    def __init__(self, database: object = None, every: float = 0.05) -> None:
        self.peak_mb, self._every, self._task = 0.0, every, None
        self.database, self.peak_waiting = database, 0

    def sample(self) -> None:
        with open("/proc/self/statm") as statm:
            self.peak_mb = max(self.peak_mb, int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)
        self.peak_waiting = max(self.peak_waiting, getattr(self.database, "waiting", 0))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._every)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        self.sample()
        assert self._task is not None
        self._task.cancel()


async def replay(runtime: Runtime, customers: int, turns: int, seed: int) -> list[float]:
    rng = random.Random(seed + 1)
    timings = []
    for n in range(turns):
        user = rng.randint(1, customers)
        inbound = bench_inbound(user, rng.choice(QUESTIONS), f"turn-{RUN}-{seed}-{n}")
        started = time.perf_counter()
        await runtime.engine.handle(inbound)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def main(args: argparse.Namespace) -> dict[str, object]:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="rapport-bench-"))
    config = load_config(ROOT / "config.yaml", env={"CHROMA_URL": args.chroma_url} if args.chroma_url else {})
    opened = time.perf_counter()
    async with Runtime.open(config, data_dir) as runtime:
        startup = time.perf_counter() - opened
        if await runtime.knowledge.is_empty():
            await runtime.ingest()
        # --reuse: a fresh process on stores an earlier run filled, as a server meets them (no bulk load in its RSS).
        load_seconds = 0.0 if args.reuse else await load(runtime, args.customers, args.memories, args.seed)
        await replay(runtime, args.customers, min(20, args.turns), args.seed + 99)  # warm caches
        calls_before = runtime.embedder.calls if isinstance(runtime.embedder, EmbeddingBatcher) else 0
        wall = time.perf_counter()
        with RssSampler(runtime.database) as rss:
            if args.concurrency > 1:
                timings = await replay_concurrent(runtime, args.customers, args.turns, args.concurrency, args.rate,
                                                  args.seed)
            else:
                timings = await replay(runtime, args.customers, args.turns, args.seed)
        wall = time.perf_counter() - wall
        model_calls = runtime.embedder.calls - calls_before if isinstance(runtime.embedder, EmbeddingBatcher) else None
    ordered = sorted(timings)
    return {
        "benchmark": "turn_latency",
        "customers": args.customers,
        "memories": args.memories,
        "turns": args.turns,
        "concurrency": args.concurrency,
        "arrival_rate": args.rate,
        "vectors": "chroma server" if args.chroma_url else "embedded chroma",
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "turns_per_second": round(len(timings) / wall, 1),
        "startup_seconds": round(startup, 2),
        "load_seconds": round(load_seconds, 1),
        # The kernel's high-water mark trails its RSS counters by a few pages, so a sample taken during
        # the turns can read a hair above it; the run's peak is at least what was sampled.
        "peak_rss_mb": round(max(peak_rss_mb(), rss.peak_mb), 1),
        "peak_rss_during_turns_mb": round(rss.peak_mb, 1),
        "embedding_model_calls": model_calls,  # fewer than turns: messages shared calls
        "failed_turns": sum(FAILURES.values()),
        "failures": FAILURES,
        "most_queued_for_the_database": rss.peak_waiting,
        "database": "postgresql" if runtime.database.url.startswith("postgresql") else "sqlite",
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine while it ran
        "composer": "offline",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=1, help="conversations side by side (default: one turn at a time)")
    parser.add_argument("--rate", type=float, help="with --concurrency: messages arrive at this many a second")
    parser.add_argument("--chroma-url", help="vectors in this Chroma server (default: embedded in the data dir)")
    parser.add_argument("--reuse", action="store_true",
                        help="the data dir (and Chroma server) hold an earlier run's customers and memories: load nothing")
    parser.add_argument("--data-dir", help="where to build the stores (default: a new temp folder)")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
