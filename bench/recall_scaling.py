"""Benchmark: recall latency and context size as one customer's history grows.

    python bench/recall_scaling.py --sizes 10 100 1000 10000

For each size, one customer gets that many past turns (in SQL) and memories (in their
memory shard), then the engine's recall stage runs for a new question in a new
conversation. Prints JSON: p50/p99 recall milliseconds and the context brief's length.
The brief has a fixed budget, and every look-up is bounded (memories are capped per
customer by ``stores.memories_per_customer``), so both should stay flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.stages.understand import Understanding  # noqa: E402
from bot.store.memory import turn_source, vector_id  # noqa: E402
from bot.store.tables import Customer, Turn  # noqa: E402
from bot.types import ConversationKey, Inbound, Sentiment, SentimentLabel  # noqa: E402

LINES = ["my {p} arrived late", "can I return the {p}?", "the {p} is great", "where is my {p}?", "the {p} broke"]
PRODUCTS = ["desk lamp", "kettle", "tent", "dog bed", "running shoes", "headphones", "coffee beans", "backpack"]


async def grow(runtime: Runtime, customer_id: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    texts = [LINES[i % len(LINES)].format(p=PRODUCTS[(i // len(LINES)) % len(PRODUCTS)]) for i in range(40)]
    base = runtime.embedder.embed(texts)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    turns = [Turn(customer_id=customer_id, conversation=f"bench:W:D{customer_id}:{i // 20}", platform="bench",
                  role="customer", text=texts[i % len(texts)], message_id=f"h{customer_id}-{i}",
                  created_at=start + timedelta(minutes=i)) for i in range(size)]
    async with runtime.database.session() as session:
        session.add_all(turns)
        await session.commit()
    shard = runtime.memory.shard(customer_id)
    for offset in range(0, size, 5000):
        count = min(5000, size - offset)
        vectors = base[[(offset + k) % len(texts) for k in range(count)]]
        vectors = vectors + rng.normal(0, 0.05, size=(count, base.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        # Each vector names its SQL turn, as the memory writer stores them: no text in the vector store.
        await shard.upsert(
            ids=[vector_id(turn_source(turns[offset + k].id or 0)) for k in range(count)], embeddings=vectors,
            documents=None,
            metadatas=[{"customer_id": customer_id, "conversation": "bench", "at": "2025-01-01", "mentions": 1}
                       for _ in range(count)],
        )


async def measure(runtime: Runtime, customer: Customer, repeats: int) -> tuple[list[float], int]:
    text = "where is my desk lamp?"
    understanding = Understanding(text, runtime.embedder.embed([text])[0], Sentiment(SentimentLabel.NEUTRAL, 0, 1),
                                  False, False, False)
    inbound = Inbound("bench", ConversationKey("bench", "W", "new", "t"), f"U{customer.id}", text, "probe")
    timings, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        context = await runtime.engine.recall(inbound, customer, understanding)
        timings.append((time.perf_counter() - started) * 1000)
        size = len(context.brief(runtime.config.conversation.context_budget_chars))
    return timings, size


async def main(args: argparse.Namespace) -> dict[str, object]:
    config = load_config(ROOT / "config.yaml", env={})
    rows = []
    with tempfile.TemporaryDirectory(prefix="rapport-recall-") as folder:
        async with Runtime.open(config, Path(folder)) as runtime:
            await runtime.ingest()
            for index, size in enumerate(args.sizes):
                customer = await runtime.customers.save(Customer(name=f"History {size}", external_id=f"H{size}"))
                assert customer.id is not None
                # Other customers' memories share the shard, as they would in production.
                await grow(runtime, customer.id, size, seed=index)
                # The bulk load bypasses the memory writer; run the compaction it would have run.
                await runtime.memory.compact(customer.id)
                timings, brief = await measure(runtime, customer, args.repeats)
                ordered = sorted(timings)
                rows.append({"turns": size, "recall_p50_ms": round(statistics.median(ordered), 2),
                             "recall_p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
                             "context_chars": brief})
    return {"benchmark": "recall_scaling", "repeats": args.repeats, "results": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=50)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
