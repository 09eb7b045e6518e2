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

MEMORIES = "memories"
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


class CustomerMemory:
    def __init__(self, collection: VectorCollection, max_batch: int = 256) -> None:
        self._collection = collection
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

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            taken = len(batch)  # the merge below may shrink the batch; the queue counts what was taken
            try:
                ids, counts = await self._merge_near_duplicates(batch)
                await self._collection.upsert(
                    ids=ids,
                    embeddings=np.stack([p.embedding for p in batch]),
                    documents=[p.text for p in batch],
                    metadatas=[
                        {"customer_id": p.customer_id, "conversation": p.conversation, "at": p.at.isoformat(),
                         "mentions": count}
                        for p, count in zip(batch, counts, strict=True)
                    ],
                )
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
            hits = await self._collection.query(pending.embedding, 1, where={"customer_id": pending.customer_id})
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
        hits = await self._collection.query(embedding, limit, where={"customer_id": customer_id})
        return [
            Memory(h.document, str(h.metadata.get("conversation", "")), str(h.metadata.get("at", "")), h.similarity)
            for h in hits
        ]

    async def forget(self, customer_id: int) -> None:
        await self.flush()
        await self._collection.delete(where={"customer_id": customer_id})
