"""Semantic memory: what each customer said, searchable by meaning, never across customers.

Writes leave the turn's path: ``remember`` queues the vector and a background task
upserts queued vectors in batches (one Chroma write costs ~10 ms; a batch of fifty,
little more). The SQL turn stays the durable record; ``rapport ingest --reindex``
rebuilds memories from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.store.vectors import VectorCollection

MEMORIES = "memories"  # collection names: memories-<shards>-<shard>
COMPACT_EVERY = 50  # writes per customer between checks of their memory count
DUPLICATE_SIMILARITY = 0.95  # cosine; "where is my order?" twice is one memory mentioned twice
log = logging.getLogger("rapport.memory")


@dataclass(frozen=True, slots=True)
class Memory:
    text: str
    conversation: str
    at: str
    similarity: float


@dataclass(frozen=True, slots=True)
class _Pending:
    memory_id: str
    customer_id: int
    text: str
    embedding: np.ndarray
    conversation: str
    at: datetime


def shard_names(shards: int) -> list[str]:
    return [f"{MEMORIES}-{shards}-{i:03d}" for i in range(shards)]


class CustomerMemory:
    """Memories sharded by customer over several collections.

    A filtered Chroma query costs time in proportion to its collection's size (95 ms at
    100,000 vectors, 2.5 ms at 1,600 on our CI machine), so each customer's memories live
    in the shard ``customer_id % shards`` and a recall searches that shard only — still
    with the customer filter inside the query.
    """

    def __init__(self, shards: list[VectorCollection], max_batch: int = 256, max_per_customer: int = 1000) -> None:
        self._shards = shards
        self._cap = max_per_customer
        self._writes: dict[int, int] = {}
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._max_batch = max_batch
        self._writer: asyncio.Task[None] | None = None

    def remember(
        self, customer_id: int, memory_id: str, text: str, embedding: np.ndarray, conversation: str, at: datetime
    ) -> None:
        """Queue one memory for writing; ``flush`` waits until every queued memory is stored."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="memory-writer")
        self._queue.put_nowait(_Pending(memory_id, customer_id, text, embedding, conversation, at))

    def shard(self, customer_id: int) -> VectorCollection:
        return self._shards[customer_id % len(self._shards)]

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            taken = len(batch)  # the merge below may shrink the batch; the queue counts what was taken
            try:
                ids, counts = await self._merge_near_duplicates(batch)
                by_shard: dict[int, list[int]] = {}
                for index, pending in enumerate(batch):
                    by_shard.setdefault(pending.customer_id % len(self._shards), []).append(index)
                for shard, indexes in by_shard.items():
                    await self._shards[shard].upsert(
                        ids=[ids[i] for i in indexes],
                        embeddings=np.stack([batch[i].embedding for i in indexes]),
                        documents=[batch[i].text for i in indexes],
                        metadatas=[
                            {"customer_id": batch[i].customer_id, "conversation": batch[i].conversation,
                             "at": batch[i].at.isoformat(), "mentions": counts[i]}
                            for i in indexes
                        ],
                    )
                for customer_id in {p.customer_id for p in batch}:
                    self._writes[customer_id] = self._writes.get(customer_id, 0) + 1
                    if self._writes[customer_id] % COMPACT_EVERY == 0:
                        await self.compact(customer_id)
            except Exception:
                # The turns are safe in SQL; a reindex restores these vectors.
                log.exception("could not store %d memories", len(batch))
            finally:
                for _ in range(taken):
                    self._queue.task_done()

    async def _merge_near_duplicates(self, batch: list[_Pending]) -> tuple[list[str], list[int]]:
        """Ids to write: a memory nearly identical to one this customer already has replaces it
        (keeping the newest wording and counting mentions) instead of piling up beside it."""
        ids, counts = [], []
        for pending in batch:
            if pending.memory_id.startswith("ticket:"):  # tickets keep their own identity
                ids.append(pending.memory_id)
                counts.append(1)
                continue
            hits = await self.shard(pending.customer_id).query(
                pending.embedding, 1, where={"customer_id": pending.customer_id}
            )
            if hits and hits[0].similarity >= DUPLICATE_SIMILARITY and not hits[0].id.startswith("ticket:"):
                ids.append(hits[0].id)
                counts.append(int(hits[0].metadata.get("mentions", 1)) + 1)
            else:
                ids.append(pending.memory_id)
                counts.append(1)
        # Two near-duplicates in one batch resolve to the same id: keep the later one only.
        last = {memory_id: i for i, memory_id in enumerate(ids)}
        keep = sorted(last.values())
        batch[:] = [batch[i] for i in keep]
        return [ids[i] for i in keep], [counts[i] for i in keep]

    async def compact(self, customer_id: int) -> int:
        """Keep at most ``max_per_customer`` memories for one customer, dropping the oldest.

        A filtered vector query costs time in proportion to how many vectors match, so an
        unbounded history would make every recall slower. Dropped memories stay in SQL as
        turns (and in exports); only their vectors go.
        """
        shard = self.shard(customer_id)
        found = await shard.metadatas({"customer_id": customer_id})
        extra = len(found) - self._cap
        if extra <= 0:
            return 0
        oldest = sorted(found, key=lambda i: (str(found[i].get("at", "")), int(found[i].get("mentions", 1))))[:extra]
        await shard.delete(ids=oldest)
        return extra

    async def flush(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def recall(self, customer_id: int, embedding: np.ndarray, limit: int) -> list[Memory]:
        """The ``limit`` memories of this customer nearest to ``embedding``.

        The customer filter runs inside the vector store's query, so another customer's
        memory is never a candidate, not even one that is dropped afterwards.
        """
        hits = await self.shard(customer_id).query(embedding, limit, where={"customer_id": customer_id})
        return [
            Memory(h.document, str(h.metadata.get("conversation", "")), str(h.metadata.get("at", "")), h.similarity)
            for h in hits
        ]

    async def forget(self, customer_id: int) -> None:
        await self.flush()
        await self.shard(customer_id).delete(where={"customer_id": customer_id})

    async def reassign(self, old_customer_id: int, new_customer_id: int) -> int:
        """Move one customer's memories to another (after a verified merge), across shards if need be."""
        await self.flush()
        source, target = self.shard(old_customer_id), self.shard(new_customer_id)
        if source is target:
            return await source.reassign({"customer_id": old_customer_id}, {"customer_id": new_customer_id})
        rows = await source.vectors({"customer_id": old_customer_id})
        if rows:
            await target.upsert(
                ids=[r[0] for r in rows],
                embeddings=np.stack([r[1] for r in rows]),
                documents=[r[2] for r in rows],
                metadatas=[{**r[3], "customer_id": new_customer_id} for r in rows],
            )
            await source.delete(ids=[r[0] for r in rows])
        return len(rows)
