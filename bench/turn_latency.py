"""Benchmark: engine time per turn with many customers and memories (offline composer).

    python bench/turn_latency.py --customers 10000 --memories 100000 --turns 500

Loads N synthetic customers (each with a console identity) and M semantic memories
spread over them, then replays turns from random customers through ``Engine.handle``
and prints one JSON object: p50/p99 engine milliseconds per turn, turns per second,
peak RSS and start-up time. Memory vectors are real MiniLM embeddings of a pool of
synthetic support sentences, jittered so that no two are identical: embedding
100,000 distinct sentences would measure the model, not the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
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


async def replay(runtime: Runtime, customers: int, turns: int, seed: int) -> list[float]:
    rng = random.Random(seed + 1)
    timings = []
    for n in range(turns):
        user = rng.randint(1, customers)
        inbound = Inbound(
            platform="bench", conversation=ConversationKey("bench", "W", f"D{user}"), user_id=f"U{user}",
            text=rng.choice(QUESTIONS), message_id=f"turn-{seed}-{n}",
        )
        started = time.perf_counter()
        await runtime.engine.handle(inbound)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def main(args: argparse.Namespace) -> dict[str, object]:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="rapport-bench-"))
    config = load_config(ROOT / "config.yaml", env={})
    opened = time.perf_counter()
    async with Runtime.open(config, data_dir) as runtime:
        startup = time.perf_counter() - opened
        if await runtime.knowledge.is_empty():
            await runtime.ingest()
        load_seconds = await load(runtime, args.customers, args.memories, args.seed)
        await replay(runtime, args.customers, min(20, args.turns), args.seed + 99)  # warm caches
        wall = time.perf_counter()
        timings = await replay(runtime, args.customers, args.turns, args.seed)
        wall = time.perf_counter() - wall
    ordered = sorted(timings)
    return {
        "benchmark": "turn_latency",
        "customers": args.customers,
        "memories": args.memories,
        "turns": args.turns,
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "turns_per_second": round(args.turns / wall, 1),
        "startup_seconds": round(startup, 2),
        "load_seconds": round(load_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "composer": "offline",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", help="where to build the stores (default: a new temp folder)")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
